"""Reachability: security-group flows of pods with their own group, readiness gates, preStop against the target
group's deregistration delay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config import telemetry
from tests.preflight.workbench import Workbench
from tools.reports.preflight import reachability

FLOWS = {"DnsUdp": ("udp", 53), "DnsTcp": ("tcp", 53), "Otlp": ("tcp", telemetry.OTLP_HTTP_PORT),
         "Emf": ("udp", telemetry.EMF_PORT)}


def orders_group(wb: Workbench) -> Any:
    """The security group the SecurityGroupPolicy gives the orders pods, as the Services stack references it."""
    sgp = next(o for o in wb.objects("Services") if o["kind"] == "SecurityGroupPolicy")
    [group] = sgp["spec"]["securityGroups"]["groupIds"]
    return group


def admitting(wb: Workbench, protocol: str, port: int) -> list[tuple[str, str]]:
    """(part, logical id) of every ingress rule of the cluster security group that admits the pods' own group on
    ``protocol``/``port``, wherever the app declares it."""
    assembly = wb.assembly()
    net = reachability.Network(assembly, [])
    pods = net.group(wb.stack("Services"), orders_group(wb))
    out = []
    for part in wb.parts:
        for lid, body in wb.resources(part, "AWS::EC2::SecurityGroupIngress").items():
            p = body["Properties"]
            owner = net.group(wb.stack(part), p["GroupId"])
            peer = net.group(wb.stack(part), p.get("SourceSecurityGroupId"))
            if (owner and owner.eks_cluster and peer == pods and str(p["IpProtocol"]) in (protocol, "-1")
                    and int(p.get("FromPort", 0)) <= port <= int(p.get("ToPort", 65535))):
                out.append((part, lid))
    return out


def deregistration_delays(wb: Workbench) -> set[int]:
    return {int(a["Value"]) for b in wb.resources("Edge", "AWS::ElasticLoadBalancingV2::TargetGroup").values()
            for a in b["Properties"].get("TargetGroupAttributes", [])
            if a["Key"] == "deregistration_delay.timeout_seconds"}


def reachable(wb: Workbench, prestop: int | None = None, grace: int | None = None) -> Workbench:
    """Dev repaired where it needs it: the cluster security group admits DNS and telemetry from the orders pods'
    group (rules added only where the app has none), namespaces inject readiness gates, API containers sleep in
    preStop (``prestop`` seconds, by default past every deregistration delay) inside the grace period."""
    for name, (proto, port) in FLOWS.items():
        if not admitting(wb, proto, port):
            cluster = next(iter(wb.resources("Cluster", "AWS::EKS::Cluster")))
            wb.template("Cluster").setdefault("Outputs", {})["ClusterGroup"] = {
                "Value": {"Fn::GetAtt": [cluster, "ClusterSecurityGroupId"]}, "Export": {"Name": "Test:ClusterGroup"}}
            wb.add("Services", f"ClusterFromOrders{name}", {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "IpProtocol": proto, "FromPort": port, "ToPort": port,
                "GroupId": {"Fn::ImportValue": "Test:ClusterGroup"}, "SourceSecurityGroupId": orders_group(wb)}})
    wb.edit_objects("Services", "Namespace", lambda n: n["metadata"].setdefault("labels", {}).update(
        {reachability.READINESS_GATE_LABEL: "enabled"}))
    seconds = (prestop if prestop is not None
               else reachability.NLB_DEREGISTRATION_SECONDS + max(deregistration_delays(wb) | {0}))

    def drain(d: dict[str, Any]) -> None:
        spec = d["spec"]["template"]["spec"]
        spec["terminationGracePeriodSeconds"] = grace if grace is not None else seconds + 20
        for c in spec["containers"]:
            if c.get("ports"):
                c["lifecycle"] = {"preStop": {"sleep": {"seconds": seconds}}}

    wb.edit_objects("Services", "Deployment", drain)
    return wb


def test_reachable_platform_passes(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    result = reachability.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert result.figure.startswith("2 workloads with own security groups")


def pod_group(wb: Workbench) -> reachability.Group:
    group = reachability.Network(wb.assembly(), []).group(wb.stack("Services"), orders_group(wb))
    assert group is not None
    return group


def test_missing_dns_rule_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    for part, lid in admitting(wb, "udp", 53):
        wb.remove(part, lid)
    assembly = wb.assembly()
    findings = reachability.check(assembly, wb.config).findings
    sgp = next(iter(assembly.objects("SecurityGroupPolicy")))
    assert [f.resource for f in findings] == [o.ref for o in assembly.objects("Deployment")
                                              if o.namespace == sgp.namespace]
    cluster = next(iter(wb.resources("Cluster", "AWS::EKS::Cluster")))
    assert all(f.message.startswith(f"DNS to CoreDNS (UDP 53) from {pod_group(wb)}")
               and f"no ingress rule of {wb.stack('Cluster')}/{cluster} (EKS cluster security group)" in f.message
               for f in findings)


def test_missing_telemetry_rule_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    for part, lid in admitting(wb, "udp", telemetry.EMF_PORT):
        wb.remove(part, lid)
    findings = reachability.check(wb.assembly(), wb.config).findings
    assert len(findings) == 2 and all(f"(UDP {telemetry.EMF_PORT})" in f.message for f in findings)


def test_egress_closed_on_the_pod_group_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    pods = pod_group(wb)
    group = wb.template(pods.stack.removeprefix(f"{wb.config.stack_prefix}-"))["Resources"][pods.logical_id]
    group["Properties"]["SecurityGroupEgress"] = [{"CidrIp": wb.config.network.cidr, "IpProtocol": "tcp",
                                                   "FromPort": 443, "ToPort": 443}]
    messages = [f.message for f in reachability.check(wb.assembly(), wb.config).findings]
    assert any(m.startswith("DNS to CoreDNS (TCP 53)") and f"no egress rule of {pods} admits it" in m
               for m in messages)


def test_namespace_without_readiness_gates_fails(bench: Callable[[str], Workbench]) -> None:
    wb = reachable(bench("dev"))
    wb.edit_objects("Services", "Namespace", lambda n: n["metadata"]["labels"].pop(reachability.READINESS_GATE_LABEL)
                    if n["metadata"]["name"] == "users" else None)
    assembly = wb.assembly()
    [finding] = reachability.check(assembly, wb.config).findings
    assert finding.resource == next(n.ref for n in assembly.objects("Namespace") if n.name == "users")
    assert "TargetGroupBinding users/users" in finding.message


def test_prestop_shorter_than_the_deregistration_delay_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    [delay] = deregistration_delays(wb)
    wb = reachable(wb, prestop=delay)
    findings = reachability.check(wb.assembly(), wb.config).findings
    assert len(findings) == len(wb.resources("Edge", "AWS::ElasticLoadBalancingV2::TargetGroup"))
    assert all(f"preStop sleeps {delay} s, not longer than the deregistration delay" in f.message
               and f"({delay} s)" in f.message for f in findings)
    assert all(f.resource.endswith("-api") for f in findings)


def test_grace_period_inside_the_prestop_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    prestop = reachability.NLB_DEREGISTRATION_SECONDS + max(deregistration_delays(wb))
    wb = reachable(wb, prestop=prestop, grace=prestop)
    findings = reachability.check(wb.assembly(), wb.config).findings
    assert len(findings) == len(wb.resources("Edge", "AWS::ElasticLoadBalancingV2::TargetGroup"))
    assert all(f"terminationGracePeriodSeconds {prestop} does not exceed" in f.message for f in findings)


def test_exec_prestop_sleep_is_understood() -> None:
    assert reachability._prestop_seconds({"lifecycle": {"preStop": {"exec": {"command": [
        "/bin/sh", "-c", "sleep 40 && kill -TERM 1"]}}}}) == 40
    assert reachability._prestop_seconds({"lifecycle": {"preStop": {"httpGet": {"path": "/drain"}}}}) is None


def test_prestop_shorter_than_an_nlb_deregistration_fails(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 4: an NLB keeps sending new connections to a deregistering target for up to 5 minutes, then
    drains it: a pod that stops before that drops them, on every rollout, scale-in, drain and Spot reclaim. The
    preStop of main (90 s) fails; the app's own passes, with nothing said in the details."""
    wb = bench("dev")
    [delay] = deregistration_delays(wb)
    wb = reachable(wb, prestop=90, grace=130)
    findings = reachability.check(wb.assembly(), wb.config).findings
    assert len(findings) == len(wb.resources("Edge", "AWS::ElasticLoadBalancingV2::TargetGroup"))
    assert all("preStop sleeps 90 s" in f.message and "Network Load Balancer's" in f.message
               and f"needs {reachability.NLB_DEREGISTRATION_SECONDS + delay} s or more" in f.message for f in findings)
    app = bench("dev")
    result = reachability.check(app.assembly(), app.config)
    assert result.ok and not result.details, result.findings
