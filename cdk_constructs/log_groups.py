"""Log groups that libraries create with their own settings, brought under the environment's logs policy."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import IConstruct


def adopt_library_log_groups(scope: IConstruct, *, logs_key: kms.IKey, log_retention_days: int) -> list[str]:
    """Every log group under ``scope`` without a KMS key (e.g. the Lambda log groups aws_eks_v2's kubectl provider
    creates, kept 2 years unencrypted) gets the logs CMK and the configured retention. Returns their paths."""
    adopted = []
    for node in scope.node.find_all():
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = logs_key.key_arn
            node.retention_in_days = log_retention_days
            adopted.append(node.node.path)
    return adopted
