"""Log groups that libraries create with their own settings, brought under the environment's logs policy."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from cdk_constructs.retention import removal_policy, retention_days
from config.environment import RemovalMode


@dataclass(frozen=True)
class LogSettings:
    """How every log group of the environment is kept: encrypted with the Network stack's logs CMK, for the
    configured retention, removed (or left) with the stack by the environment's removal mode. One value so that no
    log group gets a key without its retention, or the environment's retention without its removal mode."""

    key: kms.IKey
    retention_days: int
    removal: RemovalMode

    def with_retention(self, days: int) -> LogSettings:
        """The same key and removal mode, kept ``days`` (VPC flow logs have their own retention)."""
        return replace(self, retention_days=days)

    def log_group(self, scope: Construct, construct_id: str, **props: Any) -> logs.LogGroup:
        """A log group under these settings; ``props`` are the rest (its name, ...)."""
        return logs.LogGroup(scope, construct_id, retention=retention_days(self.retention_days),
                             encryption_key=self.key, removal_policy=removal_policy(self.removal), **props)


def adopt_library_log_groups(scope: IConstruct, *, log_settings: LogSettings) -> list[str]:
    """Every log group under ``scope`` without a KMS key (e.g. the Lambda log groups aws_eks_v2's kubectl provider
    creates, kept 2 years unencrypted and retained) gets the logs CMK, the configured retention and the environment's
    removal policy (dev destroys them with the stack). Returns their paths."""
    adopted = []
    for node in scope.node.find_all():
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = log_settings.key.key_arn
            node.retention_in_days = log_settings.retention_days
            node.apply_removal_policy(removal_policy(log_settings.removal))
            adopted.append(node.node.path)
    return adopted


def provider_log_group(scope: Construct, construct_id: str, *, provider: str, users: list[IConstruct],
                       log_settings: LogSettings) -> logs.LogGroup:
    """The log group of a stack-wide custom resource provider aws-cdk-lib creates (``Custom::<provider>``, e.g. the
    function emptying a bucket or restricting the VPC's default security group), which Lambda would otherwise create
    at the first call: unencrypted, kept forever, and outside the teardown. ``users`` (its custom resources) are
    made to wait for it."""
    handler = cast(cdk.CfnResource, cdk.Stack.of(scope).node.find_child(f"Custom::{provider}").node.find_child(
        "Handler"))
    group = log_settings.log_group(scope, construct_id, log_group_name=f"/aws/lambda/{handler.ref}")
    for user in users:
        user.node.add_dependency(group)
    return group
