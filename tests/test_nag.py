"""One whole-app synth per environment with the nag packs: zero unacknowledged findings, and every acknowledgement
names one exact finding on one resource with a reason of its own."""

from __future__ import annotations

import pytest

from policies.nag import MIN_REASON_WORDS
from policies.report import read_findings
from tests.synthesis import synthesize


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_unacknowledged_findings(env: str) -> None:
    findings = read_findings(synthesize(env).outdir / "validation-report.json")
    assert {"AwsSolutions", "NIST.800.53.R5", "PCI.DSS.321"} <= {f.pack for f in findings}
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
    # A reason names why one resource is safe: it may repeat only on that same resource (the same finding in
    # several packs) or for the same rule on sibling resources, never across unrelated resources and rules.
    paths: dict[str, set[str]] = {}
    rules: dict[str, set[str]] = {}
    for f in findings:
        paths.setdefault(f.reason or "", set()).add(f.path)
        rules.setdefault(f.reason or "", set()).add(_rule_name(f.rule))
    shared = {r: (sorted(paths[r]), sorted(rules[r])) for r in paths if len(paths[r]) > 1 and len(rules[r]) > 1}
    assert shared == {}


def _rule_name(rule: str) -> str:
    """``NIST.800.53.R5-IAMNoInlinePolicy[...]`` -> ``IAMNoInlinePolicy``: the same check in different packs."""
    return rule.split("[")[0].split("-", 1)[-1] if not rule.startswith("AwsSolutions") else rule.split("[")[0]
