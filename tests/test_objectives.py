"""Service level objectives as synthesized: one pair of burn-rate windows per alert and objective, composites that
page only when both windows burn, thresholds derived from the window, and the alarm math evaluated on numbers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config.slo import BURN_ALERTS, ROUTE_GROUPS, Sli
from tests.synthesis import Synthesized


def observability(env: Synthesized, type_: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in env.resources("Observability", type_).items()}


def burn_windows(env: Synthesized) -> dict[str, dict[str, Any]]:
    return {p["AlarmName"]: p for p in observability(env, "AWS::CloudWatch::Alarm").values()
            if "-slo-" in p["AlarmName"]}


def evaluate(expression: str, values: dict[str, float]) -> float:
    """CloudWatch metric math as the alarms use it (FILL, IF, arithmetic on one datapoint per metric)."""

    def fill(value: float, default: float) -> float:
        return default if value is None else value

    def if_(condition: bool, yes: float, no: float) -> float:
        return yes if condition else no

    python = re.sub(r"\bIF\(", "if_(", re.sub(r"\bFILL\(", "fill(", expression))
    return float(eval(python, {"fill": fill, "if_": if_, "__builtins__": {}}, dict(values)))


def test_every_objective_has_its_two_burn_alerts_of_two_windows_each(prod: Synthesized) -> None:
    windows = burn_windows(prod)
    composites = {p["AlarmName"]: p for p in observability(prod, "AWS::CloudWatch::CompositeAlarm").values()}
    days = prod.config.objectives.window_days
    for group in ROUTE_GROUPS:
        for sli in Sli:
            for alert in BURN_ALERTS:
                name = f"prod-slo-{group}-{sli.value}-{alert.name}-burn-Critical"
                rule = json.dumps(composites[name]["AlarmRule"])
                pair = []
                for minutes in (alert.long_minutes, alert.short_minutes):
                    label = f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
                    window = windows[f"prod-slo-{group}-{sli.value}-burn-{label}"]
                    assert window["Threshold"] == pytest.approx(alert.threshold(days))
                    assert window["ComparisonOperator"] == "GreaterThanThreshold"
                    assert window["TreatMissingData"] == "notBreaching" and not window.get("AlarmActions")
                    periods = {m["MetricStat"]["Period"] for m in window["Metrics"] if "MetricStat" in m}
                    assert periods == {minutes * 60}, (name, periods)
                    assert len([m for m in window["Metrics"] if "MetricStat" in m]) <= 10
                    pair.append(window["AlarmName"])
                # Both windows, AND: the long says enough burned, the short that it still burns.
                assert rule.count("ALARM(") == 2 and " AND " in rule and " OR " not in rule, rule
                assert composites[name]["AlarmActions"], name
    assert len(windows) == len(ROUTE_GROUPS) * len(Sli) * 4


def test_the_stop_condition_is_any_fast_burn_and_is_an_output(prod: Synthesized) -> None:
    composites = observability(prod, "AWS::CloudWatch::CompositeAlarm")
    stop = next(p for p in composites.values() if p["AlarmName"] == "prod-slo-fast-burn-any")
    assert json.dumps(stop["AlarmRule"]).count(" OR ") == len(ROUTE_GROUPS) * len(Sli) - 1
    assert not stop.get("AlarmActions")
    assert "SloFastBurnAlarmArn" in prod.template_json("Observability")["Outputs"]


def test_dev_draws_its_budgets_but_does_not_page(dev: Synthesized) -> None:
    assert not burn_windows(dev) and not observability(dev, "AWS::CloudWatch::CompositeAlarm")
    body = json.dumps(observability(dev, "AWS::CloudWatch::Dashboard"))
    assert "% of the error budget left (28 days)" in body and "-P28D" in body
    for group in ROUTE_GROUPS:
        assert f"{group} availability (99%)" in body and f"{group} latency (95%)" in body


def _window(env: Synthesized, name: str) -> tuple[str, dict[str, str]]:
    window = burn_windows(env)[name]
    expression = next(m["Expression"] for m in window["Metrics"] if "Expression" in m)
    stats = {m["Id"]: m["MetricStat"]["Stat"] for m in window["Metrics"] if "MetricStat" in m}
    return expression, stats


def test_availability_burn_math_pages_at_the_derived_threshold(prod: Synthesized) -> None:
    """Checkout at 99.9% over 28 days: the hour's page threshold is 13.44x, i.e. 1.344% of requests failing."""
    expression, stats = _window(prod, "prod-slo-checkout-availability-burn-1h")
    assert set(stats.values()) == {"Sum"}
    requests = {k: 400.0 for k in stats if "_all" in k}  # 1200 in the hour over three routes
    failing = {k: 0.0 for k in stats if "_bad" in k}
    first_bad = min(k for k in stats if "_bad" in k)
    assert evaluate(expression, {**requests, **failing, first_bad: 16}) == pytest.approx(16 / 1200 / 0.001)
    assert evaluate(expression, {**requests, **failing, first_bad: 16}) < BURN_ALERTS[0].threshold(28)
    assert evaluate(expression, {**requests, **failing, first_bad: 17}) > BURN_ALERTS[0].threshold(28)
    # Below the hour's minimum of requests (config min_requests_per_hour, 120 in prod) nothing burns.
    quiet = {k: 30.0 for k in stats if "_all" in k}
    assert evaluate(expression, {**quiet, **failing, first_bad: 30}) == 0


def test_latency_burn_counts_requests_over_the_threshold(prod: Synthesized) -> None:
    expression, stats = _window(prod, "prod-slo-catalog-latency-burn-5m")
    fast = sorted(k for k, v in stats.items() if v == "TC(:300)")
    counts = sorted(k for k, v in stats.items() if v == "SampleCount")
    assert len(fast) == len(counts) == len(ROUTE_GROUPS["catalog"])
    # 5 minutes, 200 requests of which 4 over 300 ms: 2% slow against a 1% budget -> burn 2.
    values = {counts[0]: 150.0, counts[1]: 50.0, fast[0]: 147.0, fast[1]: 49.0}
    assert evaluate(expression, values) == pytest.approx(2.0)
