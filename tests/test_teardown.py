"""Dev tears down cleanly: every log group's removal comes from config, every function's log group is the app's (no
log group appears outside CloudFormation), and interfaces left behind by the cluster and by pods with their own
security group are released before the security groups and the VPC are deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_constructs.network_interface_cleanup import RESOURCE_TYPE
from tests.synthesis import Synthesized, synthesize
from tools.reports.preflight.teardown import IN_CLUSTER


def test_dev_deletes_everything_it_creates() -> None:
    for stack, template in synthesize("dev").all_templates().items():
        # A kubectl manifest retained on delete (the Load Balancer Controller's CRDs: deleting a CRD deletes every
        # object of its kind) keeps its object in the cluster, which goes with the stack: nothing stays in the account.
        # The storefront's certificate is kept when a domain change replaces it, since CloudFront still serves it
        # until the distribution moves to the new one (docs/deploying.md, "Changing the storefront's domain"); a
        # teardown deletes it like everything else.
        kept = [(lid, r["Type"]) for lid, r in template["Resources"].items()
                if (r.get("DeletionPolicy", "Delete") != "Delete"
                    or (r.get("UpdateReplacePolicy", "Delete") != "Delete"
                        and r["Type"] != "AWS::CertificateManager::Certificate"))
                and r["Type"] not in IN_CLUSTER]
        assert kept == [], stack
        buckets = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
        emptiers = [r for r in template["Resources"].values() if r["Type"] == "Custom::S3AutoDeleteObjects"]
        assert len(emptiers) == len(buckets), f"{stack}: a bucket with objects cannot be deleted"


@pytest.mark.parametrize(("env", "policy"), [("dev", "Delete"), ("staging", "RetainExceptOnCreate"),
                                            ("prod", "RetainExceptOnCreate")])
def test_every_log_groups_removal_comes_from_config(env: str, policy: str) -> None:
    groups = [(stack, lid, r.get("DeletionPolicy")) for stack, t in synthesize(env).all_templates().items()
              for lid, r in t["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"]
    assert groups and all(p == policy for _, _, p in groups), [g for g in groups if g[2] != policy]


def _lambda_log_group_names(template: dict[str, Any]) -> list[str]:
    return [json.dumps(r["Properties"].get("LogGroupName")) for r in template["Resources"].values()
            if r["Type"] == "AWS::Logs::LogGroup"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_function_writes_to_a_log_group_of_the_stack(env: str) -> None:
    """Lambda creates a missing /aws/lambda/NAME group itself: unencrypted, kept forever, outside the teardown."""
    for stack, template in synthesize(env).all_templates().items():
        names = _lambda_log_group_names(template)
        for lid, r in template["Resources"].items():
            if r["Type"] == "AWS::Lambda::Function":
                configured = r["Properties"].get("LoggingConfig", {}).get("LogGroup")
                assert configured or json.dumps({"Fn::Join": ["", ["/aws/lambda/", {"Ref": lid}]]}) in names, \
                    (stack, lid)
            elif r["Type"] == "AWS::Serverless::Application":
                function = r["Properties"]["Parameters"]["functionName"]
                assert json.dumps({"Fn::Join": ["", ["/aws/lambda/", function]]}) in names, (stack, lid)


def _cleanups(env: Synthesized, part: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in env.template_json(part)["Resources"].items() if r["Type"] == RESOURCE_TYPE}


def test_cluster_is_deleted_before_its_leftover_interfaces_and_security_group_are_released(env: Synthesized) -> None:
    ((cleanup_id, cleanup),) = _cleanups(env, "Cluster").items()
    (cluster,) = env.resources("Cluster", "AWS::EKS::Cluster").values()
    assert cleanup_id in cluster["DependsOn"]  # created first, so deleted last
    props = cleanup["Properties"]
    assert props["ClusterName"] == cluster["Properties"]["Name"] and props["DeleteClusterSecurityGroup"] == "true"


def test_pod_security_group_interfaces_are_released_after_their_pods(env: Synthesized) -> None:
    ((cleanup_id, cleanup),) = _cleanups(env, "Services").items()
    resources = env.template_json("Services")["Resources"]
    (orders_workloads,) = [lid for lid in resources if lid.startswith("OrdersServiceWorkloads")]
    assert cleanup_id in resources[orders_workloads]["DependsOn"]
    (group,) = cleanup["Properties"]["SecurityGroupIds"]
    assert "WorkloadSecurityGroup" in json.dumps(group)


def test_cleanup_may_delete_only_controller_interfaces_and_the_clusters_group_in_this_vpc(env: Synthesized) -> None:
    policies = [r["Properties"]["PolicyDocument"]["Statement"] for r in env.resources(
        "Cluster", "AWS::IAM::ManagedPolicy").values()
        if any(s.get("Sid") == "DeleteLeakedBranchInterfaces" for s in r["Properties"]["PolicyDocument"]["Statement"])]
    (statements,) = policies
    by_sid = {s["Sid"]: s for s in statements}
    eni = by_sid["DeleteLeakedBranchInterfaces"]
    assert eni["Action"] == "ec2:DeleteNetworkInterface"
    assert eni["Condition"]["StringEquals"] == {"ec2:ResourceTag/eks:eni:owner": "eks-vpc-resource-controller"}
    assert "ec2:Vpc" in eni["Condition"]["ArnEquals"]
    group = by_sid["DeleteClusterSecurityGroup"]
    assert group["Action"] == "ec2:DeleteSecurityGroup"
    assert set(group["Condition"]["StringEquals"]) == {"ec2:ResourceTag/aws:eks:cluster-name"}
    assert "ec2:Vpc" in group["Condition"]["ArnEquals"]
