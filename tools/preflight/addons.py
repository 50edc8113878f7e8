"""Add-ons and versions: what runs in the cluster moves with the Kubernetes version, on purpose.

- Every ``AWS::EKS::Addon`` has an ``AddonVersion`` equal to the pin for the config's Kubernetes version in
  ``config/eks_addons.py``; without one EKS installs its default at creation and never moves it.
- An add-on that replaces a component EKS installs self-managed (vpc-cni, kube-proxy, coredns) carries
  ``ResolveConflicts: OVERWRITE``: created over the self-managed objects with other settings, it otherwise fails with
  ConfigurationConflict (amazon-vpc-cni-k8s#2607). And each such component is managed at all: a self-managed
  kube-proxy or CoreDNS stays at its old version when the control plane moves.
- Every ``AWS::EKS::Nodegroup`` has a ``Version``: the nodes move with the control plane.
- Every Helm chart has a ``Version``: an unpinned chart installs whatever is latest on the day of the deploy.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Protocol

from config.environment import EnvironmentConfig
from tools.preflight.assembly import Assembly
from tools.preflight.model import CheckResult, Finding
from tools.preflight.system_workloads import SELF_MANAGED_BOOTSTRAP

NAME = "addons"


class Pin(Protocol):
    """The shape of ``config.eks_addons.AddonPin``."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def replaces_self_managed(self) -> bool: ...


PinTable = Mapping[str, Mapping[str, Pin]]  # Kubernetes version -> add-on name -> pin


class MissingTable(LookupError):
    pass


def load_pins() -> PinTable:
    """``config.eks_addons.ADDONS`` (looked up at run time: the table is the infra branch's to own)."""
    try:
        module = importlib.import_module("config.eks_addons")
    except ModuleNotFoundError as err:
        raise MissingTable("config/eks_addons.py is missing: there is no add-on compatibility table to pin "
                           "versions from") from err
    table: PinTable = module.ADDONS
    return table


def check(assembly: Assembly, config: EnvironmentConfig, pins: PinTable | None = None) -> CheckResult:
    k8s = config.cluster.kubernetes_version
    findings: list[Finding] = []
    try:
        table = load_pins() if pins is None else pins
    except MissingTable as err:
        table = {}
        findings.append(Finding("config/eks_addons.py", str(err)))
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
    for a in addons:
        name = str(a.properties.get("AddonName"))
        have = assembly.literal(a.stack, a.properties.get("AddonVersion"))
        pin = version_pins.get(name)
        if have is None:
            findings.append(Finding(a.name, f"add-on {name} has no AddonVersion: EKS installs its default for the "
                                            f"cluster version at creation and never moves it"
                                            + (f" (the pin for {k8s} is {pin.version})" if pin else "")))
        elif pin is None:
            findings.append(Finding(a.name, f"add-on {name} {have}: no pin for Kubernetes {k8s} in "
                                            "config/eks_addons.py"))
        elif have != pin.version:
            findings.append(Finding(a.name, f"add-on {name} is {have}, the pin for Kubernetes {k8s} is {pin.version}"))
        if name in self_managed and a.properties.get("ResolveConflicts") != "OVERWRITE":
            findings.append(Finding(a.name, f"add-on {name} replaces the self-managed {name} EKS installs but has "
                                            f"ResolveConflicts {a.properties.get('ResolveConflicts', 'unset')}, not "
                                            "OVERWRITE: creating it over changed settings fails with "
                                            "ConfigurationConflict"))
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
    for h in charts:
        if not h.version:
            findings.append(Finding(h.resource.name, f"chart {h.chart} has no Version: each deploy installs "
                                                     "whatever is latest"))
    figure = (f"Kubernetes {k8s}: {len(addons)} add-ons, {len(groups)} node groups, {len(charts)} charts, "
              f"{len(version_pins)} pins")
    return CheckResult(NAME, config.name, figure, findings)
