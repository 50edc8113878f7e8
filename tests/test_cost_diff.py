"""The cost diff of a pull request and its budget gate: the gate is a function of the priced totals and the configs
(a budget raised in a temporary config passes, lowered fails, nothing synthesized again); the diff pairs each line
of the base with the same line of the head and shows what changed, per environment and per stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from config.environments import ENVIRONMENTS
from tools.reports.cost import prices as price_table
from tools.reports.cost.diff import EnvDiff, budget_gate, line_changes, render
from tools.reports.cost.report import CostReport, price_assembly


@pytest.fixture(scope="module")
def dev_report(synth: Callable[[str], Any]) -> CostReport:
    env = synth("dev")
    return price_assembly("dev", env.outdir, env.config.usage, price_table.load())


def test_the_gate_passes_a_raised_budget_and_fails_a_lowered_one(dev_report: CostReport) -> None:
    total = dev_report.total
    configs = dict(ENVIRONMENTS)
    assert budget_gate({"dev": total}, configs) == []  # the shipped budget holds
    configs["dev"] = replace(ENVIRONMENTS["dev"], monthly_budget_usd=round(total) + 10).validate()
    assert budget_gate({"dev": total}, configs) == []
    configs["dev"] = replace(ENVIRONMENTS["dev"], monthly_budget_usd=round(total) - 10).validate()
    (over,) = budget_gate({"dev": total}, configs)
    assert over.env == "dev" and over.budget_usd == round(total) - 10
    assert "dev.monthly_budget_usd" in str(over) and f"${total:,.2f}" in str(over)
    # the budget itself: a cent over fails, exactly at it passes
    configs["dev"] = replace(ENVIRONMENTS["dev"], monthly_budget_usd=round(total, 2)).validate()
    assert budget_gate({"dev": total}, configs) == []
    assert budget_gate({"dev": round(total, 2) + 0.01}, configs) != []


def test_every_shipped_environment_is_within_its_budget(synth: Callable[[str], Any]) -> None:
    totals = {}
    for name in ("dev", "prod"):
        env = synth(name)
        totals[name] = price_assembly(name, env.outdir, env.config.usage, price_table.load()).total
    assert budget_gate(totals, ENVIRONMENTS) == []


def test_lines_are_paired_by_resource_and_kind_whatever_their_figures(dev_report: CostReport) -> None:
    """The base here is dev's own templates priced as if the schedule were not there: the node, metric, polling and
    Aurora lines change value and description, and each is paired with itself."""
    around_the_clock = dev_report.repriced_lines(frozenset({"schedule"}))
    changes = line_changes(around_the_clock, dev_report.lines)
    assert changes and all(c.delta < 0 for c in changes)
    by_id = {(c.logical_id, c.item.split(":")[0]) for c in changes}
    groups = [r.logical_id for r in dev_report.resources if r.type == "AWS::EKS::Nodegroup"
              and r.properties["ScalingConfig"]["DesiredSize"] > 0]
    assert {(g, "nodes") for g in groups} <= by_id
    assert sum(c.delta for c in changes) == pytest.approx(dev_report.total - sum(x.monthly_usd
                                                                                   for x in around_the_clock))
    assert line_changes(dev_report.lines, dev_report.lines) == []
    # a line only on one side is added or removed with its whole figure
    removed = line_changes(dev_report.lines, dev_report.lines[1:])
    assert len(removed) == (1 if dev_report.lines[0].monthly_usd >= 0.005 else 0)


def test_the_report_shows_totals_budgets_stacks_and_the_over_budget_environment(dev_report: CostReport) -> None:
    base = CostReport("dev", dev_report.usage, dev_report.prices, dev_report.repriced_lines(frozenset({"schedule"})),
                      {}, dev_report.stacks, dev_report.resources)
    diff = EnvDiff("dev", base, dev_report, budget_usd=200)
    over = budget_gate({"dev": dev_report.total},
                       {"dev": replace(ENVIRONMENTS["dev"], monthly_budget_usd=200).validate()})
    text = render([diff], base="main (abc)", head="def", over=over, today=price_table.load().as_of)
    assert "### :x: Over budget" in text and "| dev | " in text and ":x: over" in text
    assert f"-${base.total - dev_report.total:,.2f}" in text
    assert "| Dev-Cluster |" in text and "PlatformClusterNodegroupSystemNodeGroup" in text
    assert "more than a year old today" not in text  # the table is not a year older than its own review date
    # What the last review could not re-read is said on every pull request.
    carried = price_table.load().carried_entries()
    assert (f":warning: {len(carried)} of " in text) == bool(carried)
    aged = render([diff], base="b", head="h", over=[], today=date(2030, 1, 1))
    assert ":warning:" in aged and "eks.cluster_hour" in aged and "Over budget" not in aged
