"""Add-ons and versions: what runs in the cluster moves with the Kubernetes version, on purpose.

- Every ``AWS::EKS::Addon`` has an ``AddonVersion`` equal to the pin for the config's Kubernetes version in
  ``config/eks_addons.py``; without one EKS installs its default at creation and never moves it.
- An add-on that replaces a component EKS installs self-managed (vpc-cni, kube-proxy, coredns) carries
  ``ResolveConflicts: OVERWRITE``: created over the self-managed objects with other settings, it otherwise fails with
  ConfigurationConflict (amazon-vpc-cni-k8s#2607); so does every other add-on, whose update (each Kubernetes
  upgrade) otherwise resolves conflicts as NONE and fails on a field another manager changed. And each self-managed
  component is managed at all: a self-managed
  kube-proxy or CoreDNS stays at its old version when the control plane moves.
- Every ``AWS::EKS::Nodegroup`` has a ``Version``: the nodes move with the control plane.
- Every Helm chart has a ``Version``: an unpinned chart installs whatever is latest on the day of the deploy. Every
  chart is pinned per Kubernetes version in ``config/eks_addons.py`` (chart version and image tag), so a version bump
  plans its moves and `make upgrade-check` lists them, and it carries the pin of the config's version.
- A chart that ships CustomResourceDefinitions (:data:`CHART_CRDS`) has them applied by a manifest of the app, at the
  chart's version (annotation :data:`CRD_CHART_ANNOTATION`), created before the chart: Helm installs a chart's
  ``crds/`` on the first install only and never upgrades or deletes them (Helm documentation, "Custom Resource
  Definitions": "There is no support at this time for upgrading or deleting CRDs using Helm"), so a chart upgrade
  would otherwise run a new controller against the old CRDs.
"""

from __future__ import annotations

from collections.abc import Mapping

from cdk_constructs.load_balancer_controller import CRD_CHART_ANNOTATION
from config import eks_addons
from config.eks_addons import AddonPin, ChartPin, addon_row, valid_on
from config.environment import EnvironmentConfig
from tools.assembly import Assembly, HelmRelease
from tools.reports.preflight.model import CheckResult, Finding
from tools.reports.preflight.system_workloads import SELF_MANAGED_BOOTSTRAP

NAME = "addons"
# The CRDs a chart's crds/ directory installs (aws-load-balancer-controller helm/.../crds/crds.yaml at v2.14.1).
CHART_CRDS = {"aws-load-balancer-controller": ("ingressclassparams.elbv2.k8s.aws",
                                               "targetgroupbindings.elbv2.k8s.aws")}

PinTable = Mapping[str, Mapping[str, AddonPin]]  # Kubernetes version -> add-on name -> pin
ChartTable = Mapping[str, Mapping[str, ChartPin]]  # Kubernetes version -> chart name -> pin


def load_pins() -> PinTable:
    """``config.eks_addons.ADDONS``: Kubernetes version -> add-on name -> pin."""
    return eks_addons.ADDONS


def load_chart_pins() -> ChartTable:
    """Every chart ``config/eks_addons.py`` pins per Kubernetes version (a module-level table of version ->
    :class:`ChartPin`, such as ``CLUSTER_AUTOSCALER``), as version -> chart -> pin."""
    out: dict[str, dict[str, ChartPin]] = {}
    for value in vars(eks_addons).values():
        if isinstance(value, dict) and value and all(isinstance(v, ChartPin) for v in value.values()):
            for k8s, pin in value.items():
                out.setdefault(k8s, {})[pin.chart] = pin
    return out


def image_tag(values: Mapping[str, object]) -> str | None:
    image = values.get("image")
    tag = image.get("tag") if isinstance(image, dict) else None
    return str(tag) if tag is not None else None


def check(assembly: Assembly, config: EnvironmentConfig, pins: PinTable | None = None,
          chart_pins: ChartTable | None = None) -> CheckResult:
    k8s = config.cluster.kubernetes_version
    findings: list[Finding] = []
    table = load_pins() if pins is None else pins
    version_pins = table.get(k8s)
    if version_pins is None and table:
        findings.append(Finding("config/eks_addons.py", f"no pins for Kubernetes {k8s} (the config's version); "
                                                        f"the table covers {', '.join(sorted(table))}"))
    version_pins = version_pins or {}
    bootstraps = False
    cluster_name = "AWS::EKS::Cluster"
    for cluster in assembly.resources("AWS::EKS::Cluster"):
        cluster_name = cluster.name
        bootstraps = bootstraps or cluster.properties.get("BootstrapSelfManagedAddons", True) not in (False, "false")
        have = assembly.literal(cluster.stack, cluster.properties.get("Version"))
        if have != k8s:
            findings.append(Finding(cluster.name, f"Version is {have or 'unset'}, the config says {k8s}"))
    addons = list(assembly.resources("AWS::EKS::Addon"))
    installed = {str(a.properties.get("AddonName")) for a in addons}
    # What EKS installs self-managed is a fact of EKS, known with or without the table.
    self_managed = ({n for n, p in version_pins.items() if p.replaces_self_managed}
                    | (set(SELF_MANAGED_BOOTSTRAP) if bootstraps else set()))
    staged = config.cluster.addons_from  # step 1 of an upgrade: the next row's add-on versions on this minor
    for a in addons:
        name = str(a.properties.get("AddonName"))
        have = assembly.literal(a.stack, a.properties.get("AddonVersion"))
        row = addon_row(k8s, name, staged)
        pin = (table.get(row) or {}).get(name)
        if pin is not None and row != k8s and k8s not in valid_on(table, name, pin.version):
            findings.append(Finding(a.name, f"add-on {name} {pin.version} (the pin for {row}, installed ahead of the "
                                            f"control plane) is not known valid on Kubernetes {k8s}: EKS refuses it "
                                            f"on a {k8s} cluster; record the minors that offer it (also_valid_on, "
                                            "describe-addon-versions) or pick a version both rows offer"))
        if have is None:
            findings.append(Finding(a.name, f"add-on {name} has no AddonVersion: EKS installs its default for the "
                                            f"cluster version at creation and never moves it"
                                            + (f" (the pin for {k8s} is {pin.version})" if pin else "")))
        elif pin is None:
            findings.append(Finding(a.name, f"add-on {name} {have}: no pin for Kubernetes {row} in "
                                            "config/eks_addons.py"))
        elif have != pin.version:
            findings.append(Finding(a.name, f"add-on {name} is {have}, the pin for Kubernetes {row} is {pin.version}"))
        if name in self_managed and a.properties.get("ResolveConflicts") != "OVERWRITE":
            findings.append(Finding(a.name, f"add-on {name} replaces the self-managed {name} EKS installs but has "
                                            f"ResolveConflicts {a.properties.get('ResolveConflicts', 'unset')}, not "
                                            "OVERWRITE: creating it over changed settings fails with "
                                            "ConfigurationConflict"))
        elif a.properties.get("ResolveConflicts") != "OVERWRITE":
            findings.append(Finding(a.name, f"add-on {name} has ResolveConflicts "
                                            f"{a.properties.get('ResolveConflicts', 'unset')}, not OVERWRITE: the "
                                            "update of a Kubernetes upgrade fails on any field another manager "
                                            "changed (unset resolves as NONE)"))
    if bootstraps:
        for name in sorted(self_managed - installed):
            findings.append(Finding(cluster_name, f"{name} stays self-managed (EKS installs it, no "
                                                             f"AWS::EKS::Addon manages it): a Kubernetes version bump "
                                                             f"leaves it at its old version"))
    groups = list(assembly.resources("AWS::EKS::Nodegroup"))
    for g in groups:
        version = g.properties.get("Version")
        have = assembly.literal(g.stack, version) if version is not None else None
        if version is None:
            findings.append(Finding(g.name, f"node group has no Version: its nodes stay on their Kubernetes version "
                                            f"when the control plane moves (config: {k8s})"))
        elif have != k8s:
            findings.append(Finding(g.name, f"node group Version is {have or 'a deploy-time value'}, the config "
                                            f"says {k8s}"))
    charts = assembly.helm_releases
    pinned_charts = (load_chart_pins() if chart_pins is None else chart_pins).get(k8s, {})
    for h in charts:
        if not h.version:
            findings.append(Finding(h.resource.name, f"chart {h.chart} has no Version: each deploy installs "
                                                     "whatever is latest"))
        chart_pin = pinned_charts.get(h.chart)
        _crd_findings(assembly, h, findings)
        if chart_pin is None:
            findings.append(Finding(h.resource.name, f"chart {h.chart} {h.version or ''} is pinned outside "
                                                     f"config/eks_addons.py's per-version tables (none for "
                                                     f"Kubernetes {k8s}): a version bump does not plan its move"))
            continue
        if h.version and h.version != chart_pin.version:
            findings.append(Finding(h.resource.name, f"chart {h.chart} is {h.version}, the pin for Kubernetes {k8s} "
                                                     f"is {chart_pin.version}"))
        tag = image_tag(h.values)
        if tag != chart_pin.image_tag:
            findings.append(Finding(h.resource.name, f"chart {h.chart} runs image tag {tag or 'the chart default'}, "
                                                     f"the pin for Kubernetes {k8s} is {chart_pin.image_tag}"))
    figure = (f"Kubernetes {k8s}: {len(addons)} add-ons, {len(groups)} node groups, {len(charts)} charts, "
              f"{len(version_pins)} pins")
    return CheckResult(NAME, config.name, figure, findings)


def _crd_findings(assembly: Assembly, h: HelmRelease, findings: list[Finding]) -> None:
    crds = CHART_CRDS.get(h.chart)
    if not crds:
        return
    applied = {o.name: o for o in assembly.objects("CustomResourceDefinition")}
    for crd in crds:
        o = applied.get(crd)
        if o is None:
            findings.append(Finding(h.resource.name, f"chart {h.chart} ships the CRD {crd}, which Helm installs once "
                                                     "and never upgrades; no manifest of the app applies it, so a "
                                                     "chart upgrade runs the new controller against the old CRD"))
            continue
        version = ((o.manifest.get("metadata") or {}).get("annotations") or {}).get(CRD_CHART_ANNOTATION)
        if version != f"{h.chart}-{h.version}":
            findings.append(Finding(o.ref, f"is applied for {version or 'no chart version'}, the chart runs "
                                           f"{h.chart}-{h.version}"))
        if not assembly.deleted_after(h.resource, o.resource):
            findings.append(Finding(o.ref, f"is not created before {h.resource.logical_id} (nothing makes the chart "
                                           "depend on it): Helm installs its own copy first"))
