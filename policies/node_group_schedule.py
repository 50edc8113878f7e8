"""IAM of the node groups' working-hours schedule (EventBridge Scheduler), least privilege.

The role is assumed only by EventBridge Scheduler, on behalf of this account's schedules in the one schedule group
of the cluster (``aws:SourceAccount`` and ``aws:SourceArn``: the confused-deputy guard the Scheduler documents), and
may make one call: ``eks:UpdateNodegroupConfig`` on the node groups of this cluster, named by their full ARNs.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

RESIZE_ACTIONS = ("eks:UpdateNodegroupConfig",)
SCHEDULER_SERVICE = "scheduler.amazonaws.com"


def resize_statement(node_group_arns: Sequence[str]) -> iam.PolicyStatement:
    """Change the scaling configuration of these node groups, and of nothing else."""
    if not node_group_arns:
        raise ValueError("a schedule needs at least one node group to resize")
    return iam.PolicyStatement(sid="ResizeScheduledNodeGroups", actions=list(RESIZE_ACTIONS),
                               resources=list(node_group_arns))


def scheduler_principal(stack: cdk.Stack, schedule_group_name: str) -> iam.IPrincipal:
    """EventBridge Scheduler acting for the schedules of ``schedule_group_name`` in this account only."""
    schedules = stack.format_arn(service="scheduler", resource="schedule",
                                 resource_name=f"{schedule_group_name}/*")
    return iam.ServicePrincipal(SCHEDULER_SERVICE, conditions={
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {"aws:SourceArn": schedules},
    })


WAKE_ACTIONS = ("eks:DescribeNodegroup", "eks:UpdateNodegroupConfig")
HOLD_ACTIONS = ("scheduler:GetSchedule", "scheduler:UpdateSchedule")


def wake_statements(*, stack_id: str, cluster_arn: str, node_group_arns: Sequence[str],
                    sleep_schedule_arns: Sequence[str], scheduler_role_arn: str) -> list[iam.PolicyStatement]:
    """What `make wake` / `make sleep` call (tools/ops/wake.py), for the deploy pipeline's wake role: the cluster's name
    from its stack's outputs, its node groups' names, and each group's scaling configuration; and, to hold the
    scheduled sleep while a deploy or teardown runs, the sleep schedules' definitions and state (UpdateSchedule
    passes the schedule's own role again, to EventBridge Scheduler only)."""
    if not node_group_arns:
        raise ValueError("waking needs at least one node group")
    if not sleep_schedule_arns:
        raise ValueError("holding the sleep needs at least one sleep schedule")
    return [
        iam.PolicyStatement(sid="ReadClusterStackOutputs", actions=["cloudformation:DescribeStacks"],
                            resources=[stack_id]),
        iam.PolicyStatement(sid="ListClusterNodeGroups", actions=["eks:ListNodegroups"], resources=[cluster_arn]),
        iam.PolicyStatement(sid="ResizeClusterNodeGroups", actions=list(WAKE_ACTIONS),
                            resources=list(node_group_arns)),
        iam.PolicyStatement(sid="HoldScheduledSleep", actions=list(HOLD_ACTIONS), resources=list(sleep_schedule_arns)),
        iam.PolicyStatement(sid="PassScheduleRole", actions=["iam:PassRole"], resources=[scheduler_role_arn],
                            conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_SERVICE}}),
    ]
