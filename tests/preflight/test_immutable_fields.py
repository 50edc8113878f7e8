"""Immutable fields: a TargetGroupBinding is named after the target group its immutable ARN comes from."""

from __future__ import annotations

from collections.abc import Callable

from cdk_constructs.workload_manifests import TARGET_GROUP_ANNOTATION, target_group_binding_name
from tests.preflight.workbench import Workbench
from tools.reports.preflight import immutable_fields


def test_bindings_follow_their_target_groups(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    result = immutable_fields.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    names = {o["metadata"]["name"] for o in wb.objects("Services") if o["kind"] == "TargetGroupBinding"}
    assert names == {"products", "orders", "users", "inventory"}  # the first target group keeps the first name


def test_a_binding_that_does_not_record_its_group_fails(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 7: main's bindings were named after the service alone; a replaced target group could not
    roll through the immutable targetGroupARN."""
    wb = bench("dev")
    wb.edit_objects("Services", "TargetGroupBinding", lambda b: b["metadata"].pop("annotations"))
    findings = immutable_fields.check(wb.assembly(), wb.config).findings
    assert len(findings) == 4
    assert all("spec.targetGroupARN (immutable) comes from Dev-Edge/ServicesLoadBalancer" in f.message
               and "cannot roll through" in f.message for f in findings)


def test_a_binding_pointed_at_another_group_under_its_old_name_fails(bench: Callable[[str], Workbench]) -> None:
    """The replacement itself: the users binding's ARN now comes from another target group (a new logical id, as a
    replacement gives it), its name and record unchanged. Named and recorded after the new group, it passes."""
    wb = bench("dev")
    groups = list(wb.resources("Edge", "AWS::ElasticLoadBalancingV2::TargetGroup"))
    orders_group = next(g for g in groups if "Orders" in g)
    objects = [o for o in wb.objects("Services") if o["kind"] == "TargetGroupBinding"]
    orders_arn = next(o for o in objects if o["metadata"]["name"] == "orders")["spec"]["targetGroupARN"]
    users = next(o for o in objects if o["metadata"]["name"] == "users")
    users["spec"]["targetGroupARN"] = orders_arn
    [finding] = immutable_fields.check(wb.assembly(), wb.config).findings
    assert "TargetGroupBinding users/users" in finding.resource
    expected = target_group_binding_name("users", orders_group)
    assert expected.startswith("users-") and f"name it {expected!r}" in finding.message
    for o in wb.objects("Services"):
        if o["kind"] == "TargetGroupBinding" and o["metadata"]["name"] == "users":
            o["spec"]["targetGroupARN"] = orders_arn
            o["metadata"]["name"] = expected
            o["metadata"]["annotations"][TARGET_GROUP_ANNOTATION] = orders_group
    assert immutable_fields.check(wb.assembly(), wb.config).ok
