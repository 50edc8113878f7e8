"""IAM for the AWS Load Balancer Controller, which here only reconciles TargetGroupBindings.

The controller never creates load balancers or touches security groups in this app (the Edge stack owns the NLB,
its listeners and target groups); it only reads and (de)registers pod IPs. So its policy is the read-only
discovery calls plus Register/DeregisterTargets on the target groups it binds, granted per target group.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

DISCOVERY_ACTIONS = (
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
    "ec2:DescribeAvailabilityZones",
)


def discovery_statement() -> iam.PolicyStatement:
    return iam.PolicyStatement(sid="DiscoverTargets", actions=list(DISCOVERY_ACTIONS), resources=["*"])


def register_targets_statement(target_group_arns: list[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="RegisterPodTargets",
        actions=["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
        resources=target_group_arns,
    )
