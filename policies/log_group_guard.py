"""An Aspect that fails synth on any log group without retention or without the environment's logs CMK."""

from __future__ import annotations

from collections.abc import Collection

import aws_cdk as cdk
import jsii
from aws_cdk import aws_logs as logs
from constructs import IConstruct


@jsii.implements(cdk.IAspect)
class LogGroupGuard:
    """``key_arn``: the logs CMK's ARN (the token every stack's log groups reference); ``retention_days``: the
    retention periods the environment's config allows (general logs, flow logs)."""

    def __init__(self, *, key_arn: str, retention_days: Collection[int]) -> None:
        self.key_arn = key_arn
        self.retention_days = frozenset(retention_days)

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
        if problems:
            cdk.Annotations.of(node).add_error(f"log group guard: {'; '.join(problems)}")
