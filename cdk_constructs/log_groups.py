"""Log groups that libraries create with their own settings, brought under the environment's logs policy."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from cdk_constructs.retention import removal_policy, retention_days
from config.environment import RemovalMode


def adopt_library_log_groups(scope: IConstruct, *, logs_key: kms.IKey, log_retention_days: int,
                             removal: RemovalMode) -> list[str]:
    """Every log group under ``scope`` without a KMS key (e.g. the Lambda log groups aws_eks_v2's kubectl provider
    creates, kept 2 years unencrypted and retained) gets the logs CMK, the configured retention and the environment's
    removal policy (dev destroys them with the stack). Returns their paths."""
    adopted = []
    for node in scope.node.find_all():
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = logs_key.key_arn
            node.retention_in_days = log_retention_days
            node.apply_removal_policy(removal_policy(removal))
            adopted.append(node.node.path)
    return adopted


def provider_log_group(scope: Construct, construct_id: str, *, provider: str, users: list[IConstruct],
                       logs_key: kms.IKey, log_retention_days: int, removal: RemovalMode) -> logs.LogGroup:
    """The log group of a stack-wide custom resource provider aws-cdk-lib creates (``Custom::<provider>``, e.g. the
    function emptying a bucket or restricting the VPC's default security group), which Lambda would otherwise create
    at the first call: unencrypted, kept forever, and outside the teardown. ``users`` (its custom resources) are
    made to wait for it."""
    handler = cast(cdk.CfnResource, cdk.Stack.of(scope).node.find_child(f"Custom::{provider}").node.find_child(
        "Handler"))
    group = logs.LogGroup(scope, construct_id, log_group_name=f"/aws/lambda/{handler.ref}",
                          retention=retention_days(log_retention_days), encryption_key=logs_key,
                          removal_policy=removal_policy(removal))
    for user in users:
        user.node.add_dependency(group)
    return group
