"""Pods that EKS add-ons and Helm charts run, with their default requests, for the scheduling simulation.

The manifests of add-ons and charts are not in the assembly (EKS and Helm render them in the cluster), so their
DaemonSets and Deployments come from this committed table. An add-on or chart the app installs that is missing here
fails the scheduling check: its pods would otherwise be left out of the simulation silently. Overrides the app passes
(add-on ``ConfigurationValues``, chart ``Values``) are read at the paths given per workload.

Sources (defaults as published; read 2026-08):
- aws-node (vpc-cni): aws/amazon-vpc-cni-k8s ``config/master/aws-k8s-cni.yaml`` (commit b521883, v1.23.1): containers
  aws-node and aws-eks-nodeagent request 25m CPU each, no memory; tolerates every taint (``operator: Exists``).
- kube-proxy: the EKS kube-proxy DaemonSet requests 100m CPU, no memory, tolerates every taint.
- coredns: EKS user guide (networking/eks-networking-add-ons, CoreDNS): two replicas by default; the EKS CoreDNS
  manifest requests 100m CPU and 70Mi memory; tolerates only ``CriticalAddonsOnly`` and control-plane taints.
- eks-pod-identity-agent: aws/eks-pod-identity-agent ``charts/eks-pod-identity-agent/values.yaml`` (commit d4dc0f3):
  ``resources: {}``, tolerates every taint.
- amazon-cloudwatch-observability: aws-observability/helm-charts ``charts/amazon-cloudwatch-observability/values.yaml``
  (chart 6.4.0, commit 71a298f): agent DaemonSet 250m/128Mi, fluent-bit DaemonSet 50m/25Mi, operator (manager)
  Deployment 100m/64Mi; root ``tolerations: [{operator: Exists}]`` (the operator's own list is empty); the DCGM and
  Neuron exporters run only on GPU (p*, g*) and Inferentia/Trainium (inf*, trn*) instance types.
- metrics-server (EKS community add-on): two replicas by default (AWS re:Post, "Kubernetes Metrics Server setup
  recommendations"); kubernetes-sigs/metrics-server chart values (commit 5ed5d3a) request 100m/200Mi.
- aws-load-balancer-controller: aws/eks-charts ``stable/aws-load-balancer-controller/values.yaml`` (chart 3.5.0,
  commit 5239609): ``replicaCount: 2``, ``resources: {}``.
- cluster-autoscaler: kubernetes/autoscaler ``cluster-autoscaler/charts/cluster-autoscaler/values.yaml`` (chart
  9.59.0, commit 55c37cd): ``replicaCount: 1``, ``resources: {}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOLERATE_ALL = ({"operator": "Exists"},)
CRITICAL_ADDONS = ({"key": "CriticalAddonsOnly", "operator": "Exists"},
                   {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
LINUX = {"kubernetes.io/os": "linux"}


@dataclass(frozen=True)
class SystemWorkload:
    name: str
    kind: str  # DaemonSet or Deployment
    namespace: str
    cpu_millicores: int
    memory_mib: int
    replicas: int = 1  # Deployments only
    tolerations: tuple[dict[str, str], ...] = ()
    node_selector: dict[str, str] = field(default_factory=lambda: dict(LINUX))
    # Runs only on these instance families (node affinity on node.kubernetes.io/instance-type); None = any.
    instance_families: frozenset[str] | None = None
    # Where the add-on configuration / chart values override the defaults (dotted paths; None = not configurable).
    replicas_path: str | None = None
    resources_path: str | None = None
    enabled_path: str | None = None  # the workload exists only when this value is not false
    node_selector_path: str | None = None  # replaces node_selector when set (charts render it as given)


@dataclass(frozen=True)
class Component:
    """An add-on (`AWS::EKS::Addon` name) or a Helm chart (chart name) and the workloads it runs."""

    key: str
    workloads: tuple[SystemWorkload, ...]


_GPU = frozenset({"p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6", "g4dn", "g4ad", "g5", "g5g", "g6",
                  "g6e", "gr6"})
_NEURON = frozenset({"inf1", "inf2", "trn1", "trn1n", "trn2"})

ADDONS: dict[str, Component] = {c.key: c for c in (
    Component("vpc-cni", (SystemWorkload("aws-node", "DaemonSet", "kube-system", 50, 0, tolerations=TOLERATE_ALL,
                                         resources_path="resources"),)),
    Component("kube-proxy", (SystemWorkload("kube-proxy", "DaemonSet", "kube-system", 100, 0,
                                            tolerations=TOLERATE_ALL, resources_path="resources"),)),
    Component("coredns", (SystemWorkload("coredns", "Deployment", "kube-system", 100, 70, replicas=2,
                                         tolerations=CRITICAL_ADDONS, replicas_path="replicaCount",
                                         resources_path="resources", node_selector_path="nodeSelector"),)),
    Component("eks-pod-identity-agent", (SystemWorkload("eks-pod-identity-agent", "DaemonSet", "kube-system", 0, 0,
                                                        tolerations=TOLERATE_ALL, resources_path="resources"),)),
    Component("amazon-cloudwatch-observability", (
        SystemWorkload("cloudwatch-agent", "DaemonSet", "amazon-cloudwatch", 250, 128, tolerations=TOLERATE_ALL,
                       resources_path="agent.resources"),
        SystemWorkload("fluent-bit", "DaemonSet", "amazon-cloudwatch", 50, 25, tolerations=TOLERATE_ALL,
                       resources_path="containerLogs.fluentBit.resources", enabled_path="containerLogs.enabled"),
        SystemWorkload("amazon-cloudwatch-observability-controller-manager", "Deployment", "amazon-cloudwatch",
                       100, 64, resources_path="manager.resources"),
        SystemWorkload("dcgm-exporter", "DaemonSet", "amazon-cloudwatch", 250, 128, tolerations=TOLERATE_ALL,
                       instance_families=_GPU, enabled_path="dcgmExporter.enabled"),
        SystemWorkload("neuron-monitor", "DaemonSet", "amazon-cloudwatch", 256, 128, tolerations=TOLERATE_ALL,
                       instance_families=_NEURON, enabled_path="neuronMonitor.enabled"),
    )),
    Component("metrics-server", (SystemWorkload("metrics-server", "Deployment", "kube-system", 100, 200, replicas=2,
                                                replicas_path="replicas", resources_path="resources",
                                                node_selector_path="nodeSelector"),)),
)}

CHARTS: dict[str, Component] = {c.key: c for c in (
    Component("aws-load-balancer-controller", (
        SystemWorkload("aws-load-balancer-controller", "Deployment", "kube-system", 0, 0, replicas=2,
                       replicas_path="replicaCount", resources_path="resources", node_selector_path="nodeSelector"),)),
    Component("cluster-autoscaler", (
        SystemWorkload("cluster-autoscaler", "Deployment", "kube-system", 0, 0, replicas=1,
                       replicas_path="replicaCount", resources_path="resources", node_selector_path="nodeSelector"),)),
    Component("metrics-server", ADDONS["metrics-server"].workloads),
)}

# What EKS installs itself, as self-managed components, unless the cluster sets BootstrapSelfManagedAddons: false.
SELF_MANAGED_BOOTSTRAP = ("vpc-cni", "kube-proxy", "coredns")
