"""An Aspect that fails synth on any log group without retention, without the environment's logs CMK, or whose
removal is not the environment's (dev must tear down without leaving log groups; prod keeps them)."""

from __future__ import annotations

from collections.abc import Collection

import aws_cdk as cdk
import jsii
from aws_cdk import aws_logs as logs
from constructs import IConstruct


@jsii.implements(cdk.IAspect)
class LogGroupGuard:
    """``key_arn``: the logs CMK's ARN (the token every stack's log groups reference); ``retention_days``: the
    retention periods the environment's config allows (general logs, flow logs); ``deletion_policy``: what the
    environment's removal mode makes of a log group."""

    def __init__(self, *, key_arn: str, retention_days: Collection[int],
                 deletion_policy: cdk.CfnDeletionPolicy) -> None:
        self.key_arn = key_arn
        self.retention_days = frozenset(retention_days)
        self.deletion_policy = deletion_policy

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, logs.CfnLogGroup):
            return
        problems = []
        if node.retention_in_days is None or node.retention_in_days not in self.retention_days:
            problems.append(f"retention {node.retention_in_days} days is not one the config sets "
                            f"({', '.join(map(str, sorted(self.retention_days)))})")
        if node.kms_key_id is None:
            problems.append("it is not encrypted (set encryption_key to the Network stack's logs_key)")
        elif node.kms_key_id != self.key_arn:
            problems.append("it is encrypted with a key other than the Network stack's logs_key")
        if node.cfn_options.deletion_policy != self.deletion_policy:
            problems.append(f"its deletion policy {node.cfn_options.deletion_policy} is not the environment's "
                            f"{self.deletion_policy} (apply removal_policy(config.removal))")
        if problems:
            cdk.Annotations.of(node).add_error(f"log group guard: {'; '.join(problems)}")
