"""Committed compatibility table: the version of every EKS managed add-on (and of the Cluster Autoscaler) that the
cluster runs, per Kubernetes version the config accepts.

A version bump of the cluster moves the control plane, the node groups (they carry the cluster's version) and every
add-on below in one deploy: each ``eks.Addon`` takes its version from :func:`addon_pin`, never EKS's default of the
day. To move to a new Kubernetes version, add its column here (``aws eks describe-addon-versions --kubernetes-version
X --addon-name NAME``, or the version tables of the EKS user guide) and to ``config.environment.KUBERNETES_VERSIONS``;
``make upgrade-check K8S=X`` lists what moves.

Sources, read 2026-11-27 (check them with ``describe-addon-versions`` before a first deploy into a new region):

- ``vpc-cni``: EKS user guide, "Assign IPs to Pods with the Amazon VPC CNI", table "Amazon VPC CNI versions" (one
  build for every supported Kubernetes version); ``v1.21.1-eksbuild.7`` is in ``describe-addon-versions`` output for
  1.33 quoted in ministryofjustice/cloud-platform-infrastructure#4638 (2026-05-19) and in public add-on tables for
  1.34 and 1.35. Network policies and pod ENIs (``ENABLE_POD_ENI``) need 1.14 or later.
- ``coredns``: EKS user guide, "Manage CoreDNS for DNS in Amazon EKS clusters", table "CoreDNS versions"
  (docs.amazonaws.cn/en_us/eks/latest/userguide/managing-coredns.md).
- ``kube-proxy``: EKS user guide, "Manage kube-proxy in Amazon EKS clusters", table "kube-proxy versions" (the
  add-on's minor equals the cluster's).
- ``eks-pod-identity-agent``: ``describe-addon-versions`` output for 1.34 and 1.35 quoted in public CDK add-on tables
  (the same tables carry the user guide's CoreDNS and kube-proxy builds of that date); ``v1.3.9`` and later accept
  the hybrid DaemonSet keys of the current configuration schema (aws/eks-hybrid#763).
- ``metrics-server``: the EKS community add-on (EKS user guide, "View resource usage with the Kubernetes Metrics
  Server"; its pods listen on 10251, inside the cluster security group); builds for 1.34 and 1.35 as above.
- ``amazon-cloudwatch-observability``: CloudWatch user guide, "Install the CloudWatch agent with the Amazon CloudWatch
  Observability EKS add-on" names ``v6.2.0-eksbuild.1``; aws-observability/helm-charts RELEASE_NOTES 6.2.0
  (2026-05-29): OTel Container Insights off by default again. Since 5.0.0 Application Signals auto-monitoring is on
  by default; ``cdk_constructs/observability_addon.py`` turns it off (the services export their own OTLP traces).
- Cluster Autoscaler: chart ``cluster-autoscaler`` 9.56.0 from https://kubernetes.github.io/autoscaler (release
  cluster-autoscaler-chart-9.56.0, 2026-03-02), image tag of the cluster's minor as kubernetes/kops pins it
  (pkg/model/components/clusterautoscaler.go: 1.34 -> v1.34.4, 1.35 -> v1.35.1): the autoscaler supports only the
  Kubernetes minor it was built for.
- AWS Load Balancer Controller: chart ``aws-load-balancer-controller`` 1.14.1 from https://aws.github.io/eks-charts
  (Chart.yaml at kubernetes-sigs/aws-load-balancer-controller v2.14.1: appVersion v2.14.1); the controller supports
  Kubernetes 1.22 and later. Helm installs a chart's CRDs on the first install only and never upgrades them, so the
  app applies the CRDs of the pinned version itself (``cdk_constructs/crds/``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AddonPin:
    name: str  # EKS add-on name, e.g. "vpc-cni"
    version: str  # e.g. "v1.20.4-eksbuild.1"
    replaces_self_managed: bool  # EKS installs a self-managed copy at cluster creation (vpc-cni, coredns, kube-proxy)


@dataclass(frozen=True)
class ChartPin:
    """A Helm chart and the image tag it runs, for one Kubernetes version."""

    repository: str
    chart: str
    version: str
    image_tag: str


def _pins(vpc_cni: str, coredns: str, kube_proxy: str, pod_identity: str, metrics_server: str,
          observability: str) -> dict[str, AddonPin]:
    pins = (
        AddonPin("vpc-cni", vpc_cni, replaces_self_managed=True),
        AddonPin("coredns", coredns, replaces_self_managed=True),
        AddonPin("kube-proxy", kube_proxy, replaces_self_managed=True),
        AddonPin("eks-pod-identity-agent", pod_identity, replaces_self_managed=False),
        AddonPin("metrics-server", metrics_server, replaces_self_managed=False),
        AddonPin("amazon-cloudwatch-observability", observability, replaces_self_managed=False),
    )
    return {p.name: p for p in pins}


ADDONS: dict[str, dict[str, AddonPin]] = {
    "1.34": _pins(vpc_cni="v1.21.1-eksbuild.7", coredns="v1.13.2-eksbuild.7", kube_proxy="v1.34.6-eksbuild.2",
                  pod_identity="v1.3.10-eksbuild.3", metrics_server="v0.8.1-eksbuild.5",
                  observability="v6.2.0-eksbuild.1"),
    "1.35": _pins(vpc_cni="v1.21.1-eksbuild.7", coredns="v1.14.2-eksbuild.4", kube_proxy="v1.35.3-eksbuild.2",
                  pod_identity="v1.3.10-eksbuild.3", metrics_server="v0.8.1-eksbuild.5",
                  observability="v6.2.0-eksbuild.1"),
}

AUTOSCALER_REPOSITORY = "https://kubernetes.github.io/autoscaler"
CLUSTER_AUTOSCALER: dict[str, ChartPin] = {
    "1.34": ChartPin(AUTOSCALER_REPOSITORY, "cluster-autoscaler", "9.56.0", "v1.34.4"),
    "1.35": ChartPin(AUTOSCALER_REPOSITORY, "cluster-autoscaler", "9.56.0", "v1.35.1"),
}


EKS_CHARTS_REPOSITORY = "https://aws.github.io/eks-charts"
LOAD_BALANCER_CONTROLLER: dict[str, ChartPin] = {
    "1.34": ChartPin(EKS_CHARTS_REPOSITORY, "aws-load-balancer-controller", "1.14.1", "v2.14.1"),
    "1.35": ChartPin(EKS_CHARTS_REPOSITORY, "aws-load-balancer-controller", "1.14.1", "v2.14.1"),
}


def addon_pin(kubernetes_version: str, name: str) -> AddonPin:
    """The pinned version of add-on ``name`` for a cluster on ``kubernetes_version``; a KeyError names what is
    missing from the table (a new Kubernetes version or add-on must be added here first)."""
    if kubernetes_version not in ADDONS:
        raise KeyError(f"no add-on versions for Kubernetes {kubernetes_version} in config/eks_addons.py "
                       f"(known: {', '.join(ADDONS)})")
    column = ADDONS[kubernetes_version]
    if name not in column:
        raise KeyError(f"add-on {name!r} has no version for Kubernetes {kubernetes_version} in config/eks_addons.py")
    return column[name]


def cluster_autoscaler(kubernetes_version: str) -> ChartPin:
    """The Cluster Autoscaler chart and image for a cluster on ``kubernetes_version``."""
    if kubernetes_version not in CLUSTER_AUTOSCALER:
        raise KeyError(f"no Cluster Autoscaler for Kubernetes {kubernetes_version} in config/eks_addons.py")
    return CLUSTER_AUTOSCALER[kubernetes_version]


def load_balancer_controller(kubernetes_version: str) -> ChartPin:
    """The AWS Load Balancer Controller chart and image for a cluster on ``kubernetes_version``."""
    if kubernetes_version not in LOAD_BALANCER_CONTROLLER:
        raise KeyError(f"no Load Balancer Controller for Kubernetes {kubernetes_version} in config/eks_addons.py")
    return LOAD_BALANCER_CONTROLLER[kubernetes_version]
