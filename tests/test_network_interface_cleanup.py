"""The teardown cleanup against EC2 served by moto over HTTP: it deletes only this cluster's leaked branch ENIs,
waits while anything else still uses a watched security group, then deletes the cluster's security group."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from cdk_constructs.handlers.network_interface_cleanup import index as cleanup

CLUSTER = "dev-cluster-0a1b2c3d-4e5f6a7b"


@pytest.fixture(scope="module")
def ec2(moto: str) -> Any:
    """EC2 of the module's moto server (tests/conftest.py)."""
    return boto3.client("ec2", endpoint_url=moto, region_name="eu-west-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


def _tags(**tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": "network-interface", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def _exists(ec2: Any, eni: str) -> bool:
    return bool(ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": [eni]}])[
        "NetworkInterfaces"])


def test_releases_leaked_branch_interfaces_then_the_cluster_security_group(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    cluster_sg = ec2.create_security_group(
        GroupName="eks-cluster-sg", Description="cluster", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": [{"Key": "aws:eks:cluster-name", "Value": CLUSTER}]}])["GroupId"]
    pod_sg = ec2.create_security_group(GroupName="orders-pods", Description="pods", VpcId=vpc)["GroupId"]
    owner = {"eks:eni:owner": "eks-vpc-resource-controller"}
    leaked = ec2.create_network_interface(
        SubnetId=subnet, Groups=[pod_sg], Description="branch-eni",
        TagSpecifications=_tags(**owner, **{f"kubernetes.io/cluster/{CLUSTER}": "owned"}))["NetworkInterface"]
    other_cluster = ec2.create_network_interface(
        SubnetId=subnet, Groups=[pod_sg], Description="branch-eni",
        TagSpecifications=_tags(**owner, **{"kubernetes.io/cluster/another": "owned"}))["NetworkInterface"]
    lambda_eni = ec2.create_network_interface(
        SubnetId=subnet, Groups=[cluster_sg], Description="AWS Lambda VPC ENI-kubectl-handler")["NetworkInterface"]

    # Pass 1: this cluster's leaked branch ENI goes; the Lambda's and the other cluster's stay, so not complete.
    assert cleanup.release(ec2, vpc_id=vpc, cluster_name=CLUSTER, security_group_ids=[pod_sg],
                           delete_cluster_security_group=True) is False
    assert not _exists(ec2, leaked["NetworkInterfaceId"])
    assert _exists(ec2, other_cluster["NetworkInterfaceId"]) and _exists(ec2, lambda_eni["NetworkInterfaceId"])
    # Lambda releases its ENI, the other cluster's controller its own: the next pass deletes the cluster's group.
    ec2.delete_network_interface(NetworkInterfaceId=lambda_eni["NetworkInterfaceId"])
    ec2.delete_network_interface(NetworkInterfaceId=other_cluster["NetworkInterfaceId"])
    assert cleanup.release(ec2, vpc_id=vpc, cluster_name=CLUSTER, security_group_ids=[pod_sg],
                           delete_cluster_security_group=True) is True
    groups = {g["GroupId"] for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "SecurityGroups"]}
    assert cluster_sg not in groups and pod_sg in groups  # the pods' group belongs to the Data stack
    # Idempotent once everything is gone.
    assert cleanup.release(ec2, vpc_id=vpc, cluster_name=CLUSTER, security_group_ids=[pod_sg],
                           delete_cluster_security_group=True) is True


def test_without_a_cluster_it_only_waits_for_the_watched_group(ec2: Any, moto: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The rotation function's cleanup has no cluster: it deletes no interface (not even a controller-owned detached
    one) and no security group, and completes once Lambda has released the function's interfaces."""
    for key, value in (("AWS_ENDPOINT_URL_EC2", moto), ("AWS_DEFAULT_REGION", "eu-west-1"),
                       ("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        monkeypatch.setenv(key, value)
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24")["Subnet"]["SubnetId"]
    rotation_sg = ec2.create_security_group(GroupName="rotation", Description="rotation", VpcId=vpc)["GroupId"]
    other_sg = ec2.create_security_group(GroupName="pods", Description="pods", VpcId=vpc)["GroupId"]
    lambda_eni = ec2.create_network_interface(
        SubnetId=subnet, Groups=[rotation_sg], Description="AWS Lambda VPC ENI-orders-rotation")["NetworkInterface"]
    branch = ec2.create_network_interface(
        SubnetId=subnet, Groups=[other_sg], Description="branch-eni",
        TagSpecifications=_tags(**{"eks:eni:owner": "eks-vpc-resource-controller",
                                   f"kubernetes.io/cluster/{CLUSTER}": "owned"}))["NetworkInterface"]
    event = {"RequestType": "Delete", "PhysicalResourceId": f"eni-cleanup-{vpc}", "ResourceProperties": {
        "VpcId": vpc, "SecurityGroupIds": [rotation_sg], "DeleteClusterSecurityGroup": "false"}}
    assert cleanup.is_complete(event, None) == {"IsComplete": False}  # through the handler, as CloudFormation calls it
    assert _exists(ec2, lambda_eni["NetworkInterfaceId"]) and _exists(ec2, branch["NetworkInterfaceId"])
    ec2.delete_network_interface(NetworkInterfaceId=lambda_eni["NetworkInterfaceId"])
    assert cleanup.release(ec2, vpc_id=vpc, cluster_name=None, security_group_ids=[rotation_sg],
                           delete_cluster_security_group=False) is True
    assert _exists(ec2, branch["NetworkInterfaceId"])
    groups = {g["GroupId"] for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "SecurityGroups"]}
    assert {rotation_sg, other_sg} <= groups


def test_nothing_happens_on_create_or_update() -> None:
    event = {"RequestType": "Create", "ResourceProperties": {"VpcId": "vpc-1", "ClusterName": CLUSTER}}
    assert cleanup.on_event(event, None) == {"PhysicalResourceId": "eni-cleanup-vpc-1"}
    assert cleanup.is_complete({**event, "RequestType": "Update"}, None) == {"IsComplete": True}
