"""Deletion protection on a resource CloudFormation deletes: a failed create's rollback or the teardown fails."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.preflight.workbench import Workbench
from tools.reports.preflight import deletion_protection
from tools.reports.preflight.runner import run
from tools.reports.replacement_rules import PROVIDER_INDEX, SCHEMAS

PROD_DATA = ("OrdersDatabaseCluster", "ProductsTable", "UsersTable", "InventoryTable", "UsersUserPool")


def only(wb: Workbench, part: str, type_: str) -> tuple[str, dict[str, Any]]:
    [(lid, body)] = [(k, v) for k, v in wb.resources(part, type_).items() if "Rotation" not in k][:1]
    return lid, body


def test_dev_and_staging_protect_nothing_prod_acknowledges_exactly_its_data(
        bench: Callable[[str], Workbench]) -> None:
    """Review finding 3: staging's data is unprotected (its snapshot and the stack's termination protection guard
    it); prod keeps protection and its config acknowledges those five resources, with the reason the report prints."""
    for env in ("dev", "staging"):
        wb = bench(env)
        result = deletion_protection.check(wb.assembly(), wb.config)
        assert result.ok and result.figure == "0 protected resources", result.findings
    wb = bench("prod")
    [result] = run(wb.assembly(), wb.config, [deletion_protection.NAME])
    assert result.ok, result.findings
    acknowledged = sorted(a.finding.resource.split(" ")[0] for a in result.acknowledged)
    assert [re.sub(r"[0-9A-F]{8}$", "", r.removeprefix("Prod-Data/")) for r in acknowledged] == sorted(PROD_DATA)
    assert all("ROLLBACK_FAILED" in a.finding.message and "A failed first create of Prod-Data" in a.reason
               for a in result.acknowledged)
    # Without the config's acknowledgements the same five fail.
    bare = deletion_protection.check(wb.assembly(), replace(wb.config, preflight_acknowledgements=()))
    assert sorted(f.resource.split(" ")[0] for f in bare.findings) == acknowledged


def _nlb(wb: Workbench) -> None:
    [nlb] = wb.resources("Edge", "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    attrs = nlb["Properties"]["LoadBalancerAttributes"]
    attrs[:] = [a for a in attrs if a["Key"] != "deletion_protection.enabled"]
    attrs.append({"Key": "deletion_protection.enabled", "Value": "true"})


def _cluster(wb: Workbench) -> None:
    only(wb, "Data", "AWS::RDS::DBCluster")[1]["Properties"]["DeletionProtection"] = True


def _table(wb: Workbench) -> None:
    for replica in only(wb, "Data", "AWS::DynamoDB::GlobalTable")[1]["Properties"]["Replicas"]:
        replica["DeletionProtectionEnabled"] = True


def _pool(wb: Workbench) -> None:
    only(wb, "Data", "AWS::Cognito::UserPool")[1]["Properties"]["DeletionProtection"] = "ACTIVE"


@pytest.mark.parametrize(("edit", "resource", "expected"), [
    # Review finding 1: Staging-Edge's stateless NLB was protected, so a failed Edge create could not roll back
    # and cdk destroy failed.
    (_nlb, "Staging-Edge/ServicesLoadBalancer", "deletion_protection.enabled=true with DeletionPolicy Delete"),
    # Review finding 3, as staging had it: a protected cluster under Snapshot (teardown and rollback refused), and
    # protected tables and pool under RetainExceptOnCreate (the failed first create's rollback refused).
    (_cluster, "Staging-Data/OrdersDatabaseCluster", "DeletionProtection=True with DeletionPolicy Snapshot"),
    (_table, "Staging-Data/ProductsTable",
     "Replicas[].DeletionProtectionEnabled=True with DeletionPolicy RetainExceptOnCreate"),
    (_pool, "Staging-Data/UsersUserPool", "DeletionProtection=ACTIVE with DeletionPolicy RetainExceptOnCreate"),
])
def test_protection_on_what_cloudformation_deletes_fails(bench: Callable[[str], Workbench],
                                                        edit: Callable[[Workbench], None], resource: str,
                                                        expected: str) -> None:
    wb = bench("staging")
    edit(wb)
    [finding] = deletion_protection.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith(resource) and expected in finding.message
    assert "ROLLBACK_FAILED" in finding.message
    assert ("cdk destroy ends DELETE_FAILED" in finding.message) == ("RetainExceptOnCreate" not in expected)


def test_a_retained_protected_resource_passes(bench: Callable[[str], Workbench]) -> None:
    """CloudFormation never deletes a Retain resource, so its protection never meets a CloudFormation delete (the
    teardown check fails Retain for what it leaves behind after a failed create)."""
    wb = bench("staging")
    _pool(wb)
    only(wb, "Data", "AWS::Cognito::UserPool")[1]["DeletionPolicy"] = "Retain"
    result = deletion_protection.check(wb.assembly(), wb.config)
    assert result.ok and any("DeletionPolicy Retain: CloudFormation never deletes it" in d for d in result.details)


def test_protection_on_by_default_counts(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    wb.add("Data", "Ledger", {"Type": "AWS::QLDB::Ledger", "Properties": {"PermissionsMode": "STANDARD"}})
    [finding] = deletion_protection.check(wb.assembly(), wb.config).findings
    assert finding.resource == "Dev-Data/Ledger" and "DeletionProtection (on by default)" in finding.message


def test_the_table_knows_every_deletion_protection_the_schemas_name() -> None:
    """A resource type that gains a deletion-protection property in the pinned schemas (cfn-lint upgrade) must be
    added to the table, or named as protecting something else."""
    index: dict[str, str] = json.loads(PROVIDER_INDEX.read_text())
    named = set()
    for type_, schema_id in index.items():
        text = (SCHEMAS / "resources" / f"{schema_id}.json").read_text()
        if re.search(r'"\w*(DeletionProtection|TerminationProtection|DisableApiTermination)\w*"', text):
            named.add(type_)
    known = set(deletion_protection.PROTECTIONS) | set(deletion_protection.NOT_THE_RESOURCE)
    assert named - known == set(), "add these types to tools/reports/preflight/deletion_protection.py"
    assert set(deletion_protection.PROTECTIONS) <= named
