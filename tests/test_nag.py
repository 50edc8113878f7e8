"""One whole-app synth per environment with the nag packs: zero unacknowledged findings, and every acknowledgement
names one exact finding on one resource with a reason of its own."""

from __future__ import annotations

import pytest

from policies.nag import MIN_REASON_WORDS
from policies.report import read_findings
from tests.conftest import synthesize


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_unacknowledged_findings(env: str) -> None:
    findings = read_findings(synthesize(env).outdir / "validation-report.json")
    assert "AwsSolutions" in {f.pack for f in findings}
    assert [f for f in findings if not f.acknowledged] == []


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_acknowledgements_are_specific(env: str) -> None:
    findings = [f for f in read_findings(synthesize(env).outdir / "validation-report.json")
                if f.acknowledged and f.pack != "CloudFormation Validate"]
    assert findings
    for f in findings:
        assert f.reason and len(f.reason.split()) >= MIN_REASON_WORDS, f
        # Acknowledged on the resource (or the construct that owns it), never on a stack or the app.
        assert f.acknowledged_at and "/" in f.acknowledged_at, f
    by_reason: dict[str, set[str]] = {}
    for f in findings:
        by_reason.setdefault(f.reason or "", set()).add(f.rule.split("[")[0])
    # One reason may cover one rule on sibling resources (e.g. two node group roles), not unrelated rules.
    assert all(len(rules) == 1 or rules <= {"AwsSolutions-APIG4", "AwsSolutions-COG4"}
               for rules in by_reason.values()), by_reason
