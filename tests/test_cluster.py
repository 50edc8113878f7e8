from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from config.environment import CapacityKind
from tests.synthesis import Synthesized


def test_cluster_runs_a_supported_version_privately_with_encrypted_secrets_and_full_logging(env: Synthesized) -> None:
    cluster = next(iter(env.resources("Cluster", "AWS::EKS::Cluster").values()))["Properties"]
    assert cluster["Version"] == env.config.cluster.kubernetes_version
    assert cluster["ResourcesVpcConfig"]["EndpointPublicAccess"] is False
    assert cluster["ResourcesVpcConfig"]["EndpointPrivateAccess"] is True
    assert cluster["EncryptionConfig"][0]["Resources"] == ["secrets"]
    logged = {t["Type"] for t in cluster["Logging"]["ClusterLogging"]["EnabledTypes"]}
    assert logged == {"api", "audit", "authenticator", "controllerManager", "scheduler"}


def test_cluster_uses_api_authentication_mode(env: Synthesized) -> None:
    cluster = next(iter(env.resources("Cluster", "AWS::EKS::Cluster").values()))["Properties"]
    assert cluster["AccessConfig"]["AuthenticationMode"] == "API"


def test_admin_access_entry_names_the_admin_role_the_stack_creates(env: Synthesized) -> None:
    """Issue 22, finding 2: an access entry for a principal that does not exist fails the Cluster stack after the
    cluster's 15 minutes; the admin role is the stack's own, and no entry names a literal principal (the preflight's
    prerequisites check fails one config does not declare)."""
    roles = env.resources("Cluster", "AWS::IAM::Role")
    [admin] = [lid for lid, r in roles.items() if lid.startswith("PlatformAdminRole")]
    assert roles[admin]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"] == (
        f"arn:aws:iam::{env.config.account}:root")
    entries = [e["Properties"] for e in env.resources("Cluster", "AWS::EKS::AccessEntry").values()
               if e["Properties"]["PrincipalArn"] == {"Fn::GetAtt": [admin, "Arn"]}]
    assert len(entries) == 1
    assert all(not isinstance(e["Properties"]["PrincipalArn"], str)
               for e in env.resources("Cluster", "AWS::EKS::AccessEntry").values())
    assert env.template_json("Cluster")["Outputs"]["AdminRoleArn"]["Value"] == {"Fn::GetAtt": [admin, "Arn"]}
    (policy,) = entries[0]["AccessPolicies"]
    assert policy["AccessScope"] == {"Type": "cluster"}
    assert policy["PolicyArn"]["Fn::Join"][1][-1].endswith("/AmazonEKSClusterAdminPolicy")


def test_node_groups_are_graviton_and_sized_per_config(env: Synthesized) -> None:
    groups = env.resources("Cluster", "AWS::EKS::Nodegroup").values()
    by_pool = {g["Properties"]["Labels"]["platform/pool"]: g["Properties"] for g in groups}
    assert set(by_pool) == {p.name for p in env.config.cluster.node_pools}
    for pool in env.config.cluster.node_pools:
        group = by_pool[pool.name]
        assert group["AmiType"] == "AL2023_ARM_64_STANDARD"
        assert group["InstanceTypes"] == list(pool.instance_types)
        assert group["CapacityType"] == pool.capacity.value
        assert group["ScalingConfig"] == {"MinSize": pool.min_size, "DesiredSize": pool.desired_size,
                                          "MaxSize": pool.max_size}


def test_spot_where_the_environment_allows_it(dev: Synthesized, prod: Synthesized) -> None:
    assert all(p.capacity == CapacityKind.SPOT for p in dev.config.cluster.node_pools if p.name == "workloads")
    prod_groups = [g["Properties"] for g in prod.resources("Cluster", "AWS::EKS::Nodegroup").values()]
    # Prod keeps an on-demand baseline able to hold every minimum replica if Spot capacity is reclaimed.
    assert {g["CapacityType"] for g in prod_groups} == {"ON_DEMAND", "SPOT"}


def test_pod_identity_agent_and_kubectl_provider_are_installed(env: Synthesized) -> None:
    t = env.template("Cluster")
    t.has_resource_properties("AWS::EKS::Addon", {"AddonName": "eks-pod-identity-agent"})
    layers = env.resources("Cluster", "AWS::Lambda::LayerVersion").values()
    assert any("kubectl" in json.dumps(layer).lower() for layer in layers)


def test_load_balancer_controller_is_bound_by_pod_identity(env: Synthesized) -> None:
    t = env.template("Cluster")
    t.has_resource_properties("AWS::EKS::PodIdentityAssociation", {
        "Namespace": "kube-system", "ServiceAccount": "aws-load-balancer-controller"})
    t.has_resource_properties("Custom::AWSCDK-EKS-HelmChart", {"Chart": "aws-load-balancer-controller"})


def test_control_plane_log_group_is_precreated_with_retention_and_cmk(env: Synthesized) -> None:
    (cluster,) = env.resources("Cluster", "AWS::EKS::Cluster").values()
    groups = [(lid, g) for lid, g in env.resources("Cluster", "AWS::Logs::LogGroup").items()
              if g["Properties"].get("LogGroupName") == {"Fn::Join": ["", ["/aws/eks/", cluster["Properties"]["Name"],
                                                                            "/cluster"]]}]
    ((group_id, group),) = groups
    assert group["Properties"]["RetentionInDays"] == env.config.log_retention_days
    assert group["Properties"]["KmsKeyId"]
    assert group_id in cluster["DependsOn"]  # exists before EKS writes to it


def test_every_add_on_is_pinned_from_the_compatibility_table(env: Synthesized) -> None:
    from config.eks_addons import addon_pin

    version = env.config.cluster.kubernetes_version
    addons = {a["Properties"]["AddonName"]: a["Properties"]
              for a in env.resources("Cluster", "AWS::EKS::Addon").values()}
    # CoreDNS and kube-proxy are managed too, so a version bump moves them with the control plane; metrics-server
    # feeds every HPA.
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "metrics-server",
                           "amazon-cloudwatch-observability"}
    for name, props in addons.items():
        pin = addon_pin(version, name)
        assert props["AddonVersion"] == pin.version, name
        # Created over the copy EKS installs itself, without OVERWRITE changed settings fail the creation; and any
        # add-on's update (each Kubernetes upgrade) resolves as NONE when unset (fresh AWS review, finding 8).
        assert props.get("ResolveConflicts") == "OVERWRITE", name


def test_node_groups_follow_the_cluster_version(env: Synthesized) -> None:
    for group in env.resources("Cluster", "AWS::EKS::Nodegroup").values():
        assert group["Properties"]["Version"] == env.config.cluster.kubernetes_version


def test_add_ons_that_run_pods_wait_for_nodes_and_nodes_for_the_network(env: Synthesized) -> None:
    resources = env.template_json("Cluster")["Resources"]
    groups = set(env.resources("Cluster", "AWS::EKS::Nodegroup"))
    by_name = {r["Properties"]["AddonName"]: (lid, r) for lid, r in resources.items() if r["Type"] == "AWS::EKS::Addon"}
    for name in ("coredns", "metrics-server", "amazon-cloudwatch-observability"):
        assert groups <= set(by_name[name][1].get("DependsOn", [])), name
    for group in groups:
        assert {by_name["vpc-cni"][0], by_name["kube-proxy"][0]} <= set(resources[group]["DependsOn"])


def test_application_signals_auto_instrumentation_is_off(env: Synthesized) -> None:
    (addon,) = [a["Properties"] for a in env.resources("Cluster", "AWS::EKS::Addon").values()
                if a["Properties"]["AddonName"] == "amazon-cloudwatch-observability"]
    values = json.loads(addon["ConfigurationValues"])
    assert values["manager"]["applicationSignals"]["autoMonitor"]["monitorAllServices"] is False


def test_load_balancer_controller_injects_readiness_gates(env: Synthesized) -> None:
    (chart,) = [r["Properties"] for r in env.resources("Cluster", "Custom::AWSCDK-EKS-HelmChart").values()
                if r["Properties"]["Chart"] == "aws-load-balancer-controller"]
    parts = chart["Values"]["Fn::Join"][1]
    values = json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))
    assert values["enablePodReadinessGateInject"] is True
    assert values["resources"]["requests"]


def cluster_resources(kubernetes_version: str, addons_from: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The Cluster stack of dev on ``kubernetes_version`` (no nag: this checks wiring), by resource type."""
    import dataclasses

    import aws_cdk as cdk

    from cdk_constructs.log_groups import LogSettings
    from config.environments import DEV
    from stacks.cluster_stack import ClusterStack
    from stacks.network_stack import NetworkStack

    config = dataclasses.replace(DEV, cluster=dataclasses.replace(
        DEV.cluster, kubernetes_version=kubernetes_version, addons_from=addons_from)).validate()
    app = cdk.App()
    env = cdk.Environment(account=config.account, region=config.region)
    network = NetworkStack(app, "Net", config=config.network, removal=config.removal, env=env)
    cluster = ClusterStack(app, "Eks", config=config.cluster, vpc=network.vpc, removal=config.removal, env=env,
                           log_settings=LogSettings(key=network.logs_key, retention_days=config.log_retention_days,
                                                    removal=config.removal))
    resources = app.synth().get_stack_by_name(cluster.stack_name).template["Resources"]
    return {t: [r["Properties"] for r in resources.values() if r["Type"] == t]
            for t in ("AWS::EKS::Cluster", "AWS::EKS::Nodegroup", "AWS::EKS::Addon", "Custom::AWSCDK-EKS-HelmChart")}


def test_a_version_bump_moves_nodes_add_ons_and_autoscaler_with_the_control_plane() -> None:
    """Config's kubernetes_version alone decides every version in the Cluster stack."""
    from config.eks_addons import addon_pin, cluster_autoscaler

    of_type = cluster_resources("1.35")
    assert [c["Version"] for c in of_type["AWS::EKS::Cluster"]] == ["1.35"]
    assert {g["Version"] for g in of_type["AWS::EKS::Nodegroup"]} == {"1.35"}
    assert {a["AddonName"]: a["AddonVersion"] for a in of_type["AWS::EKS::Addon"]} == {
        a["AddonName"]: addon_pin("1.35", a["AddonName"]).version for a in of_type["AWS::EKS::Addon"]}
    (autoscaler,) = [c for c in of_type["Custom::AWSCDK-EKS-HelmChart"] if c["Chart"] == "cluster-autoscaler"]
    assert f'\\"tag\\":\\"{cluster_autoscaler("1.35").image_tag}\\"' in json.dumps(autoscaler["Values"])


def test_step_one_of_an_upgrade_moves_the_add_ons_but_kube_proxy_and_nothing_else() -> None:
    """cluster.addons_from = the next minor: the EKS add-ons take that row's versions, the control plane, the nodes,
    kube-proxy (built for one minor) and the charts stay on the cluster's (docs/deploying.md, "Upgrading
    Kubernetes")."""
    from config.eks_addons import SAME_MINOR, addon_pin, cluster_autoscaler

    staged, plain = cluster_resources("1.34", addons_from="1.35"), cluster_resources("1.34")
    assert [c["Version"] for c in staged["AWS::EKS::Cluster"]] == ["1.34"]
    assert {g["Version"] for g in staged["AWS::EKS::Nodegroup"]} == {"1.34"}
    versions = {a["AddonName"]: a["AddonVersion"] for a in staged["AWS::EKS::Addon"]}
    assert versions == {name: addon_pin("1.34" if name in SAME_MINOR else "1.35", name).version for name in versions}
    assert "kube-proxy" in versions
    assert staged["Custom::AWSCDK-EKS-HelmChart"] == plain["Custom::AWSCDK-EKS-HelmChart"]
    (autoscaler,) = [c for c in staged["Custom::AWSCDK-EKS-HelmChart"] if c["Chart"] == "cluster-autoscaler"]
    assert f'\\"tag\\":\\"{cluster_autoscaler("1.34").image_tag}\\"' in json.dumps(autoscaler["Values"])


RUNBOOK = Path(__file__).resolve().parent.parent / "docs" / "deploying.md"


def runbook_outputs() -> set[str]:
    """The stack outputs the runbook's "Reaching the cluster" section tells an operator to read."""
    text = RUNBOOK.read_text()
    section = text[text.index("### Reaching the cluster"):]
    section = section[:section.index("\n### ", 1)]
    return set(re.findall(r"`(OperatorAccess\w+)`", section))


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_operators_reach_the_private_endpoint_through_what_the_runbook_names(synth: Any, name: str) -> None:
    """The endpoint is private, so kubectl from a person runs in a CloudShell VPC environment (docs/deploying.md,
    "Reaching the cluster"): every output the runbook names exists, the subnets are the VPC's private ones (NAT
    egress), and the security group is admitted by the control plane's group on 443 and opens HTTPS only."""
    env = synth(name)
    cluster = env.template_json("Cluster")
    (eks_cluster,) = [r["Properties"] for r in cluster["Resources"].values() if r["Type"] == "AWS::EKS::Cluster"]
    assert eks_cluster["ResourcesVpcConfig"]["EndpointPublicAccess"] is False
    documented = runbook_outputs()
    assert documented == {"OperatorAccessVpcId", "OperatorAccessSubnetIds", "OperatorAccessSecurityGroupId"}
    outputs = cluster["Outputs"]
    assert documented <= set(outputs), documented - set(outputs)

    network = env.template_json("Network")
    exports = {o["Export"]["Name"]: o["Value"]["Ref"] for o in network["Outputs"].values()
               if "Export" in o and "Ref" in o["Value"]}
    (vpc_id,) = [k for k, r in network["Resources"].items() if r["Type"] == "AWS::EC2::VPC"]
    assert exports[outputs["OperatorAccessVpcId"]["Value"]["Fn::ImportValue"]] == vpc_id
    separator, subnets = outputs["OperatorAccessSubnetIds"]["Value"]["Fn::Join"]
    assert separator == ","
    named = {exports[s["Fn::ImportValue"]] for s in subnets}
    private = {k for k, r in network["Resources"].items() if r["Type"] == "AWS::EC2::Subnet"
               and {"Key": "aws-cdk:subnet-type", "Value": "Private"} in r["Properties"]["Tags"]}
    assert named == private and len(private) == len(env.config.network.availability_zones)

    group = outputs["OperatorAccessSecurityGroupId"]["Value"]["Fn::GetAtt"][0]
    egress = cluster["Resources"][group]["Properties"]["SecurityGroupEgress"]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in egress] == [("tcp", 443, 443)]
    control_plane = eks_cluster["ResourcesVpcConfig"]["SecurityGroupIds"]
    admitting = [r["Properties"] for r in cluster["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"
                 and r["Properties"].get("SourceSecurityGroupId") == {"Fn::GetAtt": [group, "GroupId"]}]
    assert [(r["GroupId"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in admitting] == [
        (control_plane[0], "tcp", 443, 443)]
