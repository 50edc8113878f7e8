"""k8s-support: a cluster whose Kubernetes version left EKS standard support, or leaves it within the notice, fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date

from config.eks_addons import ROWS
from config.environment import PreflightAcknowledgement
from tests.preflight.workbench import Workbench
from tools.reports.preflight import support_window
from tools.reports.preflight.model import acknowledge


def _on(day: date) -> Callable[[], date]:
    return lambda: day


def test_every_environment_runs_a_version_in_standard_support_for_a_month_after_the_version_table_was_read(
        bench: Callable[[str], Workbench]) -> None:
    """The day the 1.36 row was read (2026-12-07): every environment's version then had a month of support left."""
    for env in ("dev", "staging", "prod"):
        wb = bench(env)
        result = support_window.check(wb.assembly(), wb.config, today=_on(date(2026, 12, 7)))
        assert result.ok, result.findings


def test_a_version_past_its_standard_support_fails_and_names_the_next(bench: Callable[[str], Workbench]) -> None:
    """Kubernetes 1.34 left standard support on 2026-12-02, the version every environment ran until 2026-12-07."""
    wb = bench("dev")
    (cluster,) = wb.resources("Cluster", "AWS::EKS::Cluster").values()
    cluster["Properties"]["Version"] = "1.34"
    [finding] = support_window.check(wb.assembly(), wb.config, today=_on(date(2026, 12, 7))).findings
    assert "Kubernetes 1.34 left EKS standard support on 2026-12-02 (5 days ago)" in finding.message
    assert "move cluster.kubernetes_version to 1.35" in finding.message
    assert "Cluster" in finding.resource


def test_a_version_ending_within_the_notice_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("prod")
    version = wb.config.cluster.kubernetes_version
    ends = ROWS[version].standard_support_ends
    early = date.fromordinal(ends.toordinal() - support_window.NOTICE.days)
    assert support_window.check(wb.assembly(), wb.config, today=_on(early)).ok
    [finding] = support_window.check(wb.assembly(), wb.config,
                                     today=_on(date.fromordinal(early.toordinal() + 1))).findings
    assert f"leaves EKS standard support on {ends}, in {support_window.NOTICE.days - 1} days" in finding.message


def test_a_version_without_a_row_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    (cluster,) = wb.resources("Cluster", "AWS::EKS::Cluster").values()
    cluster["Properties"]["Version"] = "1.29"
    [finding] = support_window.check(wb.assembly(), wb.config, today=_on(date(2026, 12, 7))).findings
    assert "Kubernetes 1.29 has no row in config/eks_addons.py" in finding.message


def test_config_can_accept_extended_support_with_a_reason_the_report_prints(
        bench: Callable[[str], Workbench]) -> None:
    wb = bench("staging")
    (cluster,) = wb.resources("Cluster", "AWS::EKS::Cluster").values()
    cluster["Properties"]["Version"] = "1.34"
    reason = "1.35 soaks in dev until 2026-12-20; $0.50 an hour more accepted until then"
    config = dataclasses.replace(wb.config, preflight_acknowledgements=(
        PreflightAcknowledgement(check=support_window.NAME, resource="Cluster", reason=reason),))
    result = acknowledge(support_window.check(wb.assembly(), config, today=_on(date(2026, 12, 7))),
                         config.preflight_acknowledgements)
    assert result.ok
    assert reason in str(result.acknowledged[0])
