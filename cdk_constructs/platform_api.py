"""The public REST API: every route of config.topology.ROUTES, through a VPC Link to the services' NLB listeners."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.api_models import MODELS
from cdk_constructs.internal_load_balancer import InternalLoadBalancer
from cdk_constructs.retention import removal_policy, retention_days
from config.environment import ApiConfig, RemovalMode
from config.topology import LISTENER_PORTS, ROUTES, Access
from policies.nag import acknowledge

STAGE_NAME = "v1"


class PlatformApi(Construct):
    """Regional REST API with a Cognito authorizer on every route but the public ones, stage throttling, a usage
    plan and API key, request validation, JSON access logs and X-Ray tracing."""

    def __init__(self, scope: Construct, construct_id: str, *, config: ApiConfig, user_pool: cognito.IUserPool,
                 load_balancer: InternalLoadBalancer, logs_key: kms.IKey, log_retention_days: int,
                 removal: RemovalMode) -> None:
        super().__init__(scope, construct_id)
        self.access_log_group = logs.LogGroup(
            self, "AccessLogGroup", retention=retention_days(log_retention_days), encryption_key=logs_key,
            removal_policy=removal_policy(removal))
        self.api = apigw.RestApi(
            self, "RestApi",
            # API Gateway metrics are keyed by API name: one per environment, so environments can share an account.
            rest_api_name=f"{cdk.Stack.of(self).stack_name}-api",
            description="E-commerce platform public API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=config.throttle_rate_limit,
                throttling_burst_limit=config.throttle_burst_limit,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.INFO,
                data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True),
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(config.cors_allowed_origins),
                allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Api-Key"],
                max_age=cdk.Duration.hours(1),
            ),
        )
        acknowledge(self.api.node.find_child("CloudWatchRole"),
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]",
                    "API Gateway's account-level logging role must carry AmazonAPIGatewayPushToCloudWatchLogs; "
                    "it is assumable only by apigateway.amazonaws.com and writes only this account's API logs.")
        stage = self.api.deployment_stage
        for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(stage, f"{pack}-APIGWCacheEnabledAndEncrypted",
                        "Responses are per-user (orders, profiles, stock) or must be fresh (catalog prices); the "
                        "stage caches nothing, so there is no cache to encrypt.")
            acknowledge(stage, f"{pack}-APIGWSSLEnabled",
                        "Integrations reach the internal NLB through the VPC Link over AWS PrivateLink, where a "
                        "backend client certificate is not used; clients reach the stage over HTTPS only.")
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[user_pool])
        self.validator = self.api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True)
        self.vpc_link = apigw.VpcLink(self, "VpcLink", targets=[load_balancer.load_balancer],
                                      description="API Gateway to the services' internal NLB")
        dns = load_balancer.load_balancer.load_balancer_dns_name
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for route in ROUTES:
            resource = self.api.root.resource_for_path(route.path)
            params = re.findall(r"{(\w+)}", route.path)
            integration = apigw.Integration(
                type=apigw.IntegrationType.HTTP_PROXY,
                integration_http_method=route.method,
                uri=f"http://{dns}:{LISTENER_PORTS[route.service]}{route.path}",
                options=apigw.IntegrationOptions(
                    connection_type=apigw.ConnectionType.VPC_LINK,
                    vpc_link=self.vpc_link,
                    timeout=cdk.Duration.seconds(29),
                    request_parameters={
                        **{f"integration.request.path.{p}": f"method.request.path.{p}" for p in params},
                        # The request id becomes the correlation id every event of this request carries.
                        "integration.request.header.X-Correlation-Id": "context.requestId",
                    },
                ),
            )
            model = MODELS.get((route.method, route.path))
            request_models = None
            if model:
                name, schema = model
                request_models = {"application/json": self.api.add_model(
                    f"{name}Model", content_type="application/json", model_name=name,
                    schema=apigw.JsonSchema(**_schema(schema)))}
            public = route.access == Access.PUBLIC
            method = resource.add_method(
                route.method, integration,
                authorizer=None if public else self.authorizer,
                authorization_type=apigw.AuthorizationType.NONE if public else apigw.AuthorizationType.COGNITO,
                api_key_required=True,
                request_validator=self.validator,
                request_parameters={f"method.request.path.{p}": True for p in params} or None,
                request_models=request_models,
            )
            self.methods[(route.method, route.path)] = method
            if public:
                why = ("it is a public catalog read that anonymous shoppers make"
                       if route.method == "GET" else "it is how an anonymous visitor obtains a token in the first "
                                                     "place (sign-up or sign-in), so it cannot require one")
                for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                    acknowledge(method, rule, f"{route.method} {route.path} has no authorizer because {why}; "
                                              f"WAF, throttling and the API key usage plan still apply to it.")

        self.api_key = self.api.add_api_key("WebClientApiKey", description="Key of the shop's web front end")
        self.usage_plan = self.api.add_usage_plan(
            "UsagePlan",
            description="Web front end: stage throttles plus a daily quota",
            throttle=apigw.ThrottleSettings(rate_limit=config.throttle_rate_limit,
                                            burst_limit=config.throttle_burst_limit),
            quota=apigw.QuotaSettings(limit=config.quota_requests_per_day, period=apigw.Period.DAY),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        self.usage_plan.add_api_key(self.api_key)


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Our plain JSON Schema dicts as apigw.JsonSchema keyword arguments."""
    mapping = {"minLength": "min_length", "maxLength": "max_length", "minItems": "min_items",
               "maxItems": "max_items", "additionalProperties": "additional_properties",
               "minProperties": "min_properties"}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            out["type"] = apigw.JsonSchemaType(value.upper()) if isinstance(value, str) else value
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: apigw.JsonSchema(**_schema(v)) for k, v in value.items()}
        elif key == "items" and isinstance(value, dict):
            out["items"] = apigw.JsonSchema(**_schema(value))
        else:
            out[mapping.get(key, key)] = value
    return out
