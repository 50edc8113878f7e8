from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_constructs.internal_load_balancer import InternalLoadBalancer
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.platform_api import PlatformApi
from cdk_constructs.smoke_test_access import SmokeTestAccess
from cdk_constructs.user_directory import ADMIN_GROUP
from cdk_constructs.web_acl import WebAcl
from config.environment import ApiClient, ApiConfig
from config.topology import CONTAINER_PORT, LISTENER_PORTS, TARGET_DEREGISTRATION_DELAY_SECONDS, Route


class EdgeStack(cdk.Stack):
    """Stateless: API Gateway -> VPC Link -> internal NLB (one listener and target group per service), WAF."""

    def __init__(self, scope: Construct, construct_id: str, *, config: ApiConfig, vpc: ec2.IVpc, vpc_cidr: str,
                 user_pool: cognito.IUserPool, log_settings: LogSettings,
                 environment: str, github_repository: str, secrets_key: kms.IKey, payment_topic: sns.ITopic,
                 topics_key: kms.IKey, routes: tuple[Route, ...], web_origin: str, **kwargs: Any) -> None:
        """``web_origin``: the storefront's origin, from config (WebConfig.origin), the only one the API's CORS
        allows; known before the Web stack exists, so this stack needs nothing from it."""
        super().__init__(scope, construct_id, **kwargs)
        self.load_balancer = InternalLoadBalancer(self, "ServicesLoadBalancer", vpc=vpc, vpc_cidr=vpc_cidr,
                                                  listener_ports=LISTENER_PORTS,
                                                  target_port=CONTAINER_PORT,
                                                  deregistration_delay_seconds=TARGET_DEREGISTRATION_DELAY_SECONDS)
        self.platform_api = PlatformApi(self, "Api", config=config, user_pool=user_pool,
                               load_balancer=self.load_balancer, log_settings=log_settings, routes=routes,
                                        cors_origin=web_origin)
        self.web_acl = WebAcl(self, "ApiWebAcl", rate_limit_per_5_min=config.waf_rate_limit_per_5_min,
                              log_settings=log_settings)
        self.web_acl.associate("StageAssociation", self.platform_api.api.deployment_stage.stage_arn)
        cdk.CfnOutput(self, "ApiUrl", value=self.platform_api.api.url)
        # What a browser calls: the storefront's CSP lets it reach this origin and no other (Web stack).
        self.api_origin = f"https://{self.platform_api.api.rest_api_id}.execute-api.{self.region}.{self.url_suffix}"
        # The smoke test after each deploy (docs/smoke.md): its accounts, its role, the outputs the pipeline reads.
        pays = config.smoke_test_pays
        self.smoke = SmokeTestAccess(
            self, "SmokeTest", environment=environment, github_repository=github_repository,
            user_pool=user_pool, admin_group=ADMIN_GROUP, secrets_key=secrets_key,
            api_key=self.platform_api.api_keys[ApiClient.SYNTHETICS],
            payment_topic=payment_topic if pays else None, topics_key=topics_key if pays else None,
            log_settings=log_settings)
        # The smoke test's key (the canaries' too: the synthetics plan), never the storefront's.
        cdk.CfnOutput(self, "ApiKeyId", value=self.platform_api.api_keys[ApiClient.SYNTHETICS].key_id)
        cdk.CfnOutput(self, "SmokeRoleArn", value=self.smoke.role.role_arn)
        cdk.CfnOutput(self, "SmokeSecretArn", value=self.smoke.secret.secret_arn)
        # Only where the smoke test may pay: CloudFormation refuses an output whose value is empty, and the deploy
        # job reads an absent output as "no payments" (.github/workflows/deploy.yml, Stage outputs).
        if pays:
            cdk.CfnOutput(self, "PaymentTopicArn", value=payment_topic.topic_arn)
