"""Reachability: the traffic the workloads need is allowed by the security groups, and load-balanced pods leave
their target groups before they stop.

Security groups for pods (EKS user guide, networking add-ons, "Security groups for Pods"): a pod selected by a
``SecurityGroupPolicy`` gets a branch ENI with only that policy's groups, so everything it needs must be allowed
for those groups: "outbound communication over TCP and UDP ports 53 to a security group assigned to the Pods (or
nodes that the Pods run on) running CoreDNS", and inbound "TCP and UDP port 53 traffic from the security group that
you specify" on CoreDNS's side. CoreDNS, the telemetry agent and the kubelet run on the nodes, behind the nodes'
security group (the EKS cluster security group for managed node groups without a launch template). Each flow is
judged from the templates: inline rules of ``AWS::EC2::SecurityGroup``, ``AWS::EC2::SecurityGroupIngress/Egress``
resources, references resolved across stacks (``Ref``, ``Fn::GetAtt``, ``Fn::ImportValue``, ``Fn::GetStackOutput``),
and the rules EKS gives the cluster security group (all traffic from itself, all egress).

Flows checked for every pod with its own security group: DNS (TCP and UDP 53 to every node group), the telemetry
agent's ports its environment names (``config/telemetry.py``: OTLP over HTTP, EMF over UDP), kubelet probes (from
the nodes), and every in-cluster destination its NetworkPolicies allow. For every TargetGroupBinding: the load
balancer reaches the pods on the target port, the namespace injects pod readiness gates
(``elbv2.k8s.aws/pod-readiness-gate-inject: enabled``, so a rollout waits for the new pods to be healthy targets),
the serving containers' preStop outlasts the target group's deregistration delay (default 300 s) and
``terminationGracePeriodSeconds`` (default 30 s) exceeds the preStop. Behind a Network Load Balancer the preStop must
also outlast the time the NLB takes to stop sending new connections to a deregistering target
(:data:`NLB_DEREGISTRATION_SECONDS`, which no template setting shortens) plus the deregistration delay: a pod that
stops earlier refuses connections the NLB still sends it, on every rollout, scale-in, drain and Spot reclaim.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from config import telemetry
from config.environment import EnvironmentConfig
from tools.assembly import Assembly, KubernetesObject, Resource
from tools.reports.preflight.create_times import NLB_DEREGISTRATION_MAX_MINUTES
from tools.reports.preflight.kube import selector_matches
from tools.reports.preflight.model import CheckResult, Finding

NAME = "reachability"
READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"
DEFAULT_DEREGISTRATION_DELAY = 300
DEFAULT_GRACE_PERIOD = 30
# A Network Load Balancer processes a deregistration in 3-5 minutes, sending new connections to the target meanwhile
# (AWS support, quoted in aws-load-balancer-controller#1834; #3270 measures about 2 minutes with a 5 s delay): the
# check holds a pod to the upper bound.
NLB_DEREGISTRATION_SECONDS = int(NLB_DEREGISTRATION_MAX_MINUTES * 60)
ALL = "0.0.0.0/0"
_PROTOCOLS = {"-1": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}


@dataclass(frozen=True)
class Group:
    """A security group: one the templates create, or the cluster security group EKS creates."""

    stack: str
    logical_id: str
    eks_cluster: bool = False

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id}" + (" (EKS cluster security group)" if self.eks_cluster else "")


@dataclass(frozen=True)
class Rule:
    protocol: str  # all, tcp, udp, icmp
    from_port: int | None
    to_port: int | None
    peer_group: Group | None
    peer_cidr: str | None

    def covers(self, protocol: str, port: int) -> bool:
        if self.protocol == "all":
            return True
        if self.protocol != protocol or self.from_port is None or self.to_port is None:
            return False
        return self.from_port <= port <= self.to_port


@dataclass(frozen=True)
class Flow:
    what: str
    protocol: str
    port: int
    source: frozenset[Group]
    destination: frozenset[Group]


class Network:
    """The security groups of an assembly and their rules."""

    def __init__(self, assembly: Assembly, pod_cidrs: list[str]) -> None:
        self.assembly = assembly
        self.pod_cidrs = pod_cidrs
        self.ingress: dict[Group, list[Rule]] = {}
        self.egress: dict[Group, list[Rule]] = {}
        for sg in assembly.resources("AWS::EC2::SecurityGroup"):
            g = Group(sg.stack, sg.logical_id)
            self.ingress.setdefault(g, [])
            self.egress.setdefault(g, [])
            for raw in sg.properties.get("SecurityGroupIngress") or []:
                self._add(self.ingress, g, sg.stack, raw, "SourceSecurityGroupId")
            if "SecurityGroupEgress" in sg.properties:
                for raw in sg.properties.get("SecurityGroupEgress") or []:
                    self._add(self.egress, g, sg.stack, raw, "DestinationSecurityGroupId")
            else:  # without egress rules, EC2 adds "all traffic to 0.0.0.0/0"
                self.egress[g].append(Rule("all", None, None, None, ALL))
        for cluster in assembly.resources("AWS::EKS::Cluster"):
            g = self.cluster_group(cluster)
            # EKS creates it with: inbound all traffic from itself, outbound all traffic (EKS user guide,
            # "View Amazon EKS security group requirements for clusters").
            self.ingress.setdefault(g, []).append(Rule("all", None, None, g, None))
            self.egress.setdefault(g, []).append(Rule("all", None, None, None, ALL))
        for r in assembly.resources("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            owner = self.group(r.stack, r.properties.get("GroupId"))
            if owner is None:
                continue
            if r.type.endswith("Ingress"):
                self._add(self.ingress, owner, r.stack, r.properties, "SourceSecurityGroupId")
            else:
                self._add(self.egress, owner, r.stack, r.properties, "DestinationSecurityGroupId")

    @staticmethod
    def cluster_group(cluster: Resource) -> Group:
        return Group(cluster.stack, cluster.logical_id, eks_cluster=True)

    def group(self, stack: str, value: Any) -> Group | None:
        t = self.assembly.target(stack, value)
        if t is None:
            return None
        r = self.assembly.resource(t.stack, t.logical_id)
        if r is None:
            return None
        if r.type == "AWS::EC2::SecurityGroup" and t.attribute in (None, "GroupId"):
            return Group(t.stack, t.logical_id)
        if r.type == "AWS::EKS::Cluster" and t.attribute == "ClusterSecurityGroupId":
            return self.cluster_group(r)
        return None

    def _add(self, table: dict[Group, list[Rule]], owner: Group, stack: str, raw: dict[str, Any],
             peer_key: str) -> None:
        protocol = _PROTOCOLS.get(str(self.assembly.literal(stack, raw.get("IpProtocol"))).lower(), "other")
        from_port = _int(self.assembly.literal(stack, raw.get("FromPort")))
        to_port = _int(self.assembly.literal(stack, raw.get("ToPort")))
        peer = self.group(stack, raw[peer_key]) if peer_key in raw else None
        cidr = self.assembly.literal(stack, raw.get("CidrIp")) if "CidrIp" in raw else None
        if peer is None and cidr is None:
            return  # IPv6, prefix lists or deploy-time values: allow nothing the check can vouch for
        table.setdefault(owner, []).append(Rule(protocol, from_port, to_port, peer, cidr))

    def _cidr_covers(self, cidr: str | None) -> bool:
        if cidr is None:
            return False
        try:
            net = ipaddress.ip_network(cidr, strict=False)
            return all(ipaddress.ip_network(p).subnet_of(net) for p in self.pod_cidrs)  # type: ignore[arg-type]
        except ValueError:
            return False

    def allows(self, flow: Flow) -> str | None:
        """None when the flow is allowed both ways; otherwise which side refuses it."""
        out_ok = any(rule.covers(flow.protocol, flow.port)
                     and ((rule.peer_group in flow.destination) or self._cidr_covers(rule.peer_cidr))
                     for g in flow.source for rule in self.egress.get(g, []))
        in_ok = any(rule.covers(flow.protocol, flow.port)
                    and ((rule.peer_group in flow.source) or self._cidr_covers(rule.peer_cidr))
                    for g in flow.destination for rule in self.ingress.get(g, []))
        if out_ok and in_ok:
            return None
        missing = []
        if not out_ok:
            missing.append(f"no egress rule of {_names(flow.source)} admits it")
        if not in_ok:
            missing.append(f"no ingress rule of {_names(flow.destination)} admits it")
        return "; ".join(missing)


def _names(groups: Iterable[Group]) -> str:
    return ", ".join(sorted(str(g) for g in groups))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# --- workloads --------------------------------------------------------------------------------------------------------

def _pod_template(o: KubernetesObject) -> dict[str, Any]:
    return dict(o.manifest.get("spec", {}).get("template", {}))


def _containers(o: KubernetesObject) -> list[dict[str, Any]]:
    return list(_pod_template(o).get("spec", {}).get("containers", []) or [])


def _node_groups_security(assembly: Assembly, net: Network) -> list[frozenset[Group]]:
    """The security groups of each node group's nodes: the launch template's groups, else the cluster's."""
    clusters = [net.cluster_group(c) for c in assembly.resources("AWS::EKS::Cluster")]
    out: list[frozenset[Group]] = []
    for ng in assembly.resources("AWS::EKS::Nodegroup"):
        groups: set[Group] = set()
        lt = ng.properties.get("LaunchTemplate")
        target = assembly.target(ng.stack, (lt or {}).get("Id") or (lt or {}).get("Name") or {}) if lt else None
        template = assembly.resource(target.stack, target.logical_id) if target else None
        if template is not None:
            data = template.properties.get("LaunchTemplateData", {})
            refs = list(data.get("SecurityGroupIds") or [])
            for nic in data.get("NetworkInterfaces") or []:
                refs += list(nic.get("Groups") or [])
            groups = {g for ref in refs if (g := net.group(template.stack, ref)) is not None}
        node_set = frozenset(groups or clusters)
        if node_set not in out:
            out.append(node_set)
    return out or [frozenset(clusters)]


def _sgp_groups(assembly: Assembly, net: Network, workload: KubernetesObject) -> frozenset[Group] | None:
    labels = dict(_pod_template(workload).get("metadata", {}).get("labels", {}))
    sa = str(_pod_template(workload).get("spec", {}).get("serviceAccountName", "default"))
    for sgp in assembly.objects("SecurityGroupPolicy"):
        if sgp.namespace != workload.namespace:
            continue
        spec = sgp.manifest.get("spec", {})
        if not (("podSelector" in spec and selector_matches(spec["podSelector"], labels))
                or ("serviceAccountSelector" in spec and selector_matches(spec["serviceAccountSelector"],
                                                                          {"name": sa}))):
            continue
        ids = (spec.get("securityGroups") or {}).get("groupIds") or []
        return frozenset(g for i in ids if (g := net.group(sgp.resource.stack, i)) is not None)
    return None


def _named_port(o: KubernetesObject, port: Any) -> int | None:
    if isinstance(port, int):
        return port
    for c in _containers(o):
        for p in c.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
    return _int(str(port)) if str(port).isdigit() else None


def _probe_ports(o: KubernetesObject) -> set[int]:
    ports: set[int] = set()
    for c in _containers(o):
        for key in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(key) or {}
            for kind in ("httpGet", "tcpSocket", "grpc"):
                if kind in probe and (p := _named_port(o, probe[kind].get("port"))) is not None:
                    ports.add(p)
    return ports


def _agent_flows(o: KubernetesObject) -> set[tuple[str, int]]:
    """(protocol, port) of every telemetry endpoint the pod's environment points at the agent's service."""
    flows: set[tuple[str, int]] = set()
    for c in _containers(o):
        for env in c.get("env") or []:
            value = env.get("value")
            if not isinstance(value, str) or telemetry.AGENT_HOST not in value:
                continue
            url = urlsplit(value)
            if url.port is not None:
                flows.add(("udp" if url.scheme == "udp" else "tcp", url.port))
    return flows


def _workloads_in(assembly: Assembly, namespace: str, selector: dict[str, Any] | None) -> list[KubernetesObject]:
    return [o for o in assembly.objects("Deployment", "StatefulSet", "DaemonSet")
            if o.namespace == namespace
            and selector_matches(selector or {}, dict(_pod_template(o).get("metadata", {}).get("labels", {})))]


def _policy_destinations(assembly: Assembly, o: KubernetesObject) -> list[tuple[str, list[KubernetesObject],
                                                                                 list[tuple[str, int]]]]:
    """(namespace, its selected workloads, ports) for every in-cluster egress the pod's NetworkPolicies allow."""
    labels = dict(_pod_template(o).get("metadata", {}).get("labels", {}))
    out = []
    for np in assembly.objects("NetworkPolicy"):
        spec = np.manifest.get("spec", {})
        if np.namespace != o.namespace or not selector_matches(spec.get("podSelector") or {}, labels):
            continue
        for rule in spec.get("egress") or []:
            ports = [(str(p.get("protocol", "TCP")).lower(), int(p["port"])) for p in rule.get("ports") or []
                     if isinstance(p.get("port"), int)]
            for peer in rule.get("to") or []:
                ns_sel = peer.get("namespaceSelector")
                if ns_sel is None:
                    continue
                names = (ns_sel.get("matchLabels") or {}).get("kubernetes.io/metadata.name")
                if not names:
                    continue
                out.append((str(names), _workloads_in(assembly, str(names), peer.get("podSelector")), ports))
    return out


def _prestop_seconds(container: dict[str, Any]) -> float | None:
    pre = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre:
        return float(pre["sleep"].get("seconds", 0))
    command = " ".join(str(x) for x in (pre.get("exec") or {}).get("command") or [])
    m = re.search(r"(?:^|[\s;&|/])sleep\s+(\d+(?:\.\d+)?)", command)
    return float(m.group(1)) if m else None


# --- the check --------------------------------------------------------------------------------------------------------

def _pod_cidrs(assembly: Assembly, config: EnvironmentConfig) -> list[str]:
    cidrs: list[str] = []
    for ng in assembly.resources("AWS::EKS::Nodegroup"):
        for s in ng.properties.get("Subnets") or []:
            t = assembly.target(ng.stack, s)
            subnet = assembly.resource(t.stack, t.logical_id) if t else None
            cidr = assembly.literal(subnet.stack, subnet.properties.get("CidrBlock")) if subnet else None
            if cidr and cidr not in cidrs:
                cidrs.append(cidr)
    return cidrs or [config.network.cidr]


def _load_balancer_groups(assembly: Assembly, net: Network, tg: Resource) -> frozenset[Group]:
    groups: set[Group] = set()
    for listener in assembly.resources("AWS::ElasticLoadBalancingV2::Listener"):
        actions = listener.properties.get("DefaultActions") or []
        arns = [a.get("TargetGroupArn") for a in actions]
        arns += [t.get("TargetGroupArn") for a in actions for t in (a.get("ForwardConfig") or {}).get(
            "TargetGroups") or []]
        if not any((t := assembly.target(listener.stack, arn)) and (t.stack, t.logical_id) == (tg.stack, tg.logical_id)
                   for arn in arns if arn is not None):
            continue
        lb_target = assembly.target(listener.stack, listener.properties.get("LoadBalancerArn"))
        lb = assembly.resource(lb_target.stack, lb_target.logical_id) if lb_target else None
        if lb is None:
            continue
        for ref in lb.properties.get("SecurityGroups") or []:
            if (g := net.group(lb.stack, ref)) is not None:
                groups.add(g)
    return frozenset(groups)


def _network_target_group(tg: Resource) -> bool:
    return str(tg.properties.get("Protocol", "")).upper() in ("TCP", "UDP", "TCP_UDP", "TLS")


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    net = Network(assembly, _pod_cidrs(assembly, config))
    node_sets = _node_groups_security(assembly, net)
    every_node = frozenset().union(*node_sets)
    flows_checked = 0

    def need(o: KubernetesObject, flow: Flow, destinations: list[frozenset[Group]]) -> None:
        nonlocal flows_checked
        for dest in destinations:
            flows_checked += 1
            refused = net.allows(Flow(flow.what, flow.protocol, flow.port, flow.source, dest))
            if refused:
                findings.append(Finding(o.ref, f"{flow.what} ({flow.protocol.upper()} {flow.port}) from "
                                               f"{_names(flow.source)} to {_names(dest)}: {refused}"))

    def pod_groups(o: KubernetesObject) -> list[frozenset[Group]]:
        own = _sgp_groups(assembly, net, o)
        return [own] if own is not None else node_sets

    pods_with_groups = 0
    for o in assembly.objects("Deployment", "StatefulSet", "DaemonSet"):
        own = _sgp_groups(assembly, net, o)
        if own is None:
            continue
        pods_with_groups += 1
        if not own:
            findings.append(Finding(o.ref, "its SecurityGroupPolicy names no security group the templates define"))
            continue
        for proto in ("udp", "tcp"):
            need(o, Flow("DNS to CoreDNS", proto, 53, own, frozenset()), node_sets)
        for proto, port in sorted(_agent_flows(o)):
            need(o, Flow("telemetry to the CloudWatch agent", proto, port, own, frozenset()), node_sets)
        for port in sorted(_probe_ports(o)):
            flows_checked += 1
            refused = net.allows(Flow("kubelet probe", "tcp", port, every_node, own))
            if refused:
                findings.append(Finding(o.ref, f"kubelet probes (TCP {port}) from the nodes ({_names(every_node)}) "
                                               f"to its own group: {refused}"))
        for namespace, targets, ports in _policy_destinations(assembly, o):
            if namespace in ("kube-system", telemetry.AGENT_NAMESPACE) and not targets:
                continue  # CoreDNS and the agent: checked above with the ports the pod actually uses
            destinations = [d for t in targets for d in pod_groups(t)] if targets else node_sets
            for proto, port in ports:
                need(o, Flow(f"egress its NetworkPolicy allows to {namespace}", proto, port, own, frozenset()),
                     list(dict.fromkeys(destinations)))

    bindings = assembly.objects("TargetGroupBinding")
    namespaces = {n.name: n for n in assembly.objects("Namespace")}
    for tgb in bindings:
        spec = tgb.manifest.get("spec", {})
        ns = namespaces.get(tgb.namespace)
        labels = (ns.manifest.get("metadata", {}).get("labels") or {}) if ns else {}
        if labels.get(READINESS_GATE_LABEL) != "enabled":
            where = ns.ref if ns else f"namespace {tgb.namespace} (not created by the app)"
            findings.append(Finding(where, f"lacks the label {READINESS_GATE_LABEL}: enabled, so a rollout of the "
                                           f"pods behind {tgb.ref} does not wait for them to be healthy targets"))
        t = assembly.target(tgb.resource.stack, spec.get("targetGroupARN"))
        tg = assembly.resource(t.stack, t.logical_id) if t else None
        if tg is None or tg.type != "AWS::ElasticLoadBalancingV2::TargetGroup":
            findings.append(Finding(tgb.ref, "targetGroupARN names no target group of the assembly"))
            continue
        attrs = {a.get("Key"): a.get("Value") for a in tg.properties.get("TargetGroupAttributes") or []}
        delay = int(assembly.literal(tg.stack, attrs.get("deregistration_delay.timeout_seconds"))
                    or DEFAULT_DEREGISTRATION_DELAY)
        service_ref = spec.get("serviceRef", {})
        service = next((s for s in assembly.objects("Service")
                        if s.namespace == tgb.namespace and s.name == service_ref.get("name")), None)
        if service is None:
            findings.append(Finding(tgb.ref, f"serviceRef {service_ref.get('name')} is not a Service of the app"))
            continue
        svc_spec = service.manifest.get("spec", {})
        service_port = next((p for p in svc_spec.get("ports") or []
                             if service_ref.get("port") in (p.get("port"), p.get("name"))), None)
        backends = _workloads_in(assembly, tgb.namespace, {"matchLabels": svc_spec.get("selector") or {}})
        if service_port is None or not backends:
            findings.append(Finding(tgb.ref, "its Service port or the pods behind it are not in the assembly"))
            continue
        lb_groups = _load_balancer_groups(assembly, net, tg)
        for w in backends:
            target_port = _named_port(w, service_port.get("targetPort", service_port.get("port")))
            if target_port is not None and lb_groups:
                need(w, Flow(f"load balancer traffic for {tg.logical_id}", "tcp", target_port, lb_groups,
                             frozenset()), pod_groups(w))
            grace = int(_pod_template(w).get("spec", {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD))
            serving = [c for c in _containers(w)
                       if target_port in {p.get("containerPort") for p in c.get("ports") or []}] or _containers(w)
            for c in serving:
                pre = _prestop_seconds(c)
                name = f"container {c.get('name')}"
                if pre is None:
                    findings.append(Finding(w.ref, f"{name} has no preStop sleep: it stops while the target group "
                                                   f"{tg.logical_id} still sends to it (deregistration delay "
                                                   f"{delay} s)"))
                    continue
                if pre <= delay:
                    findings.append(Finding(w.ref, f"{name} preStop sleeps {pre:g} s, not longer than the "
                                                   f"deregistration delay of {tg.logical_id} ({delay} s)"))
                elif _network_target_group(tg) and pre < NLB_DEREGISTRATION_SECONDS + delay:
                    findings.append(Finding(w.ref, f"{name} preStop sleeps {pre:g} s, but {tg.logical_id} is a "
                                                   f"Network Load Balancer's: it keeps opening new connections to a "
                                                   f"deregistering target until the deregistration is processed, up "
                                                   f"to {NLB_DEREGISTRATION_SECONDS} s as AWS support states it "
                                                   "(aws-load-balancer-controller#1834, #3270), then drains for "
                                                   f"{delay} s; the pod stops before that and those connections fail "
                                                   f"(needs {NLB_DEREGISTRATION_SECONDS + delay} s or more)"))
                if grace <= pre:
                    findings.append(Finding(w.ref, f"terminationGracePeriodSeconds {grace} does not exceed the "
                                                   f"preStop of {name} ({pre:g} s): the kubelet kills it mid-drain"))
    figure = (f"{pods_with_groups} workloads with own security groups, {flows_checked} flows, "
              f"{len(bindings)} target group bindings")
    return CheckResult(NAME, config.name, figure, findings)
