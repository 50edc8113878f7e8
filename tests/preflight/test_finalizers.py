"""Finalizers: a TargetGroupBinding's manifest is deleted before what its finalizer needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.preflight.workbench import Workbench
from tools.reports.preflight import finalizers

KUBERNETES = "Custom::AWSCDK-EKS-KubernetesResource"


def bindings(wb: Workbench) -> dict[str, dict[str, Any]]:
    return {lid: body for lid, body in wb.resources("Services", KUBERNETES).items()
            if '"TargetGroupBinding"' in str(body["Properties"]["Manifest"])}


def test_each_binding_outlives_none_of_its_permissions(bench: Callable[[str], Workbench]) -> None:
    wb = bench("prod")
    result = finalizers.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert result.figure == "4 target group bindings"


def test_a_binding_that_may_outlive_its_registration_policy_fails(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 6: main's binding and the policy letting the controller deregister its targets had no
    dependency, so a teardown or rollback could delete the policy first and hang the finalizer."""
    wb = bench("dev")
    policies = set(wb.resources("Services", "AWS::IAM::ManagedPolicy"))
    for body in bindings(wb).values():
        body["DependsOn"] = [d for d in body.get("DependsOn", []) if d not in policies]
    findings = finalizers.check(wb.assembly(), wb.config).findings
    assert len(findings) == 4
    assert all("TargetRegistrationPolicy" in f.message and "DELETE_FAILED" in f.message for f in findings)


def test_a_binding_nothing_lets_the_controller_deregister_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    for lid, body in list(wb.resources("Services", "AWS::IAM::ManagedPolicy").items()):
        if "DeregisterTargets" in str(body["Properties"]["PolicyDocument"]) and "Orders" in lid:
            wb.remove("Services", lid)
    [finding] = finalizers.check(wb.assembly(), wb.config).findings
    assert "TargetGroupBinding orders/orders" in finding.resource
    assert "its finalizer never completes" in finding.message
