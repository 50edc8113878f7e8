"""`make upgrade-check`: manifests against the next version's schemas, add-on pins to move."""

from __future__ import annotations

from collections.abc import Callable

from config.eks_addons import ChartPin, KubectlLayerPin
from tests.preflight.test_addons import PINS as PINNED
from tests.preflight.test_addons import AddonPin, V
from tests.preflight.workbench import Workbench
from tools.reports.preflight import upgrade

REPOSITORY = "https://kubernetes.github.io/autoscaler"
CHARTS = {v: {"cluster-autoscaler": ChartPin(REPOSITORY, "cluster-autoscaler", "9.56.0", tag)}
          for v, tag in (("1.34", "v1.34.4"), ("1.35", "v1.35.2"))}

# The test pins, as if the cluster ran 1.34 and moved to 1.35.
PINS = {"1.34": PINNED[V]}
# 1.35's vpc-cni is also offered on 1.34 (as describe-addon-versions would list it), 1.34's is not on 1.35: the
# upgrade moves vpc-cni first (step 1, STAGED), then the control plane.
NEXT = {"1.35": {**PINS["1.34"], "vpc-cni": AddonPin("vpc-cni", "v1.21.1-eksbuild.1", True, frozenset({"1.34"})),
                 "kube-proxy": AddonPin("kube-proxy", "v1.35.0-eksbuild.2", True)}}
STAGED = "1.35"  # config cluster.addons_from: step 1 deployed


def test_valid_manifests_and_pinned_addons_pass(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    result = upgrade.check(wb.assembly(), "dev", "1.34", "1.35", {**PINS, **NEXT}, CHARTS, addons_from=STAGED)
    assert result.ok, result.findings
    assert "add-on vpc-cni: v1.21.1-eksbuild.1 -> v1.21.1-eksbuild.1 (unchanged)" in result.details
    assert "add-on amazon-cloudwatch-observability: v4.5.0-eksbuild.1 -> v4.5.0-eksbuild.1 (unchanged)" in \
        result.details
    assert sum("custom resource" in d for d in result.details) == 5  # 4 TargetGroupBindings, 1 SecurityGroupPolicy


def test_manifest_invalid_for_the_next_version_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    wb.edit_objects("Services", "HorizontalPodAutoscaler", lambda h: h.update(apiVersion="autoscaling/v2beta2")
                    if h["metadata"]["name"] == "orders-api" else None)
    wb.edit_objects("Services", "Deployment", lambda d: d["spec"]["template"]["spec"].update(hostname_typo="x")
                    if d["metadata"]["name"] == "users-worker" else None)
    findings = upgrade.check(wb.assembly(), "dev", "1.34", "1.35", {**PINS, **NEXT}, CHARTS,
                             addons_from=STAGED).findings
    assert {f.resource for f in findings} == {
        "Dev-Services/OrdersServiceHorizontalPodAutoscalerOrdersApi7FA4AD9F: HorizontalPodAutoscaler orders/orders-api",
        "Dev-Services/UsersServiceWorkloadsD15A0316: Deployment users/users-worker"}
    assert any("autoscaling/v2beta2 HorizontalPodAutoscaler is not served by Kubernetes 1.35" in f.message
               for f in findings)


def test_missing_pins_and_unsupported_versions_fail(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    assembly = wb.assembly()
    findings = upgrade.check(assembly, "dev", "1.34", "1.35", PINS).findings
    assert findings[0].message == "no pins for Kubernetes 1.35"
    assert any("add-on vpc-cni has no pin for Kubernetes 1.35" in f.message for f in findings)
    [finding] = upgrade.check(assembly, "dev", "1.34", "1.99", PINS).findings
    assert "has no schemas for Kubernetes 1.99" in finding.message


def test_pinned_charts_move_and_need_a_pin_for_the_next_version(bench: Callable[[str], Workbench]) -> None:
    assembly = bench("dev").assembly()
    result = upgrade.check(assembly, "dev", "1.34", "1.35", {**PINS, **NEXT}, CHARTS, addons_from=STAGED)
    [tag] = [str(h.values["image"]["tag"]) for h in assembly.helm_releases if h.chart == "cluster-autoscaler"]
    assert f"chart cluster-autoscaler: 9.56.0 (image {tag}) -> 9.56.0 (image v1.35.2)" in result.details
    assert any(d.startswith("chart aws-load-balancer-controller ") and "not pinned per Kubernetes version" in d
               for d in result.details)
    [finding] = upgrade.check(assembly, "dev", "1.34", "1.35", {**PINS, **NEXT},
                              {"1.34": CHARTS["1.34"]}, addons_from=STAGED).findings
    assert "chart cluster-autoscaler has no pin for Kubernetes 1.35" in finding.message


def test_kube_proxy_of_another_minor_fails(bench: Callable[[str], Workbench]) -> None:
    stale = {"1.35": {**NEXT["1.35"], "kube-proxy": AddonPin("kube-proxy", "v1.34.6-eksbuild.2", True)}}
    [finding] = upgrade.check(bench("dev").assembly(), "dev", "1.34", "1.35", {**PINS, **stale}, CHARTS,
                              addons_from=STAGED).findings
    assert "kube-proxy v1.34.6-eksbuild.2 (the pin for 1.35) is not a 1.35 build" in finding.message


def test_kubectl_out_of_skew_fails(bench: Callable[[str], Workbench]) -> None:
    """The kubectl layer runs one version; two minors past it, the custom resources' kubectl is out of skew."""
    assembly = bench("dev").assembly()
    [layer] = [r for r in assembly.resources("AWS::Lambda::LayerVersion")
               if "kubectl" in str(r.properties.get("Description"))]
    minor = int(str(layer.properties["Description"]).split("kubectl ")[1].split(".")[1])
    far = f"1.{minor + 2}"
    pins = {**PINS, far: NEXT["1.35"]}
    findings = upgrade.check(assembly, "dev", "1.34", far, pins, {**CHARTS, far: CHARTS["1.35"]}).findings
    assert [f.resource for f in findings if "kubectl" in f.message] == [layer.name]


def test_kubectl_moves_with_the_row_of_the_next_version(bench: Callable[[str], Workbench]) -> None:
    """With a kubectl layer pinned in the next version's row, that layer decides the skew, not the assembly's."""
    assembly = bench("dev").assembly()
    pins = {**PINS, "1.35": NEXT["1.35"]}
    result = upgrade.check(assembly, "dev", "1.34", "1.35", pins, CHARTS, {"1.35": KubectlLayerPin("1.35")},
                           addons_from=STAGED)
    assert result.ok, result.findings
    assert any(d.startswith("the kubectl layer of 1.35's row, aws-cdk.lambda-layer-kubectl-v35: kubectl 1.35")
               for d in result.details)
    stale = upgrade.check(assembly, "dev", "1.34", "1.35", pins, CHARTS, {"1.35": KubectlLayerPin("1.33")},
                          addons_from=STAGED).findings
    assert [(f.resource, "more than one minor away" in f.message) for f in stale] == [("config/eks_addons.py", True)]


def test_a_jump_of_two_minors_needs_the_row_between(bench: Callable[[str], Workbench]) -> None:
    assembly = bench("dev").assembly()
    target = {"1.36": {**NEXT["1.35"], "kube-proxy": AddonPin("kube-proxy", "v1.36.0-eksbuild.21", True)}}
    charts = {**CHARTS, "1.36": CHARTS["1.35"]}
    layers = {"1.36": KubectlLayerPin("1.36")}
    without = upgrade.check(assembly, "dev", "1.34", "1.36", {**PINS, **target}, charts, layers)
    assert "EKS moves one minor per update: 1.34 -> 1.35 -> 1.36, a deploy each" in without.details
    assert [f.message for f in without.findings] == [
        "no pins for Kubernetes 1.35, which a cluster on 1.34 passes through to reach 1.36"]
    assert upgrade.check(assembly, "dev", "1.34", "1.36", {**PINS, **NEXT, **target}, charts, layers,
                         addons_from=STAGED).ok


def test_one_deploy_moving_the_cluster_and_an_add_on_valid_on_one_minor_only_fails(
        bench: Callable[[str], Workbench]) -> None:
    """The version bump alone (no step 1): vpc-cni's 1.34 version would run on 1.35 while the control plane moves,
    and no row or record says it is valid there. The finding says what to deploy first; with step 1 it passes."""
    assembly = bench("dev").assembly()
    pins = {**PINS, **NEXT}
    result = upgrade.check(assembly, "dev", "1.34", "1.35", pins, CHARTS)
    assert [("VpcCniAddon" in f.resource, f.message) for f in result.findings] == [(
        True, "add-on vpc-cni v1.20.4-eksbuild.2 would still run while the control plane moves to 1.35, "
                       "and is not valid on 1.35 (valid on: 1.34): moving the version and the add-ons in one deploy "
                       "is unsafe; first deploy v1.21.1-eksbuild.1 on 1.34 (config cluster.addons_from = \"1.35\"), "
                       "then the version")]
    assert ('order: 1) on 1.34, cluster.addons_from = "1.35": vpc-cni v1.20.4-eksbuild.2 -> v1.21.1-eksbuild.1; '
            '2) kubernetes_version = "1.35", addons_from unset: control plane, node groups, kube-proxy, charts, '
            'kubectl layer') in result.details
    assert upgrade.check(assembly, "dev", "1.34", "1.35", pins, CHARTS, addons_from=STAGED).ok
    # kube-proxy changes minor in the same deploy by design (built for one minor): never a finding of this kind
    assert not any("kube-proxy" in f.message for f in result.findings)


def test_no_version_valid_on_both_minors_fails_in_either_order(bench: Callable[[str], Workbench]) -> None:
    """1.35's coredns is not offered on 1.34 and 1.34's not on 1.35: neither one deploy nor step 1 is safe."""
    assembly = bench("dev").assembly()
    pins = {**PINS, "1.35": {**NEXT["1.35"], "coredns": AddonPin("coredns", "v1.13.0-eksbuild.1", True)}}
    one_deploy = upgrade.check(assembly, "dev", "1.34", "1.35", pins, CHARTS, addons_from=STAGED).findings
    assert [f.message for f in one_deploy] == [
        "add-on coredns v1.13.0-eksbuild.1 (the pin for 1.35, installed ahead of the control plane) is not valid on "
        "1.34, the cluster's minor: EKS refuses it"]
    direct = upgrade.check(assembly, "dev", "1.34", "1.35", pins, CHARTS).findings
    assert any(f.message.startswith("add-on coredns v1.12.3-eksbuild.1 is not valid on 1.35 (valid on: 1.34) and "
                                    "v1.13.0-eksbuild.1, 1.35's pin, is not valid on 1.34: no version in "
                                    "config/eks_addons.py is valid on both 1.34 and 1.35") for f in direct)
