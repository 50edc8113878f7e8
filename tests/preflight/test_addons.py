"""Add-ons and versions: pinned add-ons, ResolveConflicts over self-managed components, versioned node groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cdk_constructs.load_balancer_controller import CRD_CHART_ANNOTATION
from config.eks_addons import AUTOSCALER_REPOSITORY, AddonPin, ChartPin
from config.environments import ENVIRONMENTS
from tests.preflight.workbench import Workbench
from tools.assembly import encode_json_with_tokens, parse_json_with_tokens
from tools.reports.preflight import addons

# The fake pins below are keyed by the version dev runs, whichever it is.
V = ENVIRONMENTS["dev"].cluster.kubernetes_version
N = f"1.{int(V.split('.')[1]) + 1}"  # the next minor
PINS = {
    V: {p.name: p for p in (
        AddonPin("vpc-cni", "v1.20.4-eksbuild.2", True),
        AddonPin("kube-proxy", "v1.34.0-eksbuild.2", True),
        AddonPin("coredns", "v1.12.3-eksbuild.1", True),
        AddonPin("eks-pod-identity-agent", "v1.3.9-eksbuild.3", False),
        AddonPin("amazon-cloudwatch-observability", "v4.5.0-eksbuild.1", False),
        AddonPin("metrics-server", "v0.8.0-eksbuild.2", False),
    )},
}


def pinned(wb: Workbench) -> Workbench:
    """Repair the cluster as the check wants it: every add-on pinned, self-managed ones adopted, nodes versioned."""
    cluster = next(iter(wb.resources("Cluster", "AWS::EKS::Cluster")))
    installed = {b["Properties"]["AddonName"] for b in wb.resources("Cluster", "AWS::EKS::Addon").values()}
    for name in sorted({"vpc-cni", "kube-proxy", "coredns"} - installed):
        wb.add("Cluster", f"Addon{name.replace('-', '')}", {"Type": "AWS::EKS::Addon", "Properties": {
            "AddonName": name, "ClusterName": {"Ref": cluster}}})
    for body in wb.resources("Cluster", "AWS::EKS::Addon").values():
        p: dict[str, Any] = body["Properties"]
        pin = PINS[V].get(p["AddonName"], AddonPin(p["AddonName"], "v1.0.0-eksbuild.1", False))
        p["AddonVersion"] = pin.version
        if pin.replaces_self_managed:
            p["ResolveConflicts"] = "OVERWRITE"
    for body in wb.resources("Cluster", "AWS::EKS::Nodegroup").values():
        body["Properties"]["Version"] = V
    return wb


def addon_id(wb: Workbench, name: str) -> str:
    return next(lid for lid, b in wb.resources("Cluster", "AWS::EKS::Addon").items()
                if b["Properties"]["AddonName"] == name)


def addon(wb: Workbench, name: str) -> dict[str, Any]:
    return dict(wb.template("Cluster")["Resources"][addon_id(wb, name)])


def table(wb: Workbench) -> dict[str, dict[str, AddonPin]]:
    """The fixture pins, plus one for any add-on the app gained since (so the repaired cluster stays repaired)."""
    pins = dict(PINS[V])
    for body in wb.resources("Cluster", "AWS::EKS::Addon").values():
        name = body["Properties"]["AddonName"]
        pins.setdefault(name, AddonPin(name, body["Properties"]["AddonVersion"], False))
    return {V: pins}


def test_pinned_cluster_passes(bench: Callable[[str], Workbench]) -> None:
    wb = pinned(bench("dev"))
    result = addons.check(wb.assembly(), wb.config, table(wb))
    assert result.ok, result.findings


def test_addon_without_version_fails(bench: Callable[[str], Workbench]) -> None:
    wb = pinned(bench("dev"))
    pins = table(wb)
    del addon(wb, "vpc-cni")["Properties"]["AddonVersion"]
    result = addons.check(wb.assembly(), wb.config, pins)
    assert len(result.findings) == 1
    assert result.findings[0].resource.split(" ")[0] == f"Dev-Cluster/{addon_id(wb, 'vpc-cni')}"
    assert "no AddonVersion" in result.findings[0].message and "v1.20.4-eksbuild.2" in result.findings[0].message


def test_addon_off_its_pin_fails(bench: Callable[[str], Workbench]) -> None:
    wb = pinned(bench("dev"))
    pins = table(wb)
    addon(wb, "coredns")["Properties"]["AddonVersion"] = "v1.11.4-eksbuild.2"
    [finding] = addons.check(wb.assembly(), wb.config, pins).findings
    assert f"coredns is v1.11.4-eksbuild.2, the pin for Kubernetes {V} is v1.12.3-eksbuild.1" in finding.message


def test_addon_over_self_managed_without_overwrite_fails(bench: Callable[[str], Workbench]) -> None:
    wb = pinned(bench("dev"))
    del addon(wb, "vpc-cni")["Properties"]["ResolveConflicts"]
    [finding] = addons.check(wb.assembly(), wb.config, table(wb)).findings
    assert finding.resource.split(" ")[0] == f"Dev-Cluster/{addon_id(wb, 'vpc-cni')}"
    assert "ResolveConflicts unset, not OVERWRITE" in finding.message


def test_self_managed_component_left_unmanaged_fails(bench: Callable[[str], Workbench]) -> None:
    wb = pinned(bench("dev"))
    pins = table(wb)
    for lid, body in wb.resources("Cluster", "AWS::EKS::Addon").items():
        if body["Properties"]["AddonName"] == "kube-proxy":
            wb.remove("Cluster", lid)
    [finding] = addons.check(wb.assembly(), wb.config, pins).findings
    assert finding.resource.split(" ")[0] == f"Dev-Cluster/{next(iter(wb.resources('Cluster', 'AWS::EKS::Cluster')))}"
    assert "kube-proxy stays self-managed" in finding.message


def test_node_group_without_version_fails(bench: Callable[[str], Workbench]) -> None:
    wb = pinned(bench("dev"))
    group = next(iter(wb.resources("Cluster", "AWS::EKS::Nodegroup").values()))
    del group["Properties"]["Version"]
    [finding] = addons.check(wb.assembly(), wb.config, table(wb)).findings
    assert "node group has no Version" in finding.message


def test_addon_without_a_pin_for_the_version_fails(bench: Callable[[str], Workbench]) -> None:
    wb = pinned(bench("dev"))
    pins = {V: {k: v for k, v in table(wb)[V].items() if k != "eks-pod-identity-agent"}}
    [finding] = addons.check(wb.assembly(), wb.config, pins).findings
    assert f"no pin for Kubernetes {V}" in finding.message


def test_the_committed_table_has_the_agreed_shape() -> None:
    """config/eks_addons.py is read as ADDONS[k8s][name] -> AddonPin."""
    table = addons.load_pins()
    assert table
    for version, pins in table.items():
        for name, pin in pins.items():
            assert (pin.name, isinstance(pin.version, str), isinstance(pin.replaces_self_managed, bool)) == (
                name, True, True), (version, name)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_missing_table_is_a_finding_not_a_crash(bench: Callable[[str], Workbench], env: str) -> None:
    wb = pinned(bench(env))
    result = addons.check(wb.assembly(), wb.config, {})
    assert not result.ok
    assert any("no pin" in f.message for f in result.findings)


def test_chart_off_its_pin_fails(bench: Callable[[str], Workbench]) -> None:
    """A chart pinned per Kubernetes version (the Cluster Autoscaler) runs its pinned chart and image tag."""
    wb = pinned(bench("dev"))
    pin = ChartPin(AUTOSCALER_REPOSITORY, "cluster-autoscaler", "9.56.0", "v1.34.4")
    charts = {V: {**addons.load_chart_pins()[V], "cluster-autoscaler": pin}}
    for props, values in wb.helm_values("Cluster"):
        if props["Chart"] == "cluster-autoscaler":
            props["Version"] = "9.56.0"
            values["image"]["tag"] = "v1.34.4"
            props["Values"] = encode_json_with_tokens(values)
    assert addons.check(wb.assembly(), wb.config, table(wb), charts).ok
    for props, values in wb.helm_values("Cluster"):
        if props["Chart"] == "cluster-autoscaler":
            props["Version"] = "9.50.0"
            values["image"]["tag"] = "v1.33.0"
            props["Values"] = encode_json_with_tokens(values)
    findings = addons.check(wb.assembly(), wb.config, table(wb), charts).findings
    assert len(findings) == 2 and all("ClusterAutoscaler" in f.resource for f in findings)
    assert f"chart cluster-autoscaler is 9.50.0, the pin for Kubernetes {V} is 9.56.0" in findings[0].message
    assert f"runs image tag v1.33.0, the pin for Kubernetes {V} is v1.34.4" in findings[1].message


def test_the_committed_chart_pins_are_read() -> None:
    charts = addons.load_chart_pins()
    assert {"1.34", "1.35", "1.36"} <= set(charts)
    assert all({"cluster-autoscaler", "aws-load-balancer-controller"} <= set(c) for c in charts.values())


def test_a_chart_pinned_outside_the_table_fails(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 8: the Load Balancer Controller's chart was pinned in its construct, outside the table."""
    wb = pinned(bench("dev"))
    charts = {V: {k: v for k, v in addons.load_chart_pins()[V].items()
                       if k != "aws-load-balancer-controller"}}
    [finding] = addons.check(wb.assembly(), wb.config, table(wb), charts).findings
    [chart] = [lid for lid, body in wb.resources("Cluster", "Custom::AWSCDK-EKS-HelmChart").items()
               if body["Properties"]["Chart"] == "aws-load-balancer-controller"]
    assert finding.resource.startswith(f"Dev-Cluster/{chart}")
    assert "chart aws-load-balancer-controller 1.14.1 is pinned outside config/eks_addons.py" in finding.message


def lbc_crds(wb: Workbench) -> dict[str, str]:
    """Logical id of each CRD manifest of the Load Balancer Controller, by CRD name."""
    out = {}
    for lid, body in wb.resources("Cluster", "Custom::AWSCDK-EKS-KubernetesResource").items():
        for doc in parse_json_with_tokens(body["Properties"]["Manifest"]):
            if doc["kind"] == "CustomResourceDefinition":
                out[doc["metadata"]["name"]] = lid
    return out


def test_chart_crds_the_app_does_not_apply_fail(bench: Callable[[str], Workbench]) -> None:
    """Finding 8: Helm installs a chart's CRDs once and never upgrades them; without the app's own manifests the
    check names each CRD."""
    wb = pinned(bench("dev"))
    assert addons.check(wb.assembly(), wb.config, table(wb)).ok
    for lid in lbc_crds(wb).values():
        wb.remove("Cluster", lid)
    findings = addons.check(wb.assembly(), wb.config, table(wb)).findings
    assert sorted(f.message.split(" ships the CRD ")[1].split(",")[0] for f in findings) == sorted(
        addons.CHART_CRDS["aws-load-balancer-controller"])
    assert all("never upgrades" in f.message for f in findings)


def test_crds_of_another_chart_version_or_after_the_chart_fail(bench: Callable[[str], Workbench]) -> None:
    wb = pinned(bench("dev"))
    crds = lbc_crds(wb)
    tgb = wb.template("Cluster")["Resources"][crds["targetgroupbindings.elbv2.k8s.aws"]]
    docs = parse_json_with_tokens(tgb["Properties"]["Manifest"])
    docs[0]["metadata"]["annotations"][CRD_CHART_ANNOTATION] = "aws-load-balancer-controller-1.13.4"
    tgb["Properties"]["Manifest"] = encode_json_with_tokens(docs)
    [chart] = [lid for lid, body in wb.resources("Cluster", "Custom::AWSCDK-EKS-HelmChart").items()
               if body["Properties"]["Chart"] == "aws-load-balancer-controller"]
    body = wb.template("Cluster")["Resources"][chart]
    body["DependsOn"] = [d for d in body["DependsOn"] if d != crds["ingressclassparams.elbv2.k8s.aws"]]
    messages = sorted(f.message for f in addons.check(wb.assembly(), wb.config, table(wb)).findings)
    assert messages == [
        "is applied for aws-load-balancer-controller-1.13.4, the chart runs aws-load-balancer-controller-1.14.1",
        f"is not created before {chart} (nothing makes the chart depend on it): Helm installs its own copy first",
    ]


def staged(wb: Workbench) -> Any:
    """The workbench's config at step 1 of the upgrade to the next minor, N (cluster.addons_from)."""
    from dataclasses import replace
    return replace(wb.config, cluster=replace(wb.config.cluster, addons_from=N))


def test_step_one_of_an_upgrade_checks_the_next_rows_add_ons_against_this_minor(
        bench: Callable[[str], Workbench]) -> None:
    """Step 1 deploys the next minor's (N) add-on versions on the cluster of dev's minor (V; kube-proxy stays at V's):
    each must be the pin of the row it comes from, and valid on V, or EKS refuses it."""
    wb = pinned(bench("dev"))
    now = table(wb)
    bridge = AddonPin("vpc-cni", "v1.21.1-eksbuild.1", True, frozenset({V}))
    pins = {**now, N: {**now[V], "vpc-cni": bridge,
                            "kube-proxy": AddonPin("kube-proxy", f"v{N}.0-eksbuild.2", True)}}
    addon(wb, "vpc-cni")["Properties"]["AddonVersion"] = bridge.version
    assert addons.check(wb.assembly(), staged(wb), pins).ok
    [off] = addons.check(wb.assembly(), wb.config, pins).findings  # without step 1 the pin of V is expected
    assert f"vpc-cni is v1.21.1-eksbuild.1, the pin for Kubernetes {V} is v1.20.4-eksbuild.2" in off.message
    only_on_next = {**pins, N: {**pins[N], "vpc-cni": AddonPin("vpc-cni", bridge.version, True)}}
    [refused] = addons.check(wb.assembly(), staged(wb), only_on_next).findings
    assert (f"add-on vpc-cni v1.21.1-eksbuild.1 (the pin for {N}, installed ahead of the control plane) is not known "
            f"valid on Kubernetes {V}: EKS refuses it") in refused.message


def test_an_add_on_without_overwrite_fails_even_when_eks_never_installed_it(bench: Callable[[str], Workbench]) -> None:
    """Fresh review, finding 8: metrics-server, the Pod Identity agent and CloudWatch Observability had no
    ResolveConflicts, so their update in a Kubernetes upgrade resolved as NONE and failed on a changed field."""
    wb = pinned(bench("dev"))
    del addon(wb, "metrics-server")["Properties"]["ResolveConflicts"]
    [finding] = addons.check(wb.assembly(), wb.config, table(wb)).findings
    assert "add-on metrics-server has ResolveConflicts unset, not OVERWRITE" in finding.message
