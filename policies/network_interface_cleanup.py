"""IAM of the network interface cleanup (cdk_constructs/network_interface_cleanup.py): it may read ENIs and security
groups, delete only ENIs the VPC resource controller created in this VPC, and delete only this cluster's security
group in this VPC. A cleanup without a cluster only reads ENIs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

CONTROLLER_OWNER_TAG = "eks:eni:owner"
CONTROLLER_OWNER = "eks-vpc-resource-controller"
CLUSTER_NAME_TAG = "aws:eks:cluster-name"


def _ec2_arn(stack: cdk.Stack, resource: str) -> str:
    return stack.format_arn(service="ec2", resource=resource, resource_name="*")


def describe_statement(*, security_groups: bool = True) -> iam.PolicyStatement:
    """Finding interfaces; with ``security_groups``, the cluster's security group too (what a cleanup without a cluster
    never looks for)."""
    return iam.PolicyStatement(sid="FindInterfaces",
                               actions=["ec2:DescribeNetworkInterfaces",
                                        *(["ec2:DescribeSecurityGroups"] if security_groups else [])],
                               resources=["*"])


def delete_branch_interfaces_statement(stack: cdk.Stack, vpc_arn: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="DeleteLeakedBranchInterfaces", actions=["ec2:DeleteNetworkInterface"],
        resources=[_ec2_arn(stack, "network-interface")],
        conditions={"StringEquals": {f"ec2:ResourceTag/{CONTROLLER_OWNER_TAG}": CONTROLLER_OWNER},
                    "ArnEquals": {"ec2:Vpc": vpc_arn}})


def delete_cluster_security_group_statement(stack: cdk.Stack, vpc_arn: str,
                                            cluster_name: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="DeleteClusterSecurityGroup", actions=["ec2:DeleteSecurityGroup"],
        resources=[_ec2_arn(stack, "security-group")],
        conditions={"StringEquals": {f"ec2:ResourceTag/{CLUSTER_NAME_TAG}": cluster_name},
                    "ArnEquals": {"ec2:Vpc": vpc_arn}})
