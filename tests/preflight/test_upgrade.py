"""`make upgrade-check`: manifests against the next version's schemas, add-on pins to move."""

from __future__ import annotations

from collections.abc import Callable

from tests.preflight.test_addons import PINS, AddonPin
from tests.preflight.workbench import Workbench
from tools.preflight import upgrade

NEXT = {"1.35": {**PINS["1.34"], "vpc-cni": AddonPin("vpc-cni", "v1.21.1-eksbuild.1", True)}}


def test_valid_manifests_and_pinned_addons_pass(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    result = upgrade.check(wb.assembly(), "dev", "1.34", "1.35", {**PINS, **NEXT})
    assert result.ok, result.findings
    assert "add-on vpc-cni: v1.20.4-eksbuild.2 -> v1.21.1-eksbuild.1" in result.details
    assert "add-on amazon-cloudwatch-observability: v4.5.0-eksbuild.1 -> v4.5.0-eksbuild.1 (unchanged)" in \
        result.details
    assert sum("custom resource" in d for d in result.details) == 5  # 4 TargetGroupBindings, 1 SecurityGroupPolicy


def test_manifest_invalid_for_the_next_version_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    wb.edit_objects("Services", "HorizontalPodAutoscaler", lambda h: h.update(apiVersion="autoscaling/v2beta2")
                    if h["metadata"]["name"] == "orders-api" else None)
    wb.edit_objects("Services", "Deployment", lambda d: d["spec"]["template"]["spec"].update(hostname_typo="x")
                    if d["metadata"]["name"] == "users-worker" else None)
    findings = upgrade.check(wb.assembly(), "dev", "1.34", "1.35", {**PINS, **NEXT}).findings
    assert {f.resource for f in findings} == {
        "Dev-Services/OrdersServiceWorkloads864370B8: HorizontalPodAutoscaler orders/orders-api",
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
