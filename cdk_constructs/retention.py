"""Config enums turned into CDK values, in one place."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from config.environment import RemovalMode

_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS, 2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}


def retention_days(days: int) -> logs.RetentionDays:
    """The CloudWatch retention enum for a validated number of days."""
    return _RETENTION[days]


def removal_policy(mode: RemovalMode, *, snapshot_supported: bool = False) -> cdk.RemovalPolicy:
    """DESTROY; SNAPSHOT where the resource supports it (databases); otherwise retained on delete and on replacement,
    but deleted when the create that made it rolls back (``DeletionPolicy: RetainExceptOnCreate``): a failed first
    deploy leaves no key, table or secret behind to block the next one by name or to pay for (CloudFormation user
    guide, DeletionPolicy attribute: "RetainExceptOnCreate behaves like Retain for stack operations, except for the
    stack operation that initially created the resource")."""
    if mode == RemovalMode.DESTROY:
        return cdk.RemovalPolicy.DESTROY
    if mode == RemovalMode.SNAPSHOT and snapshot_supported:
        return cdk.RemovalPolicy.SNAPSHOT
    return cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
