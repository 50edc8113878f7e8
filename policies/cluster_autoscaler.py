"""IAM of the Cluster Autoscaler (EKS Pod Identity), least privilege.

It reads every Auto Scaling group and launch template it discovers (those calls take no resource-level permission),
reads this cluster's managed node groups (instance types, labels and taints when a group is at zero), and may change
the size of, or terminate instances in, only the Auto Scaling groups EKS created for this cluster's managed node
groups: EKS tags those ``eks:cluster-name=<cluster>`` and ``k8s.io/cluster-autoscaler/enabled=true``. The cluster
name is a value resolved at deploy, so it conditions the tag's value rather than appearing in a tag key.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

DESCRIBE_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)
SCALE_ACTIONS = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")


def describe_statement() -> iam.PolicyStatement:
    return iam.PolicyStatement(sid="DiscoverNodeGroups", actions=list(DESCRIBE_ACTIONS), resources=["*"])


def describe_node_groups_statement(stack: cdk.Stack, cluster_name: str) -> iam.PolicyStatement:
    """Scale from zero: with no node to copy, the autoscaler reads the node group's types, labels and taints."""
    return iam.PolicyStatement(
        sid="DescribeOwnNodeGroups", actions=["eks:DescribeNodegroup"],
        resources=[stack.format_arn(service="eks", resource="nodegroup", resource_name=f"{cluster_name}/*/*")])


def scale_statement(stack: cdk.Stack, cluster_name: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="ScaleOwnNodeGroups", actions=list(SCALE_ACTIONS),
        resources=[stack.format_arn(service="autoscaling", resource="autoScalingGroup",
                                    resource_name="*:autoScalingGroupName/*",
                                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)],
        conditions={"StringEquals": {"aws:ResourceTag/eks:cluster-name": cluster_name,
                                     "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"}})
