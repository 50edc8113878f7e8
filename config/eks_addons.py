"""Committed compatibility table: per Kubernetes version the config accepts, one row of everything that must move
with the cluster: every EKS managed add-on, the Helm charts pinned per version (the Cluster Autoscaler, the AWS Load
Balancer Controller) with the image tag each runs, and the kubectl layer the EKS custom resources run.

A version bump of the cluster moves the control plane, the node groups (they carry the cluster's version) and every
pin of the row in one deploy, which is safe only when every add-on version running while the control plane moves is
valid on both minors (``make upgrade-check`` fails otherwise); else the upgrade is two deploys: first the next row's
add-on versions on the current minor (config ``cluster.addons_from``), then the version bump (docs/deploying.md,
"Upgrading Kubernetes"). Each ``eks.Addon`` takes its version from :func:`addon_pin`, never EKS's default of the
day. EKS upgrades a cluster one minor at a time, so 1.34 -> 1.36 is two deploys, each with its own row. To add a
version, add its row here (``aws eks describe-addon-versions --kubernetes-version X --addon-name NAME``, the version
tables of the EKS user guide, the charts' releases); ``config.environment.KUBERNETES_VERSIONS`` follows the table and
``make upgrade-check K8S=X`` lists what moves. A config naming a version without a row fails in one line.

Sources (check each add-on with ``describe-addon-versions`` before a first deploy into a new region):

- 1.34 and 1.35, read 2026-11-27:
  - ``vpc-cni``: EKS user guide, "Amazon VPC CNI versions"; ``v1.21.1-eksbuild.7`` is in ``describe-addon-versions``
    output for 1.33 quoted in ministryofjustice/cloud-platform-infrastructure#4638 (2026-05-19) and in public add-on
    tables for 1.34 and 1.35. Network policies and pod ENIs (``ENABLE_POD_ENI``) need 1.14 or later.
  - ``coredns``, ``kube-proxy``: EKS user guide, "CoreDNS versions" and "kube-proxy versions" (the kube-proxy
    add-on's minor equals the cluster's).
  - ``eks-pod-identity-agent``, ``metrics-server``: ``describe-addon-versions`` output for 1.34 and 1.35 quoted in
    public CDK add-on tables; the agent's ``v1.3.9`` and later accept the hybrid DaemonSet keys of the current
    configuration schema (aws/eks-hybrid#763).
  - ``amazon-cloudwatch-observability``: CloudWatch user guide names ``v6.2.0-eksbuild.1``; aws-observability/
    helm-charts RELEASE_NOTES 6.2.0 (2026-05-29): OTel Container Insights off by default again. Since 5.0.0
    Application Signals auto-monitoring is on by default; ``cdk_constructs/observability_addon.py`` turns it off.
  - Cluster Autoscaler: chart ``cluster-autoscaler`` 9.56.0 (release cluster-autoscaler-chart-9.56.0, 2026-03-02),
    image tag of the cluster's minor as kubernetes/kops pins it (pkg/model/components/clusterautoscaler.go:
    1.34 -> v1.34.4, 1.35 -> v1.35.1): the autoscaler supports only the Kubernetes minor it was built for.
- 1.36, read 2026-12-07:
  - ``vpc-cni`` ``v1.22.4-eksbuild.3``, ``kube-proxy`` ``v1.36.0-eksbuild.21``, ``coredns`` ``v1.14.3-eksbuild.16``,
    ``eks-pod-identity-agent`` ``v1.3.10-eksbuild.3``: the defaults a 1.36 cluster resolved to on 2026-09-16 (a
    public compatibility record of a deployed us-west-2 cluster); ``metrics-server`` ``v0.9.0-eksbuild.8``: the 1.36
    default in ``describe-addon-versions --kubernetes-version 1.36`` of 2026-09-03 quoted in public Terraform;
    ``amazon-cloudwatch-observability`` ``v6.4.0-eksbuild.1``: the 1.36 default on 2026-08-08 in a public lab
    record (the agent operator added 1.36 to its test matrix in aws/amazon-cloudwatch-agent-operator#389).
  - Cluster Autoscaler: image ``v1.36.1`` (kubernetes/autoscaler release notes, cluster-autoscaler-1.36.1) on chart
    9.59.0, which still defaults to app v1.35.0: the image tag is pinned over it, as for every version here; a
    public 1.36 cluster ran that pair with no RBAC denial (2026-07-30).
- 1.35 versions also offered on 1.36, read 2026-12-07 (public records of clusters running them, not
  ``describe-addon-versions`` itself: confirm with it before the upgrade, as `make upgrade-check` says):
  - ``vpc-cni`` ``v1.21.1-eksbuild.7``: a 1.36 control plane running it (a public node-capacity study, 2026).
  - ``coredns`` ``v1.14.2-eksbuild.4``: pinned beside ``kube-proxy`` ``v1.36.0-eksbuild.7`` in two public 1.36
    deployments (an architecture decision record and a deployment README).
  - ``metrics-server`` ``v0.8.1-eksbuild.11`` (1.35's pin since 2026-12-07, was ``v0.8.1-eksbuild.5``, for which no
    1.36 record was found): running beside ``kube-proxy`` ``v1.35.3-eksbuild.2`` and beside ``v1.36.0-eksbuild.7``
    in public cluster records.
  - ``amazon-cloudwatch-observability`` ``v6.2.0-eksbuild.1``: pinned by a public EKS 1.36 module (AL2023
    1.36.2-20260709) and beside ``kube-proxy`` ``v1.36.0-eksbuild.9`` in public Terraform.
  - ``eks-pod-identity-agent`` ``v1.3.10-eksbuild.3`` is both rows' pin.
- Every version: AWS Load Balancer Controller chart ``aws-load-balancer-controller`` 1.14.1 from
  https://aws.github.io/eks-charts (Chart.yaml at kubernetes-sigs/aws-load-balancer-controller v2.14.1: appVersion
  v2.14.1; the chart's ``kubeVersion`` is an open floor, ``>= 1.19.0-0``), its image tag pinned to the controller it
  ships. Helm installs a chart's CRDs on the first install only and never upgrades them, so the app applies the CRDs
  of the pinned version itself (``cdk_constructs/crds/``).
- kubectl layers (PyPI ``aws-cdk.lambda-layer-kubectl-vNN``, aws-cdk-lib's own): kubectl is supported within one
  minor of the API server, so 1.34 keeps the 1.35 layer it was deployed with (no layer change without a cluster
  change), 1.35 runs 1.35 and 1.36 runs 1.36.
- End of EKS standard support (EKS user guide, "Kubernetes versions on standard support"): 1.34 2026-12-02, 1.35
  2027-03-27, 1.36 2027-08-02; after it the control plane bills at the extended-support rate
  (``tools/reports/cost/prices.json``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # config is read without the CDK libraries too (`python3 -m config ENV`)
    from constructs import Construct


@dataclass(frozen=True)
class AddonPin:
    name: str  # EKS add-on name, e.g. "vpc-cni"
    version: str  # e.g. "v1.20.4-eksbuild.1"
    replaces_self_managed: bool  # EKS installs a self-managed copy at cluster creation (vpc-cni, coredns, kube-proxy)
    # Minors besides its row's that offer this version (``describe-addon-versions``' compatibilities), recorded with
    # their source in the module docstring: what lets an upgrade move the add-on before the control plane.
    also_valid_on: frozenset[str] = frozenset()


# Add-ons built for one Kubernetes minor only (EKS user guide, "Manage kube-proxy": the add-on's minor equals the
# cluster's): they move with the control plane, never before it.
SAME_MINOR = frozenset({"kube-proxy"})


def addon_row(kubernetes_version: str, name: str, addons_from: str | None = None) -> str:
    """The row whose pin of add-on ``name`` a cluster on ``kubernetes_version`` runs: ``addons_from`` (step 1 of an
    upgrade, config ``cluster.addons_from``) for every add-on but the :data:`SAME_MINOR` ones, else its own."""
    return addons_from if addons_from is not None and name not in SAME_MINOR else kubernetes_version


def valid_on(table: Mapping[str, Mapping[str, AddonPin]], name: str, version: str) -> frozenset[str]:
    """The minors on which ``version`` of add-on ``name`` is known valid: the rows of ``table`` that pin it, and the
    minors those pins record as also offering it."""
    minors: set[str] = set()
    for minor, pins in table.items():
        pin = pins.get(name)
        if pin is not None and pin.version == version:
            minors |= {minor, *pin.also_valid_on}
    return frozenset(minors)


@dataclass(frozen=True)
class ChartPin:
    """A Helm chart and the image tag it runs, for one Kubernetes version."""

    repository: str
    chart: str
    version: str
    image_tag: str


@dataclass(frozen=True)
class KubectlLayerPin:
    """aws-cdk-lib's kubectl layer for the EKS custom resources (a PyPI package per kubectl minor)."""

    kubectl: str  # the kubectl minor it carries, e.g. "1.35"

    @property
    def package(self) -> str:
        return f"aws-cdk.lambda-layer-kubectl-v{self.kubectl.replace('1.', '', 1)}"

    @property
    def module(self) -> str:
        return self.package.replace("aws-cdk.", "aws_cdk.").replace("-", "_")

    @property
    def construct(self) -> str:
        return f"KubectlV{self.kubectl.replace('1.', '', 1)}Layer"

    def layer(self, scope: Construct, construct_id: str) -> Construct:
        """The layer construct (its package is a pinned requirement of the CDK app)."""
        layer_class = getattr(importlib.import_module(self.module), self.construct)
        layer: Construct = layer_class(scope, construct_id)
        return layer


@dataclass(frozen=True)
class KubernetesRow:
    addons: dict[str, AddonPin]
    cluster_autoscaler: ChartPin
    load_balancer_controller: ChartPin
    kubectl_layer: KubectlLayerPin
    standard_support_ends: date


def _pins(vpc_cni: str, coredns: str, kube_proxy: str, pod_identity: str, metrics_server: str,
          observability: str, also_valid_on: Mapping[str, frozenset[str]] | None = None) -> dict[str, AddonPin]:
    """``also_valid_on``: per add-on name, the other minors that offer its pinned version (sources above)."""
    more = also_valid_on or {}
    pins = (
        AddonPin("vpc-cni", vpc_cni, replaces_self_managed=True, also_valid_on=more.get("vpc-cni", frozenset())),
        AddonPin("coredns", coredns, replaces_self_managed=True, also_valid_on=more.get("coredns", frozenset())),
        AddonPin("kube-proxy", kube_proxy, replaces_self_managed=True),
        AddonPin("eks-pod-identity-agent", pod_identity, replaces_self_managed=False,
                 also_valid_on=more.get("eks-pod-identity-agent", frozenset())),
        AddonPin("metrics-server", metrics_server, replaces_self_managed=False,
                 also_valid_on=more.get("metrics-server", frozenset())),
        AddonPin("amazon-cloudwatch-observability", observability, replaces_self_managed=False,
                 also_valid_on=more.get("amazon-cloudwatch-observability", frozenset())),
    )
    return {p.name: p for p in pins}


AUTOSCALER_REPOSITORY = "https://kubernetes.github.io/autoscaler"
EKS_CHARTS_REPOSITORY = "https://aws.github.io/eks-charts"
LOAD_BALANCER_CONTROLLER_CHART = ChartPin(EKS_CHARTS_REPOSITORY, "aws-load-balancer-controller", "1.14.1", "v2.14.1")

ROWS: dict[str, KubernetesRow] = {
    "1.34": KubernetesRow(
        addons=_pins(vpc_cni="v1.21.1-eksbuild.7", coredns="v1.13.2-eksbuild.7", kube_proxy="v1.34.6-eksbuild.2",
                     pod_identity="v1.3.10-eksbuild.3", metrics_server="v0.8.1-eksbuild.5",
                     observability="v6.2.0-eksbuild.1"),
        cluster_autoscaler=ChartPin(AUTOSCALER_REPOSITORY, "cluster-autoscaler", "9.56.0", "v1.34.4"),
        load_balancer_controller=LOAD_BALANCER_CONTROLLER_CHART,
        kubectl_layer=KubectlLayerPin("1.35"),
        standard_support_ends=date(2026, 12, 2),
    ),
    "1.35": KubernetesRow(
        addons=_pins(vpc_cni="v1.21.1-eksbuild.7", coredns="v1.14.2-eksbuild.4", kube_proxy="v1.35.3-eksbuild.2",
                     pod_identity="v1.3.10-eksbuild.3", metrics_server="v0.8.1-eksbuild.11",
                     observability="v6.2.0-eksbuild.1",
                     # What lets 1.35 -> 1.36 be one deploy: each runs on 1.36 while the control plane moves.
                     also_valid_on={name: frozenset({"1.36"}) for name in (
                         "vpc-cni", "coredns", "metrics-server", "amazon-cloudwatch-observability")}),
        cluster_autoscaler=ChartPin(AUTOSCALER_REPOSITORY, "cluster-autoscaler", "9.56.0", "v1.35.1"),
        load_balancer_controller=LOAD_BALANCER_CONTROLLER_CHART,
        kubectl_layer=KubectlLayerPin("1.35"),
        standard_support_ends=date(2027, 3, 27),
    ),
    "1.36": KubernetesRow(
        addons=_pins(vpc_cni="v1.22.4-eksbuild.3", coredns="v1.14.3-eksbuild.16", kube_proxy="v1.36.0-eksbuild.21",
                     pod_identity="v1.3.10-eksbuild.3", metrics_server="v0.9.0-eksbuild.8",
                     observability="v6.4.0-eksbuild.1"),
        cluster_autoscaler=ChartPin(AUTOSCALER_REPOSITORY, "cluster-autoscaler", "9.59.0", "v1.36.1"),
        load_balancer_controller=LOAD_BALANCER_CONTROLLER_CHART,
        kubectl_layer=KubectlLayerPin("1.36"),
        standard_support_ends=date(2027, 8, 2),
    ),
}

# Per-column views of the table (the preflight reads every module-level version -> ChartPin table as a pinned chart).
ADDONS: dict[str, dict[str, AddonPin]] = {v: r.addons for v, r in ROWS.items()}
CLUSTER_AUTOSCALER: dict[str, ChartPin] = {v: r.cluster_autoscaler for v, r in ROWS.items()}
LOAD_BALANCER_CONTROLLER: dict[str, ChartPin] = {v: r.load_balancer_controller for v, r in ROWS.items()}
KUBECTL_LAYERS: dict[str, KubectlLayerPin] = {v: r.kubectl_layer for v, r in ROWS.items()}


def row(kubernetes_version: str) -> KubernetesRow:
    """The table's row for ``kubernetes_version``; a KeyError names the version and the rows there are."""
    if kubernetes_version not in ROWS:
        raise KeyError(f"no row for Kubernetes {kubernetes_version} in config/eks_addons.py (rows: "
                       f"{', '.join(ROWS)}): add its add-on, chart and kubectl layer pins first")
    return ROWS[kubernetes_version]


def addon_pin(kubernetes_version: str, name: str, addons_from: str | None = None) -> AddonPin:
    """The pinned version of add-on ``name`` for a cluster on ``kubernetes_version`` (with ``addons_from``: step 1
    of an upgrade, :func:`addon_row`); a KeyError names what is missing from the table (a new Kubernetes version or
    add-on must be added here first)."""
    version = addon_row(kubernetes_version, name, addons_from)
    column = row(version).addons
    if name not in column:
        raise KeyError(f"add-on {name!r} has no version for Kubernetes {version} in config/eks_addons.py")
    return column[name]


def cluster_autoscaler(kubernetes_version: str) -> ChartPin:
    """The Cluster Autoscaler chart and image for a cluster on ``kubernetes_version``."""
    return row(kubernetes_version).cluster_autoscaler


def load_balancer_controller(kubernetes_version: str) -> ChartPin:
    """The AWS Load Balancer Controller chart and image for a cluster on ``kubernetes_version``."""
    return row(kubernetes_version).load_balancer_controller


def kubectl_layer(kubernetes_version: str) -> KubectlLayerPin:
    """The kubectl layer the EKS custom resources of a cluster on ``kubernetes_version`` run."""
    return row(kubernetes_version).kubectl_layer
