"""A failure the config acknowledges is reported with its reason and does not fail the check; an acknowledgement
that matches nothing does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from config.environment import ConfigError, PreflightAcknowledgement
from tests.preflight.workbench import Workbench
from tools.reports.preflight.__main__ import main
from tools.reports.preflight.model import CheckResult, Finding, acknowledge
from tools.reports.preflight.runner import run

REASON = "Dev's NLB is ours to break in this test, and the reason is long enough to be printed in full."


def test_an_acknowledged_finding_moves_aside_with_its_reason() -> None:
    result = CheckResult("reachability", "dev", "figure", [Finding("Deployment orders/orders-api", "too short"),
                                                            Finding("Deployment users/users-api", "too short")])
    acknowledge(result, [PreflightAcknowledgement("reachability", "orders/orders-api", REASON)])
    assert [f.resource for f in result.findings] == ["Deployment users/users-api"]
    [ack] = result.acknowledged
    assert str(ack) == f"acknowledged: Deployment orders/orders-api: too short -- reason (config): {REASON}"
    assert result.line().endswith("figure (1 acknowledged)")


def test_an_acknowledgement_that_matches_nothing_fails() -> None:
    result = acknowledge(CheckResult("prune", "dev", "figure"),
                         [PreflightAcknowledgement("prune", "Deployment gone/gone", REASON)])
    [finding] = result.findings
    assert "acknowledges prune findings about 'Deployment gone/gone', but the check finds none" in finding.message


def test_the_report_prints_the_reason(bench: Callable[[str], Workbench], capsys: pytest.CaptureFixture[str]) -> None:
    wb = bench("dev")
    [nlb] = wb.resources("Edge", "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    nlb["Properties"]["LoadBalancerAttributes"].append({"Key": "access_logs.s3.enabled", "Value": "true"})
    assembly = wb.assembly()
    [failed] = run(assembly, wb.config, ["access-logs"])
    assert not failed.ok
    config = replace(wb.config, preflight_acknowledgements=(
        PreflightAcknowledgement("access-logs", "ServicesLoadBalancer", REASON),))
    [passed] = run(assembly, config, ["access-logs"])
    assert passed.ok and len(passed.acknowledged) == 1
    assert main(["--assembly", str(wb.dir), "--check", "access-logs"]) == 1
    assert "access logging is on" in capsys.readouterr().out


@pytest.mark.parametrize(("ack", "key"), [
    (PreflightAcknowledgement("Bad Name", "x", REASON), "preflight_acknowledgements[0].check"),
    (PreflightAcknowledgement("prune", " ", REASON), "preflight_acknowledgements[0].resource"),
    (PreflightAcknowledgement("prune", "x", "because"), "preflight_acknowledgements[0].reason"),
])
def test_acknowledgements_are_validated(bench: Callable[[str], Workbench], ack: PreflightAcknowledgement,
                                        key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        replace(bench("dev").config, preflight_acknowledgements=(ack,)).validate()
