"""Node autoscaling: the Cluster Autoscaler chart pinned to the cluster's minor, bound by Pod Identity to a role that
may resize only this cluster's node groups, discovering them by the tags EKS sets, running on on-demand nodes and
scaling down; its expander prefers the Spot pools by the names the node groups actually get."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk

from cdk_constructs.cluster_autoscaler import SERVICE_ACCOUNT, expander_priorities
from config.eks_addons import cluster_autoscaler
from config.environment import CapacityKind, NodePoolConfig
from policies import cluster_autoscaler as statements
from tests.synthesis import Synthesized


def _chart(env: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    (chart,) = [r["Properties"] for r in env.resources("Cluster", "Custom::AWSCDK-EKS-HelmChart").values()
                if r["Properties"]["Chart"] == "cluster-autoscaler"]
    parts = chart["Values"]["Fn::Join"][1]
    values = json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))
    return chart, values


def test_chart_and_image_match_the_clusters_minor(env: Synthesized) -> None:
    pin = cluster_autoscaler(env.config.cluster.kubernetes_version)
    chart, values = _chart(env)
    assert (chart["Repository"], chart["Version"], chart["Namespace"]) == (pin.repository, pin.version, "kube-system")
    assert values["image"]["tag"] == pin.image_tag
    assert values["image"]["tag"].startswith(f"v{env.config.cluster.kubernetes_version}.")


def test_discovers_this_clusters_node_groups_and_scales_down(env: Synthesized) -> None:
    chart, values = _chart(env)
    (cluster_id,) = env.resources("Cluster", "AWS::EKS::Cluster")
    assert {"Ref": cluster_id} in chart["Values"]["Fn::Join"][1]  # autoDiscovery.clusterName
    assert values["cloudProvider"] == "aws" and values["awsRegion"] == env.config.region
    args = values["extraArgs"]
    assert args["scale-down-enabled"] is True and args["balance-similar-node-groups"] is True
    assert args["expander"] == "priority,least-waste"
    assert args["skip-nodes-with-local-storage"] is False  # the pods' in-memory /tmp must not pin nodes
    assert values["rbac"]["serviceAccount"] == {"create": False, "name": SERVICE_ACCOUNT}


def test_a_deploy_waits_for_the_autoscaler_to_run_and_it_has_nodes_to_run_on(env: Synthesized) -> None:
    """Fresh review, finding 3: without Helm's wait, an autoscaler that never becomes Ready (an image tag missing for
    the minor, a crash loop, a denied call) completed the deploy, and surges stayed Pending later. With it, Helm
    waits within the kubectl handler's 15 minutes, and only once the node groups exist."""
    chart, _ = _chart(env)
    assert chart["Wait"] is True and chart["Timeout"] == "300s"
    (chart_id,) = [k for k, r in env.resources("Cluster", "Custom::AWSCDK-EKS-HelmChart").items()
                   if r["Properties"]["Chart"] == "cluster-autoscaler"]
    depends = set(env.template_json("Cluster")["Resources"][chart_id]["DependsOn"])
    assert set(env.resources("Cluster", "AWS::EKS::Nodegroup")) <= depends


def test_runs_on_an_on_demand_node_group(env: Synthesized) -> None:
    _, values = _chart(env)
    selector = values["nodeSelector"]
    groups = [g["Properties"] for g in env.resources("Cluster", "AWS::EKS::Nodegroup").values()]
    fitting = [g for g in groups if all(g["Labels"].get(k) == v for k, v in selector.items()
                                        if k != "kubernetes.io/arch")]
    assert fitting and all(g["CapacityType"] == "ON_DEMAND" for g in fitting)


def test_expander_prefers_spot_pools_by_the_names_their_groups_get(env: Synthesized) -> None:
    _, values = _chart(env)
    priorities = values["expanderPriorities"]
    assert priorities == expander_priorities(env.config.cluster.node_pools)
    spot_patterns = re.findall(r"\^eks-[a-z0-9-]+-\.\*", priorities)
    for group in env.resources("Cluster", "AWS::EKS::Nodegroup").values():
        prefix = group["Properties"]["NodegroupName"]["Fn::Join"][1][0]
        asg_name = f"eks-{prefix}-0a1b2c3d-1111-2222-3333-444455556666"  # as EKS names a group's ASG
        is_spot = group["Properties"]["CapacityType"] == "SPOT"
        assert any(re.match(p, asg_name) for p in spot_patterns) == is_spot, prefix


def test_expander_priorities_text() -> None:
    pools = (NodePoolConfig("base", ("m7g.large",), CapacityKind.ON_DEMAND, 1, 1, 2),
             NodePoolConfig("burst", ("m7g.large", "m6g.large"), CapacityKind.SPOT, 0, 0, 4))
    assert expander_priorities(pools) == "10:\n  - .*\n50:\n  - ^eks-burst-.*\n"
    assert expander_priorities(pools[:1]) == "10:\n  - .*\n"


def test_role_is_bound_by_pod_identity_and_may_resize_only_this_clusters_groups(env: Synthesized) -> None:
    resources = env.template_json("Cluster")["Resources"]
    (association,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EKS::PodIdentityAssociation"
                      and r["Properties"]["ServiceAccount"] == SERVICE_ACCOUNT]
    assert association["Namespace"] == "kube-system"
    role_id = association["RoleArn"]["Fn::GetAtt"][0]
    policies = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"
                and {"Ref": role_id} in r["Properties"].get("Roles", [])]
    (document,) = [p["PolicyDocument"] for p in policies]
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert set(by_sid) == {"DiscoverNodeGroups", "DescribeOwnNodeGroups", "ScaleOwnNodeGroups"}
    (cluster_id,) = env.resources("Cluster", "AWS::EKS::Cluster")
    scale = by_sid["ScaleOwnNodeGroups"]
    assert sorted(scale["Action"]) == sorted(statements.SCALE_ACTIONS)
    assert scale["Condition"]["StringEquals"] == {"aws:ResourceTag/eks:cluster-name": {"Ref": cluster_id},
                                                  "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"}
    assert {"Ref": cluster_id} in by_sid["DescribeOwnNodeGroups"]["Resource"]["Fn::Join"][1]
    assert not [a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                              else s["Action"]) if a.endswith("*")]


def test_statements_without_a_cluster_name_condition_are_read_only() -> None:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    describe = stack.resolve(statements.describe_statement().to_statement_json())
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in describe["Action"])
    scale = stack.resolve(statements.scale_statement(stack, "my-cluster").to_statement_json())
    assert scale["Condition"]["StringEquals"]["aws:ResourceTag/eks:cluster-name"] == "my-cluster"
    nodegroups = stack.resolve(statements.describe_node_groups_statement(stack, "my-cluster").to_statement_json())
    assert json.dumps(nodegroups["Resource"]).endswith(':nodegroup/my-cluster/*/*"]]}')
