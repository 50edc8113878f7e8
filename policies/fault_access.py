"""Least-privilege statements of the fault experiments' roles (cdk_constructs/fault_experiments.py), per action as
the AWS FIS user guide's actions reference lists its permissions, each on the one resource the templates target.

- pods of a service deleted (``aws:eks:pod-delete``): describe the cluster; inside Kubernetes the role is the user
  ``fis-experiment`` (an EKS access entry), bound to a Role in the service's namespace only;
- a node group's instances terminated (``aws:eks:terminate-nodegroup-instances``): describe the node group, and
  terminate instances only of this cluster's node groups (the ``eks:cluster-name`` tag EKS puts on them);
- a zone's subnets cut off (``aws:network:disrupt-connectivity``): the statements of AWS's managed
  AWSFaultInjectionSimulatorNetworkAccess, narrowed to this VPC: FIS creates a network ACL tagged
  ``managedByFIS=true``, swaps it onto the zone's subnets, and puts the original back;
- an Aurora failover (``aws:rds:failover-db-cluster``): fail over the one cluster;
- the SQS and SNS endpoints unreachable from one service (``aws:ssm:start-automation-execution``): start, follow
  and stop the one automation document, passing its role; that role may only change the policies of the two
  endpoints.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from policies.service_access import allow

FIS_NETWORK_TAG = "managedByFIS"


def describe_cluster(cluster_arn: str) -> iam.PolicyStatement:
    return allow(("eks:DescribeCluster",), cluster_arn)


def describe_node_groups(node_group_arns: list[str]) -> iam.PolicyStatement:
    return allow(("eks:DescribeNodegroup",), *node_group_arns)


def terminate_node_group_instances(partition: str, region: str, account: str, cluster_name: str) -> list[
        iam.PolicyStatement]:
    return [
        iam.PolicyStatement(actions=["ec2:TerminateInstances"],
                            resources=[f"arn:{partition}:ec2:{region}:{account}:instance/*"],
                            conditions={"StringEquals": {"aws:ResourceTag/eks:cluster-name": cluster_name}}),
        iam.PolicyStatement(actions=["ec2:DescribeInstances"], resources=["*"]),
    ]


def disrupt_subnets(partition: str, region: str, account: str, vpc_id: str,
                    subnet_arns: list[str]) -> list[iam.PolicyStatement]:
    """``subnet_arns``: the only subnets whose network ACL association FIS may swap (and swap back)."""
    acl = f"arn:{partition}:ec2:{region}:{account}:network-acl/*"
    vpc = f"arn:{partition}:ec2:{region}:{account}:vpc/{vpc_id}"
    fis_acl = {"StringEquals": {f"aws:ResourceTag/{FIS_NETWORK_TAG}": "true"}}
    return [
        iam.PolicyStatement(actions=["ec2:CreateNetworkAcl"], resources=[acl, vpc],
                            conditions={"StringEqualsIfExists": {f"aws:RequestTag/{FIS_NETWORK_TAG}": "true"}}),
        iam.PolicyStatement(actions=["ec2:CreateTags"], resources=[acl],
                            conditions={"StringEquals": {"ec2:CreateAction": "CreateNetworkAcl",
                                                         f"aws:RequestTag/{FIS_NETWORK_TAG}": "true"}}),
        iam.PolicyStatement(actions=["ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAcl"], resources=[acl],
                            conditions=fis_acl),
        iam.PolicyStatement(actions=["ec2:ReplaceNetworkAclAssociation"], resources=[acl, *subnet_arns],
                            conditions={"StringEquals": {"ec2:Vpc": vpc}}),
        iam.PolicyStatement(actions=["ec2:DescribeNetworkAcls", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
                                     "ec2:DescribeManagedPrefixLists"],
                            resources=["*"]),
    ]


def failover_cluster(cluster_arn: str) -> iam.PolicyStatement:
    return allow(("rds:FailoverDBCluster", "rds:DescribeDBClusters"), cluster_arn)


def run_automation(partition: str, region: str, account: str, document_name: str,
                   automation_role_arn: str) -> list[iam.PolicyStatement]:
    return [
        allow(("ssm:StartAutomationExecution",),
              f"arn:{partition}:ssm:{region}:{account}:automation-definition/{document_name}:*"),
        allow(("ssm:GetAutomationExecution", "ssm:StopAutomationExecution"),
              f"arn:{partition}:ssm:{region}:{account}:automation-execution/*"),
        iam.PolicyStatement(actions=["iam:PassRole"], resources=[automation_role_arn],
                            conditions={"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}),
    ]


def endpoint_policies(partition: str, region: str, account: str, endpoint_ids: list[str]) -> iam.PolicyStatement:
    """The automation's role: set and reset the policies of the SQS and SNS interface endpoints, nothing else."""
    return allow(("ec2:ModifyVpcEndpoint",),
                 *(f"arn:{partition}:ec2:{region}:{account}:vpc-endpoint/{e}" for e in endpoint_ids))


def log_delivery(log_group_arn: str) -> list[iam.PolicyStatement]:
    """Experiment logs to CloudWatch Logs are a vended log delivery (FIS user guide, "Experiment logging")."""
    return [
        iam.PolicyStatement(actions=["logs:CreateLogDelivery", "logs:PutResourcePolicy",
                                     "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"], resources=["*"]),
        allow(("logs:CreateLogStream", "logs:PutLogEvents"), log_group_arn),
    ]
