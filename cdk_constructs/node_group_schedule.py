"""Working hours for the node groups: EventBridge Scheduler calls ``eks:UpdateNodegroupConfig`` (a universal target,
no function of ours) to give every node group its configured sizes in the morning and none at night.

Outside working hours the cluster has no node, so no pod: the Deployments keep their pods Pending (their
ReplicaSets recreate what the drain evicted), the HorizontalPodAutoscalers hold their replica counts while
metrics-server has nothing to report, and the Cluster Autoscaler, which runs on an on-demand node, is gone too, so
nothing scales the groups back up. In the morning the groups come back at their configured sizes and the pending
pods start. The sleep runs twice, at the hour and half an hour later: while the first drain evicts pods, the
autoscaler may still add a node for them before its own pod stops; the second pass removes it. A sleeping group keeps
a maximum of 1 (EKS's least), so each call differs from the state the previous one left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from config.environment import ComputeSchedule, NodePoolConfig
from policies import node_group_schedule as statements

# The universal target for EKS's UpdateNodegroupConfig; its Input is the API request in the SDK's PascalCase shape.
UPDATE_NODEGROUP_TARGET = "arn:aws:scheduler:::aws-sdk:eks:updateNodegroupConfig"
# EKS requires a maximum of at least 1; a sleeping group keeps no node.
ASLEEP = {"MinSize": 0, "MaxSize": 1, "DesiredSize": 0}
# A call EKS refuses while a group is still updating is tried again within ten minutes, then given up.
RETRY_POLICY = {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}


def awake_scaling(pool: NodePoolConfig) -> dict[str, int]:
    """The scaling configuration a node group gets in the morning: the sizes config gives it."""
    return {"MinSize": pool.min_size, "MaxSize": pool.max_size, "DesiredSize": pool.desired_size}


def wake_expression(schedule: ComputeSchedule) -> str:
    return f"cron(0 {schedule.wake_hour} ? * {','.join(schedule.days)} *)"


def sleep_expression(schedule: ComputeSchedule) -> str:
    """At the sleep hour and half an hour later (the second pass, module docstring)."""
    return f"cron(0,30 {schedule.sleep_hour} ? * {','.join(schedule.days)} *)"


class NodeGroupSchedule(Construct):
    """One schedule group with a wake and a sleep schedule per node group, and the role they run as
    (``policies/node_group_schedule.py``)."""

    def __init__(self, scope: Construct, construct_id: str, *, schedule: ComputeSchedule, cluster_name: str,
                 pools: Sequence[NodePoolConfig], node_groups: Mapping[str, eks.Nodegroup]) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.group = scheduler.CfnScheduleGroup(self, "Group")
        self.role = iam.Role(self, "Role", assumed_by=statements.scheduler_principal(stack, self.group.ref),
                             description="EventBridge Scheduler: resizes this cluster's node groups for working hours")
        self.policy = iam.ManagedPolicy(
            self, "ResizePolicy", roles=[self.role],
            statements=[statements.resize_statement([node_groups[p.name].nodegroup_arn for p in pools])])
        self.schedules: dict[str, tuple[scheduler.CfnSchedule, scheduler.CfnSchedule]] = {}
        hours = f"{schedule.wake_hour:02d}:00-{schedule.sleep_hour:02d}:00 {schedule.timezone}"
        for pool in pools:
            prefix = "".join(part.capitalize() for part in pool.name.split("-"))

            def call(construct_id: str, expression: str, scaling: dict[str, int], what: str,
                     pool_name: str = pool.name) -> scheduler.CfnSchedule:
                item = scheduler.CfnSchedule(
                    self, construct_id,
                    group_name=self.group.ref,
                    description=f"{what} the {pool_name} node group ({', '.join(schedule.days)} {hours})",
                    schedule_expression=expression,
                    schedule_expression_timezone=schedule.timezone,
                    flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                    target=scheduler.CfnSchedule.TargetProperty(
                        arn=UPDATE_NODEGROUP_TARGET,
                        role_arn=self.role.role_arn,
                        input=stack.to_json_string({
                            "ClusterName": cluster_name,
                            "NodegroupName": node_groups[pool_name].nodegroup_name,
                            "ScalingConfig": scaling,
                        }),
                        retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                            maximum_retry_attempts=RETRY_POLICY["MaximumRetryAttempts"],
                            maximum_event_age_in_seconds=RETRY_POLICY["MaximumEventAgeInSeconds"]),
                    ),
                )
                # The role's permission exists before a schedule can fire.
                item.node.add_dependency(self.policy)
                return item

            self.schedules[pool.name] = (
                call(f"Wake{prefix}", wake_expression(schedule), awake_scaling(pool), "Wakes"),
                call(f"Sleep{prefix}", sleep_expression(schedule), ASLEEP, "Empties"),
            )
