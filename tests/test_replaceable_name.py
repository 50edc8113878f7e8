"""Named resources never block a replacement or a re-created stack: the EKS cluster and the orders DB cluster are
named from a hash of their replacement-forcing properties plus the stack's creation id, the log groups named after
them follow, and no log group anywhere has a fixed name a previous stack could have retained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint
import pytest
from aws_cdk import aws_eks as eks_l1
from aws_cdk import aws_logs as logs

from cdk_constructs.replaceable_name import CREATE_ONLY, replaceable_name, stack_creation_id
from tests.synthesis import synthesize

SCHEMAS = Path(cfnlint.__file__).resolve().parent / "data" / "schemas"
STACK_CREATION_ID = cdk.Stack(cdk.App(), "Probe").resolve(stack_creation_id())
NAME_PROPERTY = {"AWS::EKS::Cluster": "Name", "AWS::RDS::DBCluster": "DBClusterIdentifier",
                 "AWS::EKS::Nodegroup": "NodegroupName"}


@pytest.mark.parametrize("resource_type", sorted(CREATE_ONLY))
def test_create_only_properties_are_the_schemas(resource_type: str) -> None:
    index = json.loads((SCHEMAS / "providers" / "eu-west-1.json").read_text())
    schema = json.loads((SCHEMAS / "resources" / f"{index[resource_type]}.json").read_text())
    paths = {p.removeprefix("/properties/") for p in schema["createOnlyProperties"]}
    assert set(CREATE_ONLY[resource_type]) == paths - {NAME_PROPERTY[resource_type]}


def _cluster_and_log_group(**overrides: Any) -> tuple[Any, Any]:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    props: dict[str, Any] = {
        "role_arn": "arn:aws:iam::111111111111:role/eks",
        "resources_vpc_config": eks_l1.CfnCluster.ResourcesVpcConfigProperty(subnet_ids=["subnet-1"]),
        "encryption_config": [eks_l1.CfnCluster.EncryptionConfigProperty(
            resources=["secrets"], provider=eks_l1.CfnCluster.ProviderProperty(key_arn="arn:key/1"))],
        "version": "1.34",
        **overrides,
    }
    holder: dict[str, eks_l1.CfnCluster] = {}
    name = replaceable_name("s-cluster", lambda: holder["cluster"])
    holder["cluster"] = eks_l1.CfnCluster(stack, "Cluster", name=name, **props)
    logs.LogGroup(stack, "ControlPlane", log_group_name=f"/aws/eks/{name}/cluster")
    resources = app.synth().get_stack_by_name("S").template["Resources"]
    group = next(r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup")
    return resources["Cluster"]["Properties"]["Name"], group["Properties"]["LogGroupName"]


def test_a_replacing_change_renames_the_resource_and_its_log_group_follows() -> None:
    name, log_group = _cluster_and_log_group()
    prefix, creation = name["Fn::Join"][1]
    assert prefix.startswith("s-cluster-") and len(prefix) == len("s-cluster-") + 8
    assert creation == STACK_CREATION_ID
    assert log_group == {"Fn::Join": ["", ["/aws/eks/", name, "/cluster"]]}
    # In-place changes (version, subnets) keep the name; replacing ones (key, role) change it.
    assert _cluster_and_log_group(version="1.35")[0] == name
    assert _cluster_and_log_group(
        resources_vpc_config=eks_l1.CfnCluster.ResourcesVpcConfigProperty(subnet_ids=["subnet-2"]))[0] == name
    renamed = _cluster_and_log_group(encryption_config=[eks_l1.CfnCluster.EncryptionConfigProperty(
        resources=["secrets"], provider=eks_l1.CfnCluster.ProviderProperty(key_arn="arn:key/2"))])
    assert renamed[0] != name and renamed[1]["Fn::Join"][1][1] == renamed[0]
    assert _cluster_and_log_group(role_arn="arn:aws:iam::111111111111:role/other")[0] != name


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_cluster_and_database_names_and_their_log_groups(env: str) -> None:
    synthesized = synthesize(env)
    prefix = synthesized.config.stack_prefix
    cluster = synthesized.resources("Cluster", "AWS::EKS::Cluster")
    ((cluster_id, cluster_resource),) = cluster.items()
    name = cluster_resource["Properties"]["Name"]
    assert name["Fn::Join"][1][1] == STACK_CREATION_ID
    control_plane = [g["Properties"]["LogGroupName"] for g in synthesized.resources("Cluster", "AWS::Logs::LogGroup")
                     .values() if "/aws/eks/" in json.dumps(g["Properties"].get("LogGroupName"))]
    assert control_plane == [{"Fn::Join": ["", ["/aws/eks/", name, "/cluster"]]}]
    insights = [g["Properties"]["LogGroupName"] for g in synthesized.resources("Cluster", "AWS::Logs::LogGroup")
                .values() if "containerinsights" in json.dumps(g["Properties"].get("LogGroupName"))]
    assert len(insights) == 4 and all({"Ref": cluster_id} in n["Fn::Join"][1] for n in insights)
    ((_, database),) = synthesized.resources("Data", "AWS::RDS::DBCluster").items()
    identifier = database["Properties"]["DBClusterIdentifier"]
    assert identifier["Fn::Join"][1][0].startswith(f"{prefix.lower()}-data-orders-")
    assert identifier["Fn::Join"][1][1] == STACK_CREATION_ID
    postgres = [g["Properties"]["LogGroupName"] for g in synthesized.resources("Data", "AWS::Logs::LogGroup")
                .values() if "/aws/rds/" in json.dumps(g["Properties"].get("LogGroupName"))]
    assert postgres == [{"Fn::Join": ["", ["/aws/rds/cluster/", identifier, "/postgresql"]]}]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_log_group_has_a_name_a_previous_stack_could_have_left_behind(env: str) -> None:
    """A log group name is generated, names a resource of the same stack (new with it), or carries the stack's
    creation id: never a literal."""
    for stack, template in synthesize(env).all_templates().items():
        for logical_id, r in template["Resources"].items():
            if r["Type"] != "AWS::Logs::LogGroup" or "LogGroupName" not in r["Properties"]:
                continue
            text = json.dumps(r["Properties"]["LogGroupName"])
            assert not isinstance(r["Properties"]["LogGroupName"], str), (stack, logical_id)
            assert '"AWS::StackId"' in text or '{"Ref": "' in text, (stack, logical_id, text)
