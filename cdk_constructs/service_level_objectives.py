"""The environment's service level objectives (config ``objectives``, route groups in config/slo.py): per route
group and SLI, the error budget left over the window on the overview dashboard, and where the environment pages on
them, the multi-window burn-rate alarms.

Burn rate over a window = (bad requests / all requests over the window) / (1 - objective): 1 spends exactly the
budget over the objective's window. Each alert of config/slo.py BURN_ALERTS is two metric alarms, one per window,
whose period is the window (CloudWatch's default sliding evaluation window: each evaluation reads the last full
window), and a composite alarm that is in ALARM only when both are: the long window says enough budget burned to
matter, the short one that it is still burning. Only the composites notify. ``stop_condition`` (an OR of every fast
burn) is what fault experiments stop on (cdk_constructs/fault_experiments.py).

Requests come from API Gateway's per-method metrics (the stage has detailed metrics on, cdk_constructs/platform_api.py)
of each route of the group: availability counts ``5XXError`` against ``Count``; latency counts the requests over the
threshold as ``SampleCount`` minus the trimmed count ``TC(:threshold)`` of ``Latency``. A window with fewer requests
than ``min_requests_per_hour`` (pro rata) reads as burn 0, so one failed canary request in a quiet hour does not page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.environment import ObjectivesConfig, RouteGroupObjective
from config.slo import BURN_ALERTS, ROUTE_GROUPS, BurnAlert, Sli, route_key
from config.topology import Route
from policies.nag import acknowledge

API_NAMESPACE = "AWS/ApiGateway"


@dataclass(frozen=True)
class Objective:
    """One SLO: a route group judged by one SLI."""

    group: str
    sli: Sli
    target_percent: float
    latency_ms: int
    routes: tuple[Route, ...]

    @property
    def budget(self) -> float:
        """The share of requests that may be bad over the window."""
        return 1 - self.target_percent / 100

    @property
    def name(self) -> str:
        return f"{self.group}-{self.sli.value}"

    def describe(self) -> str:
        what = "answered without a 5xx" if self.sli == Sli.AVAILABILITY else f"answered within {self.latency_ms} ms"
        routes = ", ".join(route_key(r.method, r.path) for r in self.routes)
        return f"{self.target_percent:g}% of {self.group} requests ({routes}) {what}"


def objectives_of(config: ObjectivesConfig, routes: Sequence[Route]) -> list[Objective]:
    by_key = {route_key(r.method, r.path): r for r in routes}
    out: list[Objective] = []
    for group, members in ROUTE_GROUPS.items():
        o: RouteGroupObjective = config.of(group)
        group_routes = tuple(by_key[k] for k in members)
        out.append(Objective(group, Sli.AVAILABILITY, o.availability_percent, o.latency_ms, group_routes))
        out.append(Objective(group, Sli.LATENCY, o.latency_percent, o.latency_ms, group_routes))
    return out


class ServiceLevelObjectives(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, environment: str, api_name: str, stage_name: str,
                 routes: Sequence[Route], config: ObjectivesConfig, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.environment, self.api_name, self.stage_name, self.config = environment, api_name, stage_name, config
        self.objectives = objectives_of(config, routes)
        # Per objective and alert: the composite alarm that pages.
        self.pages: dict[tuple[str, str], cw.CompositeAlarm] = {}
        self.stop_condition: cw.CompositeAlarm | None = None
        if not config.alerting:
            return
        action = cw_actions.SnsAction(topic)
        for objective in self.objectives:
            for alert in BURN_ALERTS:
                self.pages[(objective.name, alert.name)] = self._page(objective, alert, action)
        fast = [page for (_, alert), page in self.pages.items() if alert == BURN_ALERTS[0].name]
        # Silent: its children page; fault experiments stop on it (FIS takes at most five stop conditions).
        self.stop_condition = cw.CompositeAlarm(
            self, "FastBurnAnyObjective", composite_alarm_name=f"{environment}-slo-fast-burn-any",
            alarm_description=(f"Any service level objective of {environment} burning its error budget fast (2% of "
                               f"{config.window_days} days in an hour): the stop condition of every fault experiment."),
            alarm_rule=cw.AlarmRule.any_of(*fast))

    def _requests(self, objective: Objective, period: cdk.Duration) -> tuple[dict[str, cw.IMetric], str, str]:
        """The route metrics of an objective, and the expressions of its bad and all requests over ``period``."""
        metrics: dict[str, cw.IMetric] = {}
        bad_terms, total_terms = [], []
        # Ids unique per objective: a dashboard widget draws several objectives' expressions side by side.
        p = objective.name.replace("-", "_")
        for i, route in enumerate(objective.routes):
            dims = {"ApiName": self.api_name, "Stage": self.stage_name, "Resource": route.path,
                    "Method": route.method}
            if objective.sli == Sli.AVAILABILITY:
                metrics[f"{p}_bad{i}"] = cw.Metric(namespace=API_NAMESPACE, metric_name="5XXError", statistic="Sum",
                                               dimensions_map=dims, period=period)
                metrics[f"{p}_all{i}"] = cw.Metric(namespace=API_NAMESPACE, metric_name="Count", statistic="Sum",
                                               dimensions_map=dims, period=period)
                bad_terms.append(f"FILL({p}_bad{i}, 0)")
            else:
                metrics[f"{p}_fast{i}"] = cw.Metric(namespace=API_NAMESPACE, metric_name="Latency",
                                                statistic=f"TC(:{objective.latency_ms})", dimensions_map=dims,
                                                period=period)
                metrics[f"{p}_all{i}"] = cw.Metric(namespace=API_NAMESPACE, metric_name="Latency",
                                               statistic="SampleCount", dimensions_map=dims, period=period)
                bad_terms.append(f"FILL({p}_all{i}, 0) - FILL({p}_fast{i}, 0)")
            total_terms.append(f"FILL({p}_all{i}, 0)")
        return metrics, " + ".join(bad_terms), " + ".join(total_terms)

    def burn_rate(self, objective: Objective, minutes: int) -> cw.MathExpression:
        """The objective's burn rate over the last ``minutes``."""
        period = cdk.Duration.minutes(minutes)
        metrics, bad, total = self._requests(objective, period)
        minimum = max(1, math.ceil(self.config.min_requests_per_hour * minutes / 60))
        return cw.MathExpression(
            expression=f"IF(({total}) >= {minimum}, (({bad}) / ({total})) / {objective.budget:.6g}, 0)",
            using_metrics=metrics, period=period, label=f"{objective.name} burn rate ({_window(minutes)})")

    def budget_left(self, objective: Objective) -> cw.MathExpression:
        """Percent of the window's error budget not yet spent; the dashboard's widget reads it over its time range
        (the window), whatever period the metrics carry here."""
        metrics, bad, total = self._requests(objective, cdk.Duration.days(1))
        return cw.MathExpression(
            expression=f"IF(({total}) > 0, 100 * (1 - (({bad}) / ({total})) / {objective.budget:.6g}), 100)",
            using_metrics=metrics, period=cdk.Duration.days(1),
            label=f"{objective.group} {objective.sli.value} ({objective.target_percent:g}%)")

    def _page(self, objective: Objective, alert: BurnAlert, action: cw.IAlarmAction) -> cw.CompositeAlarm:
        threshold = alert.threshold(self.config.window_days)
        windows: list[cw.Alarm] = []
        for minutes in (alert.long_minutes, alert.short_minutes):
            windows.append(cw.Alarm(
                self, f"{_pascal(objective.name)}Burn{minutes}m",
                alarm_name=f"{self.environment}-slo-{objective.name}-burn-{_window(minutes)}",
                alarm_description=(f"Burn rate of '{objective.describe()}' over {_window(minutes)} above "
                                   f"{threshold:g}; pages only with its {alert.name} partner window (composite)."),
                metric=self.burn_rate(objective, minutes), threshold=threshold, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(windows[-1], f"{pack}-CloudWatchAlarmAction",
                            f"One window of the {alert.name} burn-rate page of {objective.name}: a burn over this "
                            "window alone is not worth a page (SRE workbook, multi-window alerting); the composite "
                            "alarm requiring both windows notifies the alarm topic.")
        page = cw.CompositeAlarm(
            self, f"{_pascal(objective.name)}{alert.name.capitalize()}Burn",
            composite_alarm_name=f"{self.environment}-slo-{objective.name}-{alert.name}-burn-Critical",
            alarm_description=(
                f"Error budget of '{objective.describe()}' over {self.config.window_days} days burning at over "
                f"{threshold:g}x: {alert.budget_share:.0%} of it gone within {_window(alert.long_minutes)} and still "
                f"burning over the last {_window(alert.short_minutes)}. Look at the {self.environment}-overview "
                f"dashboard's budget row, then the routes' 5XX and latency on the service's dashboard."),
            alarm_rule=cw.AlarmRule.all_of(*windows))
        page.add_alarm_action(action)
        return page

    def dashboard_widgets(self) -> list[cw.IWidget]:
        """The overview dashboard's rows: budget left over the window per objective, and the hour's burn rate."""
        days = self.config.window_days
        widgets: list[cw.IWidget] = [cw.TextWidget(width=24, height=1, markdown=(
            f"### Error budgets, last {days} days" + ("" if self.config.alerting else
                                                       " (drawn only: this environment does not page on them)")))]
        for sli in Sli:
            mine = [o for o in self.objectives if o.sli == sli]
            widgets.append(cw.SingleValueWidget(
                title=f"{sli.value.capitalize()}: % of the error budget left ({days} days)", width=12, height=5,
                metrics=[self.budget_left(o) for o in mine], start=f"-P{days}D", set_period_to_time_range=True,
                full_precision=False))
        fast = BURN_ALERTS[0]
        for sli in Sli:
            widgets.append(cw.GraphWidget(
                title=f"{sli.value.capitalize()} burn rate, {_window(fast.long_minutes)} window", width=12,
                left=[self.burn_rate(o, fast.long_minutes) for o in self.objectives if o.sli == sli],
                left_annotations=[cw.HorizontalAnnotation(value=fast.threshold(days),
                                                          label=f"{fast.name} burn page threshold")]))
        return widgets


def _window(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))
