from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_constructs.encryption_key import EncryptionKey
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.platform_vpc import PlatformVpc
from config.environment import NetworkConfig, RemovalMode


class NetworkStack(cdk.Stack):
    """Stateful: the VPC and the CMK that every log group of the environment is encrypted with."""

    def __init__(self, scope: Construct, construct_id: str, *, config: NetworkConfig, removal: RemovalMode,
                 **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]

        logs_key = EncryptionKey(self, "LogsKey", description="CloudWatch Logs of this environment",
                                 removal=removal).key
        # CloudWatch Logs encrypts with the key on the log group's behalf; scoped to this account's log groups.
        logs_key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:{self.partition}:logs:{self.region}:{self.account}:*"}},
        ))
        self.logs_key = logs_key
        # Its own log groups (flow logs) keep config.flow_log_retention_days; the environment's days apply to the rest.
        self.platform_vpc = PlatformVpc(self, "Network", config=config, removal=removal,
                                   log_settings=LogSettings(key=logs_key, retention_days=config.flow_log_retention_days,
                                                            removal=removal))
        self.vpc = self.platform_vpc.vpc
