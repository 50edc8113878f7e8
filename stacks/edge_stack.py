from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.internal_load_balancer import InternalLoadBalancer
from cdk_constructs.platform_api import PlatformApi
from cdk_constructs.user_directory import UserDirectory
from cdk_constructs.web_acl import WebAcl
from config.environment import ApiConfig, RemovalMode


class EdgeStack(cdk.Stack):
    """Stateless: API Gateway -> VPC Link -> internal NLB (one listener and target group per service), WAF."""

    def __init__(self, scope: Construct, construct_id: str, *, config: ApiConfig, vpc: ec2.IVpc, vpc_cidr: str,
                 users: UserDirectory, logs_key: kms.IKey, log_retention_days: int, removal: RemovalMode,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.load_balancer = InternalLoadBalancer(self, "ServicesLoadBalancer", vpc=vpc, vpc_cidr=vpc_cidr,
                                                  removal=removal, log_retention_days=log_retention_days,
                                                  logs_key=logs_key)
        self.api = PlatformApi(self, "Api", config=config, user_pool=users.user_pool,
                               load_balancer=self.load_balancer, logs_key=logs_key,
                               log_retention_days=log_retention_days, removal=removal)
        self.web_acl = WebAcl(self, "ApiWebAcl", rate_limit_per_5_min=config.waf_rate_limit_per_5_min,
                              logs_key=logs_key, log_retention_days=log_retention_days, removal=removal)
        self.web_acl.associate("StageAssociation", self.api.api.deployment_stage.stage_arn)
        cdk.CfnOutput(self, "ApiUrl", value=self.api.api.url)
