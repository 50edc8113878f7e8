"""Scheduling simulation: does every workload fit the node groups the app creates?

Nodes come from the ``AWS::EKS::Nodegroup`` resources (instance types, capacity type, scaling sizes, labels,
taints, subnets); each node's allocatable resources follow the EKS AL2023 AMI (awslabs/amazon-eks-ami
``nodeadm/internal/kubelet/config.go``: kube-reserved CPU of 6% of the first core, 1% of the second, 0.5% of cores 3-4
and 0.25% above; kube-reserved memory of 255Mi + 11Mi per pod of max pods; ``evictionHard memory.available<100Mi``)
from the figures in ``config/instance_types.py``, after the memory the OS and hypervisor keep: a node's memory
capacity is below its nominal size, by 7.5% in Karpenter's heuristic (``vmMemoryOverheadPercent`` default, see
aws/karpenter-provider-aws#5161), which this simulation uses too (:data:`OS_MEMORY_OVERHEAD`).

Pods: the app's Deployments (at their HPA's minimum and maximum) and DaemonSets from the assembly, and the add-ons'
and charts' pods from ``system_workloads.py``. Placement honours nodeSelector, required node affinity, taints and
tolerations, hard topology spread and required pod anti-affinity, max pods and branch ENIs for pods with their own
security group, against the labels the nodes actually carry (the group's ``Labels`` plus the well-known labels EKS and
the kubelet set). Placement is a first-fit heuristic (below): a fit it finds is real, a miss on a nearly full cluster
could be a packing it did not try.

Two scenarios, each must place every pod:
- baseline: the ON_DEMAND node groups at their minimum size, first instance type (managed node groups fill
  On-Demand capacity in the listed order, "prioritized"), holding every minimum replica: the platform survives the
  loss of all Spot capacity.
- ceiling: every node group at its maximum (only if a node autoscaler is installed; otherwise nodes stay at their
  desired size), each node the group's smallest instance type (Spot may hand out any listed type), holding every
  maximum replica. The Cluster Autoscaler adds a node to a group only for pods that fit its template of that group's
  node: a real node of the group when it has one, else (a group that scales from zero) the instance type, the
  labels and taints EKS reports, and extended resources only from the group's
  ``k8s.io/cluster-autoscaler/node-template/resources/<name>`` tags (kubernetes/autoscaler ``aws_manager.go``
  ``buildNodeFromTemplate``; #6021: pods requesting ``vpc.amazonaws.com/pod-eni`` never scale such a group up). So in
  the ceiling a pod requesting an extended resource takes nodes of a group with ``min_size`` 0 only if that tag says
  the node has it.

Placement: pods most constrained first (fewest nodes they may run on), then largest CPU request first, each onto the
first node that takes it. A third line, not a pass/fail scenario, shows a rollout on the baseline: the minimum
replicas plus each Deployment's ``maxSurge`` (its new pods start before old ones stop); a surge that does not fit
waits for the Cluster Autoscaler to add a node, which the rollout wait then includes (deploy-duration adds the node's
time). A fourth, a pass/fail one: a rollout while every HorizontalPodAutoscaler holds its maximum, each Deployment's
``maxSurge`` at the maximum on top, on the ceiling's nodes: a surge pod that finds no node there keeps the rollout
from ever completing.

Add-on and chart pods honour the ``nodeSelector`` and ``tolerations`` their configuration values set (the Cluster
Autoscaler and the Load Balancer Controller pinned to on-demand nodes, for instance).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from config.environment import EnvironmentConfig
from config.instance_types import InstanceType, instance_type
from tools.assembly import Assembly, KubernetesObject, Resource
from tools.reports.preflight import names
from tools.reports.preflight.kube import (
    Requests,
    cpu_millicores,
    memory_mib,
    node_affinity_matches,
    pod_requests,
    selector_matches,
    untolerated,
)
from tools.reports.preflight.model import CheckResult, Finding
from tools.reports.preflight.rollout import max_surge
from tools.reports.preflight.system_workloads import ADDONS, CHARTS, SELF_MANAGED_BOOTSTRAP, Component

NAME = "scheduling"
OS_MEMORY_OVERHEAD = 0.075
EVICTION_HARD_MIB = 100
POD_ENI = "vpc.amazonaws.com/pod-eni"
NODE_AUTOSCALERS = ("cluster-autoscaler", "karpenter")
CA_TEMPLATE_RESOURCE_TAG = "k8s.io/cluster-autoscaler/node-template/resources/"
_TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


def reserved_cpu_millicores(vcpus: int) -> int:
    """nodeadm ``getCPUMillicoresToReserve``."""
    total = vcpus * 1000
    reserved = 0
    for start, end, per_10000 in ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50), (4000, total, 25)):
        if total > start:
            reserved += (min(total, end) - start) * per_10000 // 10000
    return reserved


@dataclass(frozen=True)
class Allocatable:
    cpu_millicores: int
    memory_mib: float
    pods: int


def allocatable(t: InstanceType) -> Allocatable:
    kube_reserved_mib = 255 + 11 * t.max_pods
    return Allocatable(cpu_millicores=t.vcpus * 1000 - reserved_cpu_millicores(t.vcpus),
                       memory_mib=t.memory_mib * (1 - OS_MEMORY_OVERHEAD) - kube_reserved_mib - EVICTION_HARD_MIB,
                       pods=t.max_pods)


# --- nodes ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NodeGroup:
    resource: Resource
    name: str
    instance_types: tuple[str, ...]
    capacity: str
    min_size: int
    desired_size: int
    max_size: int
    labels: dict[str, str]
    taints: tuple[dict[str, str], ...]
    arch: str
    zones: tuple[str, ...]
    # Extended resources the Cluster Autoscaler's template node of this group has when the group has no node.
    template_resources: frozenset[str] = frozenset()
    # The group's name with deploy-time pieces as placeholders: what the autoscaler's patterns are matched against.
    sample_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.resource.stack}/{self.resource.logical_id}"


@dataclass
class Node:
    name: str
    group: NodeGroup
    type: InstanceType
    labels: dict[str, str]
    free_cpu: int
    free_mib: float
    free_pods: int
    free_pod_eni: int
    pod_eni_capacity: int
    alloc: Allocatable
    pods: list[Pod] = field(default_factory=list)
    # Extended resources a pod may request and still make the node autoscaler add this node (None: the node is
    # there without it; any resource then).
    autoscaled_for: frozenset[str] | None = None


def node_groups(assembly: Assembly) -> tuple[list[NodeGroup], list[Finding]]:
    groups: list[NodeGroup] = []
    findings: list[Finding] = []
    for r in assembly.resources("AWS::EKS::Nodegroup"):
        p = r.properties
        scaling = p.get("ScalingConfig", {})
        types = tuple(str(t) for t in p.get("InstanceTypes", ["t3.medium"]))
        labels: dict[str, str] = {}
        for k, v in (p.get("Labels") or {}).items():
            value = assembly.literal(r.stack, v)
            if value is None:
                findings.append(Finding(r.name, f"label {k} has a value known only at deploy time"))
                continue
            labels[str(k)] = value
        taints = tuple({"key": str(t.get("Key", "")), "value": str(t.get("Value", "")),
                        "effect": _TAINT_EFFECTS.get(str(t.get("Effect")), str(t.get("Effect")))}
                       for t in p.get("Taints") or [])
        zones: list[str] = []
        for s in p.get("Subnets") or []:
            target = assembly.target(r.stack, s)
            subnet = assembly.resource(target.stack, target.logical_id) if target else None
            zone = assembly.literal(subnet.stack, subnet.properties.get("AvailabilityZone")) if subnet else None
            if zone and zone not in zones:
                zones.append(zone)
        # The node group's name is generated unless set: its construct id reads better in figures than a token.
        has_path = "aws:cdk:path" in r.attributes.get("Metadata", {})
        label = assembly.literal(r.stack, p.get("NodegroupName")) or (r.path.split("/")[-2] if has_path
                                                                       else r.logical_id)
        generated = names.name(assembly, r.stack, p["NodegroupName"]) if "NodegroupName" in p else None
        sample = ("".join(x if isinstance(x, str) else "0" * 8 for x in generated.parts) if generated
                  else f"{r.logical_id}-0")
        ami = str(p.get("AmiType", "AL2023_x86_64_STANDARD"))
        tags = p.get("Tags") or {}
        tags = {str(t.get("Key")): t.get("Value") for t in tags} if isinstance(tags, list) else tags
        template = frozenset(str(k).removeprefix(CA_TEMPLATE_RESOURCE_TAG) for k in tags
                             if str(k).startswith(CA_TEMPLATE_RESOURCE_TAG))
        groups.append(NodeGroup(resource=r, name=label, instance_types=types, template_resources=template,
                                sample_name=sample,
                                capacity=str(p.get("CapacityType", "ON_DEMAND")),
                                min_size=int(scaling.get("MinSize", 1)),
                                desired_size=int(scaling.get("DesiredSize", 1)),
                                max_size=int(scaling.get("MaxSize", 1)), labels=labels, taints=taints,
                                arch="arm64" if "ARM" in ami.upper() else "amd64", zones=tuple(zones) or ("zone-a",)))
    return groups, findings


def _node_labels(group: NodeGroup, t: InstanceType, zone: str, hostname: str, region: str) -> dict[str, str]:
    """What a managed node group's node carries: the group's labels and the well-known ones (kubelet, cloud
    provider, EKS: ``eks.amazonaws.com/capacityType``, ``eks.amazonaws.com/nodegroup``)."""
    return {
        "kubernetes.io/arch": group.arch, "kubernetes.io/os": "linux", "kubernetes.io/hostname": hostname,
        "node.kubernetes.io/instance-type": t.name, "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": region, "eks.amazonaws.com/capacityType": group.capacity,
        "eks.amazonaws.com/nodegroup": group.name, **group.labels,
    }


def build_nodes(groups: list[NodeGroup], sizes: dict[str, int], pick: dict[str, InstanceType], region: str,
                pod_eni_enabled: bool, autoscaled: bool = False) -> list[Node]:
    """``sizes[group]`` nodes of each group. ``autoscaled``: the nodes above a group's minimum are the node
    autoscaler's to add, and a group with minimum 0 gets them only for pods its template node fits."""
    nodes: list[Node] = []
    for g in groups:
        t = pick[g.key]
        a = allocatable(t)
        branch_enis = t.branch_enis if (t.trunk_eni and pod_eni_enabled) else 0
        from_zero = autoscaled and g.min_size == 0
        for i in range(sizes[g.key]):
            hostname = f"{g.name}-{i + 1}"
            zone = g.zones[i % len(g.zones)]
            nodes.append(Node(name=hostname, group=g, type=t, labels=_node_labels(g, t, zone, hostname, region),
                              free_cpu=a.cpu_millicores, free_mib=a.memory_mib, free_pods=a.pods,
                              free_pod_eni=branch_enis, pod_eni_capacity=branch_enis, alloc=a,
                              autoscaled_for=g.template_resources if from_zero else None))
    return nodes


# --- pods -------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pod:
    owner: str  # how findings name the workload
    kind: str
    namespace: str
    labels: dict[str, str]
    requests: Requests
    node_selector: dict[str, str]
    affinity: dict[str, Any]
    tolerations: tuple[dict[str, Any], ...]
    spread: tuple[dict[str, Any], ...]  # hard (DoNotSchedule) topology spread constraints
    instance_families: frozenset[str] | None = None


@dataclass(frozen=True)
class Workload:
    pod: Pod
    minimum: int
    maximum: int
    daemon: bool = False
    surge: int = 0  # extra pods a rolling update at the minimum starts before old ones stop (maxSurge)
    peak_surge: int = 0  # the same at the maximum
    system: bool = False  # an add-on's or a chart's: running since the cluster was created, before any app pod


def _pod_from_template(owner: str, kind: str, namespace: str, template: dict[str, Any], pod_eni: bool) -> Pod:
    spec = template.get("spec", {})
    req = pod_requests(spec)
    if pod_eni:
        req = Requests(req.cpu_millicores, req.memory_mib, tuple(sorted({**dict(req.extended), POD_ENI: 1}.items())))
    return Pod(owner=owner, kind=kind, namespace=namespace, labels=dict(template.get("metadata", {}).get("labels", {})),
               requests=req, node_selector={str(k): str(v) for k, v in (spec.get("nodeSelector") or {}).items()},
               affinity=spec.get("affinity") or {}, tolerations=tuple(spec.get("tolerations") or ()),
               spread=tuple(c for c in spec.get("topologySpreadConstraints") or []
                            if c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"))


def _security_group_policy_selects(assembly: Assembly, namespace: str, labels: dict[str, str], sa: str) -> bool:
    for sgp in assembly.objects("SecurityGroupPolicy"):
        if sgp.namespace != namespace:
            continue
        spec = sgp.manifest.get("spec", {})
        if "podSelector" in spec and selector_matches(spec["podSelector"], labels):
            return True
        if "serviceAccountSelector" in spec and selector_matches(spec["serviceAccountSelector"], {"name": sa}):
            return True
    return False


def app_workloads(assembly: Assembly) -> tuple[list[Workload], list[Finding]]:
    findings: list[Finding] = []
    hpas: dict[tuple[str, str, str], KubernetesObject] = {}
    for h in assembly.objects("HorizontalPodAutoscaler"):
        ref = h.manifest.get("spec", {}).get("scaleTargetRef", {})
        hpas[(h.namespace, str(ref.get("kind")), str(ref.get("name")))] = h
    out: list[Workload] = []
    for o in assembly.objects("Deployment", "StatefulSet", "DaemonSet"):
        spec = o.manifest.get("spec", {})
        template = spec.get("template", {})
        labels = dict(template.get("metadata", {}).get("labels", {}))
        sa = str(template.get("spec", {}).get("serviceAccountName", "default"))
        pod = _pod_from_template(o.ref, o.kind, o.namespace, template,
                                 _security_group_policy_selects(assembly, o.namespace, labels, sa))
        if o.kind == "DaemonSet":
            out.append(Workload(pod, 1, 1, daemon=True))
            continue
        hpa = hpas.get((o.namespace, o.kind, o.name))
        if hpa is not None:
            if "replicas" in spec:
                findings.append(Finding(o.ref, f"sets spec.replicas={spec['replicas']} beside its "
                                               f"HorizontalPodAutoscaler: every deploy resets the count the HPA chose"))
            hs = hpa.manifest.get("spec", {})
            minimum, maximum = int(hs.get("minReplicas", 1)), int(hs.get("maxReplicas", 1))
        else:
            minimum = maximum = int(spec.get("replicas", 1))
        out.append(Workload(pod, minimum, maximum, surge=max_surge(o.manifest, minimum),
                            peak_surge=max_surge(o.manifest, maximum)))
    return out, findings


def _lookup(values: dict[str, Any], path: str | None) -> Any:
    node: Any = values
    for part in (path or "").split("."):
        if not path or not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _system_pods(component: Component, source: str, values: dict[str, Any]) -> list[Workload]:
    out: list[Workload] = []
    for w in component.workloads:
        if w.enabled_path and _lookup(values, w.enabled_path) is False:
            continue
        replicas = _lookup(values, w.replicas_path)
        resources = _lookup(values, w.resources_path)
        cpu, mem = w.cpu_millicores, float(w.memory_mib)
        if isinstance(resources, dict):
            req = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
            cpu = cpu_millicores(req["cpu"]) if "cpu" in req else 0
            mem = memory_mib(req["memory"]) if "memory" in req else 0.0
        tolerations = _lookup(values, "tolerations")
        selector = _lookup(values, w.node_selector_path) if w.node_selector_path else None
        pod = Pod(owner=f"{w.kind} {w.namespace}/{w.name} ({source})", kind=w.kind, namespace=w.namespace,
                  labels={"app.kubernetes.io/name": w.name}, requests=Requests(cpu, mem),
                  node_selector={str(k): str(v) for k, v in selector.items()} if isinstance(selector, dict)
                  else dict(w.node_selector), affinity={},
                  tolerations=tuple(tolerations) if isinstance(tolerations, list) else w.tolerations, spread=(),
                  instance_families=w.instance_families)
        n = int(replicas) if isinstance(replicas, int) else w.replicas
        out.append(Workload(pod, n, n, daemon=w.kind == "DaemonSet", system=True))
    return out


def addon_configuration(assembly: Assembly, addon: Resource) -> dict[str, Any]:
    raw = assembly.literal(addon.stack, addon.properties.get("ConfigurationValues"))
    try:
        parsed = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def system_workloads(assembly: Assembly) -> tuple[list[Workload], list[Finding]]:
    out: list[Workload] = []
    findings: list[Finding] = []
    addons = {str(r.properties.get("AddonName")): r for r in assembly.resources("AWS::EKS::Addon")}
    for name, r in addons.items():
        component = ADDONS.get(name)
        if component is None:
            findings.append(Finding(r.name, f"add-on {name} has no entry in "
                                            "tools/reports/preflight/system_workloads.py: "
                                            "its pods cannot be simulated"))
            continue
        out += _system_pods(component, f"add-on {name}", addon_configuration(assembly, r))
    for cluster in assembly.resources("AWS::EKS::Cluster"):
        if cluster.properties.get("BootstrapSelfManagedAddons", True) in (False, "false"):
            continue
        for name in SELF_MANAGED_BOOTSTRAP:
            if name not in addons:
                out += _system_pods(ADDONS[name], "self-managed, installed by EKS", {})
    for h in assembly.helm_releases:
        component = CHARTS.get(h.chart)
        if component is None:
            findings.append(Finding(h.resource.name, f"chart {h.chart} has no entry in tools/reports/preflight/"
                                                     "system_workloads.py: its pods cannot be simulated"))
            continue
        out += _system_pods(component, f"chart {h.chart}", h.values)
    return out, findings


# --- placement --------------------------------------------------------------------------------------------------------

def _eligible(pod: Pod, node: Node) -> str | None:
    """Why ``pod`` can never run on ``node`` whatever else runs there, or None."""
    for k, v in pod.node_selector.items():
        if node.labels.get(k) != v:
            return f"nodeSelector {k}={v}"
    if not node_affinity_matches(pod.affinity, node.labels):
        return "required node affinity"
    if pod.instance_families is not None and node.type.family not in pod.instance_families:
        return "instance type affinity"
    bad = untolerated(pod.tolerations, list(node.group.taints))
    if bad:
        return "taint " + ", ".join(f"{t['key']}={t['value']}:{t['effect']}" for t in bad)
    if pod.requests.get(POD_ENI) and not node.pod_eni_capacity:
        why = "no trunk ENI" if not node.type.trunk_eni else "vpc-cni ENABLE_POD_ENI is not true"
        return f"{POD_ENI} for its SecurityGroupPolicy ({node.type.name}: {why})"
    if node.autoscaled_for is not None:
        unknown = sorted(k for k, v in pod.requests.extended if v and k not in node.autoscaled_for)
        if unknown:
            return (f"the Cluster Autoscaler adds no {node.group.name} node for it: the group scales from zero and "
                    f"its template node has no {', '.join(unknown)} (tag the node group "
                    f"{CA_TEMPLATE_RESOURCE_TAG}{unknown[0]}; kubernetes/autoscaler#6021)")
    return None


def _shortage(pod: Pod, node: Node) -> str | None:
    r = pod.requests
    if node.free_pods < 1:
        return "pods"
    if r.cpu_millicores > node.free_cpu:
        return "cpu"
    if r.memory_mib > node.free_mib + 1e-6:
        return "memory"
    if r.get(POD_ENI) > node.free_pod_eni:
        return POD_ENI
    return None


def _spread_ok(pod: Pod, node: Node, nodes: list[Node]) -> bool:
    for c in pod.spread:
        key = str(c.get("topologyKey"))
        selector = c.get("labelSelector") or {}
        eligible = [n for n in nodes if _eligible(pod, n) is None and key in n.labels]
        counts: dict[str, int] = {n.labels[key]: 0 for n in eligible}
        for n in eligible:
            counts[n.labels[key]] += sum(1 for p in n.pods if p.namespace == pod.namespace
                                         and selector_matches(selector, p.labels))
        if key not in node.labels or not counts:
            return False
        if counts[node.labels[key]] + 1 - min(counts.values()) > int(c.get("maxSkew", 1)):
            return False
    return True


def _anti_affinity_ok(pod: Pod, node: Node, nodes: list[Node]) -> bool:
    required = (pod.affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []
    for term in required:
        key = str(term.get("topologyKey"))
        domain = node.labels.get(key)
        for n in nodes:
            if n.labels.get(key) == domain and any(p.namespace == pod.namespace and
                                                   selector_matches(term.get("labelSelector"), p.labels)
                                                   for p in n.pods):
                return False
    return True


def _place(pod: Pod, node: Node) -> None:
    node.pods.append(pod)
    node.free_cpu -= pod.requests.cpu_millicores
    node.free_mib -= pod.requests.memory_mib
    node.free_pods -= 1
    node.free_pod_eni -= pod.requests.get(POD_ENI)


@dataclass
class Outcome:
    name: str
    nodes: list[Node]
    wanted: dict[str, int] = field(default_factory=dict)  # owner -> pods asked for
    missing: dict[str, int] = field(default_factory=dict)  # owner -> pods left unplaced
    why: dict[str, str] = field(default_factory=dict)
    requested_cpu: int = 0
    requested_mib: float = 0.0
    requested_pods: int = 0

    def ask(self, pod: Pod) -> None:
        self.wanted[pod.owner] = self.wanted.get(pod.owner, 0) + 1
        self.requested_cpu += pod.requests.cpu_millicores
        self.requested_mib += pod.requests.memory_mib
        self.requested_pods += 1

    def miss(self, pod: Pod, why: str) -> None:
        self.missing[pod.owner] = self.missing.get(pod.owner, 0) + 1
        self.why.setdefault(pod.owner, why)

    def utilisation(self) -> str:
        cpu = sum(n.alloc.cpu_millicores for n in self.nodes)
        mib = sum(n.alloc.memory_mib for n in self.nodes)
        pods = sum(n.alloc.pods for n in self.nodes)
        if not self.nodes:
            return f"{self.name}: no nodes"
        return (f"{self.name} {self.describe_nodes()}: cpu {self.requested_cpu / cpu:.0%} "
                f"({self.requested_cpu / 1000:.2f}/{cpu / 1000:.2f} vCPU), memory {self.requested_mib / mib:.0%}, "
                f"pods {self.requested_pods}/{pods}")

    def describe_nodes(self) -> str:
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.type.name] = counts.get(n.type.name, 0) + 1
        return "+".join(f"{c}x{t}" for t, c in counts.items())


def simulate(name: str, nodes: list[Node], workloads: Iterable[Workload], at_max: bool) -> Outcome:
    """DaemonSet pods first (one per node they may run on), then the add-ons' pods, then the app's, each most
    constrained first, then largest CPU request first, onto the first node that takes it."""
    outcome = Outcome(name, nodes)
    queue: list[Pod] = []
    system: set[int] = set()
    for w in workloads:
        if not w.daemon:
            queue += [w.pod] * (w.maximum if at_max else w.minimum)
            if w.system:
                system.add(id(w.pod))
            continue
        for node in nodes:
            if _eligible(w.pod, node) is not None:
                continue
            outcome.ask(w.pod)
            short = _shortage(w.pod, node)
            if short:
                outcome.miss(w.pod, f"not enough {short} on {node.type.name} for the node's DaemonSets")
            else:
                _place(w.pod, node)
    # The add-ons' pods run before the app's; then most constrained first: a pod that only some nodes take gets them
    # before pods that could go anywhere.
    room = {id(p): sum(1 for n in nodes if _eligible(p, n) is None) for p in {id(p): p for p in queue}.values()}
    queue.sort(key=lambda p: (id(p) not in system, room[id(p)], -p.requests.cpu_millicores, -p.requests.memory_mib,
                              p.owner))
    for pod in queue:
        outcome.ask(pod)
        target = next((n for n in nodes if _eligible(pod, n) is None and _shortage(pod, n) is None
                       and _spread_ok(pod, n, nodes) and _anti_affinity_ok(pod, n, nodes)), None)
        if target is None:
            outcome.miss(pod, _why_unplaced(pod, nodes))
        else:
            _place(pod, target)
    return outcome


def _why_unplaced(pod: Pod, nodes: list[Node]) -> str:
    if not nodes:
        return "there are no nodes"
    reasons = {n.name: _eligible(pod, n) for n in nodes}
    candidates = [n for n in nodes if reasons[n.name] is None]
    if not candidates:
        return "no node qualifies: " + "; ".join(sorted({f"{r}" for r in reasons.values() if r}))
    shortages = sorted({s for n in candidates if (s := _shortage(pod, n))})
    if shortages:
        others = sorted({r for r in reasons.values() if r})
        return (f"not enough {', '.join(shortages)} left on the {len(candidates)} node(s) it may use"
                + (f" (the other {len(nodes) - len(candidates)}: {'; '.join(others)})" if others else ""))
    return "topology spread or pod anti-affinity leaves no node"


# --- check ------------------------------------------------------------------------------------------------------------

def _pod_eni_enabled(assembly: Assembly) -> bool:
    for r in assembly.resources("AWS::EKS::Addon"):
        if r.properties.get("AddonName") == "vpc-cni":
            env = addon_configuration(assembly, r).get("env", {})
            return str(env.get("ENABLE_POD_ENI", "false")).lower() == "true"
    return False


def expander_priorities(assembly: Assembly) -> dict[int, list[str]] | None:
    """The Cluster Autoscaler's priority expander table (``expanderPriorities`` in its chart values, priority ->
    Auto Scaling group name patterns), when its ``expander`` list starts with ``priority``; else None."""
    for h in assembly.helm_releases:
        if h.chart != "cluster-autoscaler":
            continue
        expander = str((h.values.get("extraArgs") or {}).get("expander", ""))
        table = h.values.get("expanderPriorities")
        if not expander.split(",")[0].strip() == "priority" or table is None:
            return None
        parsed = yaml.safe_load(table) if isinstance(table, str) else table
        return {int(k): [str(p) for p in v] for k, v in (parsed or {}).items()}
    return None


def group_priority(group: NodeGroup, priorities: dict[int, list[str]]) -> int | None:
    """The highest priority whose pattern matches the group's Auto Scaling group (EKS names it
    ``eks-<node group name>-<uuid>``); None when none matches (the priority expander then never picks it)."""
    asg = f"eks-{group.sample_name}-00000000-0000-0000-0000-000000000000"
    matching = [p for p, patterns in priorities.items() if any(re.search(x, asg) for x in patterns)]
    return max(matching) if matching else None


def _smallest(types: Iterable[str]) -> InstanceType:
    return min((instance_type(t) for t in types),
               key=lambda t: (allocatable(t).cpu_millicores, allocatable(t).memory_mib, t.name))


@dataclass
class Cluster:
    """The node groups and workloads of an assembly, and the node sets the scenarios start from."""

    groups: list[NodeGroup]
    workloads: list[Workload]
    findings: list[Finding]
    region: str
    pod_eni: bool
    autoscaler: str | None
    ranked: list[NodeGroup]
    sizes: dict[str, int]

    def baseline_nodes(self) -> list[Node]:
        """The ON_DEMAND groups at their minimum size, first instance type."""
        on_demand = [g for g in self.groups if g.capacity == "ON_DEMAND"]
        return build_nodes(on_demand, {g.key: g.min_size for g in on_demand},
                           {g.key: instance_type(g.instance_types[0]) for g in on_demand}, self.region, self.pod_eni)

    def ceiling_nodes(self) -> list[Node]:
        """Every group at its maximum (as the autoscaler grows them, in its expander's order), smallest type."""
        return build_nodes(self.ranked, self.sizes, {g.key: _smallest(g.instance_types) for g in self.groups},
                           self.region, self.pod_eni, autoscaled=self.autoscaler is not None)


def cluster(assembly: Assembly) -> Cluster | CheckResult:
    """The cluster the scenarios run on; a failed CheckResult when the assembly cannot be simulated at all."""
    groups, findings = node_groups(assembly)
    apps, f = app_workloads(assembly)
    findings += f
    system, f = system_workloads(assembly)
    findings += f
    region = next(iter(assembly.stacks.values())).region
    unknown = []
    for g in groups:
        for t in g.instance_types:
            try:
                instance_type(t)
            except KeyError as err:
                unknown.append(Finding(g.resource.name, str(err.args[0])))
    if unknown:
        return CheckResult(NAME, "", "instance types missing from the table", unknown)
    if not groups:
        return CheckResult(NAME, "", "no node groups", [Finding("assembly", "no AWS::EKS::Nodegroup")])
    installed = {h.chart for h in assembly.helm_releases} | {
        str(r.properties.get("AddonName")) for r in assembly.resources("AWS::EKS::Addon")}
    autoscaler = next((a for a in NODE_AUTOSCALERS if a in installed), None)
    if autoscaler is None:
        for g in groups:
            if g.max_size > g.desired_size:
                findings.append(Finding(g.resource.name, f"scales from {g.min_size} to {g.max_size} nodes but no "
                                                         f"node autoscaler ({' or '.join(NODE_AUTOSCALERS)}) is "
                                                         f"installed: it stays at {g.desired_size}"))
    if any(assembly.objects("HorizontalPodAutoscaler")) and "metrics-server" not in installed:
        findings.append(Finding("assembly", "HorizontalPodAutoscalers without metrics-server (add-on or chart): "
                                            "every HPA reports FailedGetResourceMetric and never scales"))
    sizes = {g.key: (g.max_size if autoscaler else g.desired_size) for g in groups}
    priorities = expander_priorities(assembly) if autoscaler == "cluster-autoscaler" else None
    ranked = groups
    if priorities is not None:
        # The autoscaler grows the groups it prefers first: pods that may go anywhere land there.
        rank = {g.key: group_priority(g, priorities) for g in groups}
        for g in groups:
            if rank[g.key] is None and g.max_size > g.min_size:
                findings.append(Finding(g.resource.name, f"no pattern of the Cluster Autoscaler's expanderPriorities "
                                                         f"matches its Auto Scaling group (eks-{g.sample_name}-...): "
                                                         "the priority expander never scales it up"))
                sizes[g.key] = g.min_size
        ranked = sorted(groups, key=lambda g: -(rank[g.key] or 0))
    return Cluster(groups, system + apps, findings, region, _pod_eni_enabled(assembly), autoscaler, ranked, sizes)


def surge_waiting(assembly: Assembly, owners: set[str] | None = None) -> int:
    """Pods of a rolling update at the minimum replicas that do not fit the on-demand baseline and wait for a node
    the autoscaler adds: every Deployment's surge, or only those of ``owners`` (Kubernetes object refs)."""
    c = cluster(assembly)
    if isinstance(c, CheckResult):
        return 0
    surging = [Workload(w.pod, w.minimum + (w.surge if owners is None or w.pod.owner in owners else 0), w.maximum,
                        w.daemon, system=w.system) for w in c.workloads]
    return sum(simulate("rollout", c.baseline_nodes(), surging, at_max=False).missing.values())


def peak_surge_waiting(assembly: Assembly) -> int:
    """Pods of a rolling update while every HorizontalPodAutoscaler holds its maximum that do not fit the nodes
    the groups have then (their maxima are the ceiling's): the autoscaler cannot add any."""
    c = cluster(assembly)
    if isinstance(c, CheckResult):
        return 0
    peak = [Workload(w.pod, w.minimum, w.maximum + w.peak_surge, w.daemon, system=w.system) for w in c.workloads]
    return sum(simulate("peak rollout", c.ceiling_nodes(), peak, at_max=True).missing.values())


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    c = cluster(assembly)
    if isinstance(c, CheckResult):
        c.environment = config.name
        return c
    findings = c.findings
    workloads = c.workloads
    baseline = simulate("baseline", c.baseline_nodes(), workloads, at_max=False)
    ceiling = simulate("ceiling", c.ceiling_nodes(), workloads, at_max=True)
    surging = [Workload(w.pod, w.minimum + w.surge, w.maximum, w.daemon, system=w.system) for w in workloads]
    rollout = simulate("rollout", c.baseline_nodes(), surging, at_max=False)
    peak = simulate("peak rollout", c.ceiling_nodes(),
                    [Workload(w.pod, w.minimum, w.maximum + w.peak_surge, w.daemon, system=w.system)
                     for w in workloads], at_max=True)
    if not baseline.nodes:
        findings.append(Finding("node groups", "no ON_DEMAND node group has a minimum size above 0: losing Spot "
                                               "capacity leaves no node at all"))
    for owner, missing in baseline.missing.items():
        findings.append(Finding(owner, f"{missing} of {baseline.wanted[owner]} pods at minimum replicas do not fit "
                                       f"the on-demand baseline ({baseline.describe_nodes() or 'no nodes'}): "
                                       f"{baseline.why[owner]}"))
    for owner, missing in ceiling.missing.items():
        findings.append(Finding(owner, f"{missing} of {ceiling.wanted[owner]} pods at maximum replicas exceed the "
                                       f"node ceiling ({ceiling.describe_nodes()}): {ceiling.why[owner]}"))
    if not ceiling.missing:
        # A deploy while the HPAs hold their maxima starts each Deployment's maxSurge on top: pods that find no node
        # even at the groups' maxima keep the rollout from completing, and its wait fails the stack.
        for owner, missing in peak.missing.items():
            findings.append(Finding(owner, f"a rolling update at maximum replicas starts {peak.wanted[owner]} pods "
                                           f"(maximum + maxSurge); {missing} find no node even at the groups' "
                                           f"maxima ({peak.describe_nodes()}): {peak.why[owner]}, so a deploy at "
                                           "peak load never completes its rollout"))
    waiting = sum(rollout.missing.values())
    details = [baseline.utilisation(), ceiling.utilisation(),
               rollout.utilisation() + (" (minimum replicas + each Deployment's maxSurge): "
                                        + (f"{waiting} surge pods wait for a node the autoscaler adds"
                                           if waiting else "the surge fits")),
               peak.utilisation() + " (maximum replicas + each Deployment's maxSurge at the maximum)"]
    for outcome in (baseline, ceiling, rollout):
        for n in outcome.nodes:
            details.append(f"  {outcome.name} {n.name} ({n.type.name}, {n.group.capacity}): "
                           f"{len(n.pods)} pods, cpu {n.alloc.cpu_millicores - n.free_cpu}/{n.alloc.cpu_millicores}m, "
                           f"memory {n.alloc.memory_mib - n.free_mib:.0f}/{n.alloc.memory_mib:.0f}Mi")
    figure = "; ".join(details[:2])
    return CheckResult(NAME, config.name, figure, findings, details)
