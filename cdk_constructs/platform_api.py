"""The public REST API: every route it is given (config.topology.ROUTES), through a VPC Link to the services'
NLB listeners.

Authorization: protected methods carry the Cognito authorizer *and* authorization scopes. Without scopes, API
Gateway's Cognito authorizer treats the token as an ID token; with scopes it treats it as an access token and lets
the call through if any method scope is in the token's ``scope`` claim, else 401 (API Gateway developer guide,
"Integrate a REST API with an Amazon Cognito user pool",
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-enable-cognito-user-pool.html). The
clients send the access token the users service hands out (USER_PASSWORD_AUTH); Cognito puts exactly
``aws.cognito.signin.user.admin`` in the ``scope`` of access tokens from its user-pool API sign-in (Cognito developer
guide, "Understanding the access token",
https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html), so
that is the method scope. Client-credentials tokens of the services carry only resource-server scopes
(``products/read``) and are refused at the edge; ID tokens are refused too.

API Gateway's own errors (bad body, missing parameters, unknown route, API key, authorizer, throttling, quota,
integration timeouts) are gateway responses with a JSON body ``{"error": <code>, "message": ..., "request_id": ...}``
like the services' errors; the bad-body one adds ``details`` with ``$context.error.validationErrorString``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from cdk_constructs.api_models import as_cdk_json_schema, edge_model, required_headers
from cdk_constructs.internal_load_balancer import InternalLoadBalancer
from cdk_constructs.log_groups import LogSettings
from config.environment import API_CLIENT_TAG, ApiClient, ApiConfig
from config.topology import Access, Route
from policies.nag import acknowledge

STAGE_NAME = "v1"
# The storefront's key and plan keep the construct ids they had when they were the API's only ones: a new logical id
# would replace the key that config.js and the deployed storefront carry.
_KEY_AND_PLAN_IDS = {ApiClient.STOREFRONT: ("WebClientApiKey", "UsagePlan")}
_CLIENTS = {ApiClient.STOREFRONT: "the shop's web front end",
            ApiClient.SYNTHETICS: "the Synthetics canaries and the smoke test after each deploy",
            ApiClient.LOAD: "the load generator"}
# The one scope every Cognito access token from a user sign-in carries (see the module docstring).
USER_SIGN_IN_SCOPE = "aws.cognito.signin.user.admin"

# Gateway response type -> the `error` code of its JSON body. Status codes stay API Gateway's defaults.
GATEWAY_ERRORS: dict[str, str] = {
    "BAD_REQUEST_BODY": "invalid_request_body",
    "BAD_REQUEST_PARAMETERS": "missing_request_parameters",
    # For REST APIs API Gateway answers an unknown route or method with 403 Missing Authentication Token.
    "MISSING_AUTHENTICATION_TOKEN": "route_not_found",
    "INVALID_API_KEY": "invalid_api_key",
    "UNAUTHORIZED": "unauthorized",
    "ACCESS_DENIED": "forbidden",
    "EXPIRED_TOKEN": "expired_token",
    "WAF_FILTERED": "request_blocked",
    "THROTTLED": "throttled",
    "QUOTA_EXCEEDED": "quota_exceeded",
    "REQUEST_TOO_LARGE": "request_too_large",
    "UNSUPPORTED_MEDIA_TYPE": "unsupported_media_type",
    "RESOURCE_NOT_FOUND": "not_found",
    "INTEGRATION_TIMEOUT": "integration_timeout",
    "INTEGRATION_FAILURE": "integration_failure",
    "DEFAULT_4XX": "bad_request",
    "DEFAULT_5XX": "gateway_error",
}


def gateway_response_template(response_type: str) -> str:
    """The application/json body of a gateway response (simple $context substitution, no VTL)."""
    details = ',"details":"$context.error.validationErrorString"' if response_type == "BAD_REQUEST_BODY" else ""
    return (f'{{"error":{json.dumps(GATEWAY_ERRORS[response_type])},"message":$context.error.messageString'
            f'{details},"request_id":"$context.requestId"}}')


# Why each public route that is not a catalog read can take no token (cdk-nag acknowledgements).
_PUBLIC_REASONS = {
    "/payments/webhook": "the payment provider's servers have no user; the orders service checks each request's "
                         "HMAC signature, timestamp and event id",
    "/users/register": "it is how an anonymous visitor obtains an account in the first place, so it cannot require "
                       "a token",
    "/users/login": "it is how a registered user obtains a token in the first place, so it cannot require one",
    "/users/confirm": "a new account is confirmed with the emailed code before its user can sign in and hold a "
                      "token; Cognito checks the code and limits attempts",
    "/users/token": "it is called when the access token is about to expire or has expired; the refresh token in its "
                    "body is the credential, checked by Cognito",
}


def _public_reason(route: Route) -> str:
    if route.method == "GET":
        return "it is a public catalog read that anonymous shoppers make"
    if route.path not in _PUBLIC_REASONS:
        raise ValueError(f"public route {route.method} {route.path} has no stated reason to take no token")
    return _PUBLIC_REASONS[route.path]


class PlatformApi(Construct):
    """Regional REST API with a Cognito authorizer on every route but the public ones, stage throttling, a usage
    plan and API key, request validation, JSON access logs and X-Ray tracing."""

    def __init__(self, scope: Construct, construct_id: str, *, config: ApiConfig, user_pool: cognito.IUserPool,
                 load_balancer: InternalLoadBalancer, log_settings: LogSettings, routes: Sequence[Route],
                 cors_origin: str) -> None:
        """``routes``: every route of the API, each to its service's listener on ``load_balancer``;
        ``cors_origin``: the one origin (the storefront's) whose pages may call it from a browser."""
        super().__init__(scope, construct_id)
        self.access_log_group = log_settings.log_group(self, "AccessLogGroup")
        self.api = apigw.RestApi(
            self, "RestApi",
            # API Gateway metrics are keyed by API name: one per environment, so environments can share an account.
            rest_api_name=f"{cdk.Stack.of(self).stack_name}-api",
            description="E-commerce platform public API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The CloudWatch role API Gateway logs with is a setting of the account (AWS::ApiGateway::Account), one
            # per account and region for every API in it: no environment's stack owns it (a teardown would leave the
            # setting pointing at a deleted role). It is a declared prerequisite (config/prerequisites.py), set once
            # per account (docs/deploying.md) and checked by `make account-check` before each deploy.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                # The sum of the usage plans: each client is held to its own plan, the stage caps their total.
                throttling_rate_limit=config.stage_throttle[0],
                throttling_burst_limit=config.stage_throttle[1],
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
                allow_origins=[cors_origin],
                allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Api-Key"],
                max_age=cdk.Duration.hours(1),
            ),
        )
        stage = self.api.deployment_stage
        # The stage logs executions (INFO) to a group API Gateway names itself and would create on first use,
        # without our CMK and without expiry; created here first, the group is ours: key, retention, removal.
        self.execution_log_group = log_settings.log_group(
            self, "ExecutionLogGroup",
            log_group_name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{STAGE_NAME}")
        stage.node.add_dependency(self.execution_log_group)
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
        self.models: dict[str, tuple[apigw.Model, dict[str, Any]]] = {}
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for route in routes:
            resource = self.api.root.resource_for_path(route.path)
            params = re.findall(r"{(\w+)}", route.path)
            integration = apigw.Integration(
                type=apigw.IntegrationType.HTTP_PROXY,
                integration_http_method=route.method,
                uri=f"http://{dns}:{load_balancer.listener_ports[route.service]}{route.path}",
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
            public = route.access in (Access.PUBLIC, Access.SIGNED)
            method = resource.add_method(
                route.method, integration,
                authorizer=None if public else self.authorizer,
                authorization_type=apigw.AuthorizationType.NONE if public else apigw.AuthorizationType.COGNITO,
                authorization_scopes=None if public else [USER_SIGN_IN_SCOPE],
                # A third party's callback carries no API key (the provider sends none, and the storefront's would
                # put its calls in the storefront's quota); its HMAC signature authenticates it, checked by the
                # service. WAF and the stage's throttles still apply.
                api_key_required=route.access is not Access.SIGNED,
                request_validator=self.validator,
                request_parameters={**{f"method.request.path.{p}": True for p in params},
                                    **{f"method.request.header.{h}": True for h in required_headers(route)}} or None,
                request_models=self._request_models(route),
            )
            self.methods[(route.method, route.path)] = method
            if public:
                why = _public_reason(route)
                applies = ("WAF and the stage's throttling still apply to it" if route.access is Access.SIGNED
                           else "WAF, throttling and the API key usage plan still apply to it")
                for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                    acknowledge(method, rule, f"{route.method} {route.path} has no authorizer because {why}; "
                                              f"{applies}.")
        # The storefront reads API Gateway's own errors too (a bad body's details, 401, 429), so they carry the
        # origin the services' answers carry (services/common/api.py, CrossOrigin).
        for response_type in GATEWAY_ERRORS:
            self.api.add_gateway_response(
                f"{response_type.title().replace('_', '')}Response", type=apigw.ResponseType.of(response_type),
                templates={"application/json": gateway_response_template(response_type)},
                response_headers={"Access-Control-Allow-Origin": f"'{cors_origin}'", "Vary": "'Origin'"})

        # One key and one usage plan per client (config.environment.ApiClient), each key in its own plan alone, so
        # a canary or a load test spends its own throttle and quota, never the storefront's. Each is tagged with its
        # client (API_CLIENT_TAG), which the local edge reads to find the storefront's plan.
        self.api_keys: dict[ApiClient, apigw.IApiKey] = {}
        self.usage_plans: dict[ApiClient, apigw.UsagePlan] = {}
        # API Gateway changes a stage's usage plans and their keys one at a time: created side by side, one of them
        # can fail with 409 "concurrent modification" and roll the stack back. Each plan (with its key binding)
        # waits for the one before it.
        previous: apigw.UsagePlan | None = None
        for client, limits in config.usage_plans.items():
            key_id, plan_id = _KEY_AND_PLAN_IDS.get(client, (f"{client.value.capitalize()}ApiKey",
                                                             f"{client.value.capitalize()}UsagePlan"))
            key = self.api.add_api_key(key_id, description=f"Key of {_CLIENTS[client]}")
            plan = self.api.add_usage_plan(
                plan_id,
                description=f"Throttle and daily quota of {_CLIENTS[client]}",
                throttle=apigw.ThrottleSettings(rate_limit=limits.throttle_rate_limit,
                                                burst_limit=limits.throttle_burst_limit),
                quota=apigw.QuotaSettings(limit=limits.quota_requests_per_day, period=apigw.Period.DAY),
                api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
            )
            plan.add_api_key(key)
            if previous is not None:
                plan.node.add_dependency(previous)
            previous = plan
            for tagged in (key, plan):
                cdk.Tags.of(tagged).add(API_CLIENT_TAG, client.value)
            self.api_keys[client], self.usage_plans[client] = key, plan
        self.api_key = self.api_keys[ApiClient.STOREFRONT]

    def _request_models(self, route: Route) -> dict[str, apigw.IModel] | None:
        """The route's body model, converted from its service's pydantic model (one API Gateway model per name)."""
        converted = edge_model(route)
        if converted is None:
            return None
        name, schema = converted
        if name in self.models:
            model, known = self.models[name]
            if known != schema:
                raise ValueError(f"two request models named {name} differ; rename one")
        else:
            model = self.api.add_model(f"{name}Model", content_type="application/json", model_name=name,
                                       schema=as_cdk_json_schema(schema))
            self.models[name] = (model, schema)
        return {"application/json": model}

