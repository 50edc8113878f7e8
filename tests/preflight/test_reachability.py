"""Reachability: security-group flows of pods with their own group, readiness gates, preStop against the target
group's deregistration delay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config import telemetry
from tests.preflight.workbench import Workbench
from tools.preflight import reachability

FLOWS = {"DnsUdp": ("udp", 53), "DnsTcp": ("tcp", 53), "Otlp": ("tcp", telemetry.OTLP_HTTP_PORT),
         "Emf": ("udp", telemetry.EMF_PORT)}


def reachable(wb: Workbench, prestop: int = 35, grace: int = 60) -> Workbench:
    """Dev repaired: the cluster security group admits DNS and telemetry from the orders pods' group, namespaces
    inject readiness gates, API containers sleep in preStop."""
    sgp = next(o for o in wb.objects("Services") if o["kind"] == "SecurityGroupPolicy")
    [orders_group] = sgp["spec"]["securityGroups"]["groupIds"]  # as the Services stack references it
    cluster = next(iter(wb.resources("Cluster", "AWS::EKS::Cluster")))
    wb.template("Cluster").setdefault("Outputs", {})["ClusterGroup"] = {
        "Value": {"Fn::GetAtt": [cluster, "ClusterSecurityGroupId"]}, "Export": {"Name": "Test:ClusterGroup"}}
    for name, (proto, port) in FLOWS.items():
        wb.add("Services", f"ClusterFromOrders{name}", {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "IpProtocol": proto, "FromPort": port, "ToPort": port, "GroupId": {"Fn::ImportValue": "Test:ClusterGroup"},
            "SourceSecurityGroupId": orders_group}})
    wb.edit_objects("Services", "Namespace", lambda n: n["metadata"]["labels"].update(
        {reachability.READINESS_GATE_LABEL: "enabled"}))

    def drain(d: dict[str, Any]) -> None:
        spec = d["spec"]["template"]["spec"]
        spec["terminationGracePeriodSeconds"] = grace
        for c in spec["containers"]:
            if c.get("ports"):
                c["lifecycle"] = {"preStop": {"sleep": {"seconds": prestop}}}

    wb.edit_objects("Services", "Deployment", drain)
    return wb


def test_reachable_platform_passes(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    result = reachability.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert result.figure.startswith("2 workloads with own security groups")


def test_missing_dns_rule_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    del wb.template("Services")["Resources"]["ClusterFromOrdersDnsUdp"]
    findings = reachability.check(wb.assembly(), wb.config).findings
    workloads = "Dev-Services/OrdersServiceWorkloads864370B8: Deployment orders/orders-"
    assert [f.resource for f in findings] == [f"{workloads}api", f"{workloads}worker"]
    assert all(f.message.startswith("DNS to CoreDNS (UDP 53) from Dev-Data/OrdersDatabaseWorkloadSecurityGroup")
               and "no ingress rule of Dev-Cluster/PlatformCluster6842C9C4 (EKS cluster security group)" in f.message
               for f in findings)


def test_missing_telemetry_rule_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    del wb.template("Services")["Resources"]["ClusterFromOrdersEmf"]
    findings = reachability.check(wb.assembly(), wb.config).findings
    assert len(findings) == 2 and all(f"(UDP {telemetry.EMF_PORT})" in f.message for f in findings)


def test_egress_closed_on_the_pod_group_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    group = wb.resources("Data", "AWS::EC2::SecurityGroup")["OrdersDatabaseWorkloadSecurityGroupEAD00ECF"]
    group["Properties"]["SecurityGroupEgress"] = [{"CidrIp": "10.10.0.0/16", "IpProtocol": "tcp", "FromPort": 443,
                                                   "ToPort": 443}]
    messages = [f.message for f in reachability.check(wb.assembly(), wb.config).findings]
    assert any(m.startswith("DNS to CoreDNS (TCP 53)") and "no egress rule of Dev-Data/OrdersDatabaseWorkload" in m
               for m in messages)


def test_namespace_without_readiness_gates_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    wb.edit_objects("Services", "Namespace", lambda n: n["metadata"]["labels"].pop(reachability.READINESS_GATE_LABEL)
                    if n["metadata"]["name"] == "users" else None)
    [finding] = reachability.check(wb.assembly(), wb.config).findings
    assert finding.resource == "Dev-Services/UsersServiceNamespace953C5CCF: Namespace users"
    assert "TargetGroupBinding users/users" in finding.message


def test_prestop_shorter_than_the_deregistration_delay_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"), prestop=20)
    findings = reachability.check(wb.assembly(), wb.config).findings
    assert len(findings) == 4
    assert all("preStop sleeps 20 s, not longer than the deregistration delay" in f.message and "(30 s)" in f.message
               for f in findings)


def test_grace_period_inside_the_prestop_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"), prestop=35, grace=30)
    findings = reachability.check(wb.assembly(), wb.config).findings
    assert len(findings) == 4 and all("terminationGracePeriodSeconds 30 does not exceed" in f.message
                                      for f in findings)


def test_exec_prestop_sleep_is_understood() -> None:
    assert reachability._prestop_seconds({"lifecycle": {"preStop": {"exec": {"command": [
        "/bin/sh", "-c", "sleep 40 && kill -TERM 1"]}}}}) == 40
    assert reachability._prestop_seconds({"lifecycle": {"preStop": {"httpGet": {"path": "/drain"}}}}) is None
