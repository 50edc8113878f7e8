"""Custom resource that, when its stack deletes it, releases the network interfaces that would keep a security group
or the VPC from being deleted, then reports complete (``is_complete`` is polled by the CDK provider framework).

* Branch ENIs of security groups for pods: the cluster's VPC resource controller deletes them when their pods go,
  but a cluster deleted while such pods still ran leaves them behind, detached ("available"), holding the pods'
  security group and a subnet address. Those of this cluster (tagged by the controller) are deleted here.
* ENIs still attached to a watched security group (branch ENIs of pods that are terminating, the kubectl handler's
  Lambda ENIs that Lambda releases minutes after the function is gone) are waited for: not complete until none is
  left.
* The cluster security group, which EKS creates and deletes with the cluster unless something still uses it then:
  deleted here once nothing does.

Without ``ClusterName`` (a VPC function outside any cluster, such as the database's secret rotation function) it only
waits, deleting nothing.

Nothing happens on create or update. Uses only the Lambda runtime's boto3.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

CONTROLLER_OWNER_TAG = "eks:eni:owner"
CONTROLLER_OWNER = "eks-vpc-resource-controller"
CLUSTER_NAME_TAG = "aws:eks:cluster-name"


def on_event(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    props = event["ResourceProperties"]
    return {"PhysicalResourceId": event.get("PhysicalResourceId") or f"eni-cleanup-{props['VpcId']}"}


def is_complete(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    if event["RequestType"] != "Delete":
        return {"IsComplete": True}
    props = event["ResourceProperties"]
    done = release(boto3.client("ec2"), vpc_id=props["VpcId"], cluster_name=props.get("ClusterName"),
                   security_group_ids=list(props.get("SecurityGroupIds", [])),
                   delete_cluster_security_group=str(props.get("DeleteClusterSecurityGroup")).lower() == "true")
    return {"IsComplete": done}


def _interfaces(ec2: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_network_interfaces").paginate(Filters=filters)
    return [eni for page in pages for eni in page["NetworkInterfaces"]]


def release(ec2: Any, *, vpc_id: str, cluster_name: str | None, security_group_ids: list[str],
            delete_cluster_security_group: bool) -> bool:
    """One pass; True once nothing in the VPC uses the watched security groups (and the cluster's is deleted)."""
    in_vpc = {"Name": "vpc-id", "Values": [vpc_id]}
    groups = list(security_group_ids)
    cluster_group = None
    if delete_cluster_security_group and cluster_name:
        found = ec2.describe_security_groups(Filters=[in_vpc, {"Name": f"tag:{CLUSTER_NAME_TAG}",
                                                               "Values": [cluster_name]}])["SecurityGroups"]
        cluster_group = found[0]["GroupId"] if found else None
        if cluster_group:
            groups.append(cluster_group)
    leaked = _interfaces(ec2, [in_vpc, {"Name": "status", "Values": ["available"]},
                               {"Name": f"tag:{CONTROLLER_OWNER_TAG}", "Values": [CONTROLLER_OWNER]},
                               {"Name": f"tag:kubernetes.io/cluster/{cluster_name}", "Values": ["owned"]}]
                         ) if cluster_name else []
    for eni in leaked:
        try:
            ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
            logger.info("deleted leaked branch ENI %s", eni["NetworkInterfaceId"])
        except ClientError as error:  # gone already, or attached again meanwhile: the next pass sees it
            logger.info("could not delete %s: %s", eni["NetworkInterfaceId"], error)
    remaining = _interfaces(ec2, [in_vpc, {"Name": "group-id", "Values": groups}]) if groups else []
    if remaining:
        logger.info("waiting for %s", ", ".join(f"{e['NetworkInterfaceId']} ({e.get('Description', '')})"
                                                for e in remaining))
        return False
    if cluster_group:
        try:
            ec2.delete_security_group(GroupId=cluster_group)
            logger.info("deleted cluster security group %s", cluster_group)
        except ClientError as error:
            if error.response["Error"]["Code"] != "InvalidGroup.NotFound":
                logger.info("could not delete %s yet: %s", cluster_group, error)
                return False
    return True
