"""What the synthesized templates show about the mechanisms a saving depends on.

The cost rules price a saving only when the templates hold the resource or setting that produces it: a node
group's working-hours schedule (EventBridge Scheduler calling ``eks:UpdateNodegroupConfig``), node and pod
autoscaling (the Cluster Autoscaler's Helm chart, node groups whose minimum is below their maximum, the services'
HorizontalPodAutoscalers and the metrics-server add-on that feeds them), and so on. This module reads those
resources out of the templates; each finding is an :class:`Evidence` naming the stack, the logical id and the
setting, which the report prints next to the figure it supports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tools.assembly import Resource

HELM_CHART = "Custom::AWSCDK-EKS-HelmChart"
KUBERNETES_RESOURCE = "Custom::AWSCDK-EKS-KubernetesResource"
UPDATE_NODEGROUP_TARGET = "arn:aws:scheduler:::aws-sdk:eks:updateNodegroupConfig"
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
MINUTES_PER_WEEK = 7 * 24 * 60
# Stands for an intrinsic function (a deploy-time value) inside a flattened template string.
TOKEN = "\u0000INTRINSIC\u0000"  # noqa: S105 - a placeholder, not a secret


class UnreadableEvidenceError(ValueError):
    """A resource that would support a saving is written in a form this reader does not understand."""


@dataclass(frozen=True)
class Evidence:
    stack: str
    logical_id: str
    type: str
    setting: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.type}): {self.setting}"


def of(r: Resource, setting: str) -> Evidence:
    return Evidence(r.stack, r.logical_id, r.type, setting)


def flatten(value: Any) -> str:
    """A template string value with its intrinsic-function parts replaced by a placeholder (``Fn::Join`` of
    literals and references becomes one string)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(flatten(p) for p in parts)
    return TOKEN


def references(value: Any) -> list[tuple[str, str | None]]:
    """(logical id, attribute or None for Ref) of every Ref / Fn::GetAtt inside ``value``."""
    out: list[tuple[str, str | None]] = []
    if isinstance(value, dict):
        if "Ref" in value:
            out.append((str(value["Ref"]), None))
        elif "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            out.append((str(target[0]), str(target[1])))
        else:
            for v in value.values():
                out += references(v)
    elif isinstance(value, list):
        for v in value:
            out += references(v)
    return out


# --- working-hours schedules ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduledResize:
    """One schedule that sets the scaling configuration of one node group at the times of its cron expression."""

    evidence: Evidence
    node_group: str  # logical id, same stack
    times: tuple[int, ...]  # minute of the week (Monday 00:00 = 0) at which it fires
    timezone: str
    scaling: dict[str, int]


_CRON = re.compile(r"^cron\((?P<min>\S+) (?P<hour>\S+) (?P<dom>\S+) (?P<month>\S+) (?P<dow>\S+) (?P<year>\S+)\)$")


def _values(field: str, low: int, high: int, names: Sequence[str] = ()) -> list[int]:
    """A cron field made of numbers (or day names), comma lists and ranges; ``*`` for all."""
    def one(token: str) -> int:
        return names.index(token) + low if token in names else int(token)

    if field == "*":
        return list(range(low, high + 1))
    out: list[int] = []
    for part in field.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(one(a), one(b) + 1))
        else:
            out.append(one(part))
    if not out or any(v < low or v > high for v in out):
        raise ValueError(field)
    return sorted(set(out))


def fire_times(expression: str) -> tuple[int, ...]:
    """Minutes of the week at which a weekly EventBridge Scheduler cron expression fires (day-of-month ``?`` or
    ``*``, every month and year). Anything else is refused: its effect on a week could not be priced."""
    m = _CRON.match(expression.strip())
    if not m or m["dom"] not in ("?", "*") or m["month"] != "*" or m["year"] != "*":
        raise UnreadableEvidenceError(f"schedule expression {expression!r}: only weekly cron expressions are priced")
    try:
        minutes = _values(m["min"], 0, 59)
        hours = _values(m["hour"], 0, 23)
        days = [d - 1 for d in _values(m["dow"].upper(), 1, 7, WEEKDAYS)] if m["dow"] not in ("?", "*") \
            else list(range(7))
    except ValueError as err:
        raise UnreadableEvidenceError(f"schedule expression {expression!r}: cannot read {err}") from None
    return tuple(sorted(d * 1440 + h * 60 + mi for d in days for h in hours for mi in minutes))


def scheduled_resizes(resources: Iterable[Resource]) -> list[ScheduledResize]:
    """Every enabled schedule whose target is EKS's UpdateNodegroupConfig, with the node group it names."""
    out: list[ScheduledResize] = []
    for r in resources:
        if r.type != "AWS::Scheduler::Schedule" or r.properties.get("State", "ENABLED") != "ENABLED":
            continue
        target = r.properties.get("Target", {})
        if target.get("Arn") != UPDATE_NODEGROUP_TARGET:
            continue
        groups = [ref for ref, attr in references(target.get("Input")) if attr == "NodegroupName"]
        if len(groups) != 1:
            raise UnreadableEvidenceError(f"{r.stack}/{r.logical_id}: its input names no node group of the stack")
        try:
            body = json.loads(flatten(target["Input"]).replace(TOKEN, "token"))
            scaling = {k: int(v) for k, v in body["ScalingConfig"].items()}
        except (KeyError, ValueError, TypeError):
            raise UnreadableEvidenceError(f"{r.stack}/{r.logical_id}: input has no ScalingConfig") from None
        expression = str(r.properties.get("ScheduleExpression"))
        timezone = str(r.properties.get("ScheduleExpressionTimezone", "UTC"))
        out.append(ScheduledResize(
            of(r, f"{expression} {timezone}: {groups[0]} to {json.dumps(scaling, separators=(',', ':'))}"),
            groups[0], fire_times(expression), timezone, scaling))
    return out


def weekly_state(resizes: Sequence[ScheduledResize]) -> list[tuple[int, dict[str, int]]]:
    """(minutes of the week, scaling configuration in force) for one node group's schedules, as consecutive spans
    covering the whole week; the state at Monday 00:00 is the one the week's last call left (the week repeats)."""
    events = sorted((t, i, r.scaling) for i, r in enumerate(resizes) for t in r.times)
    if not events:
        return []
    spans: list[tuple[int, dict[str, int]]] = []
    state = events[-1][2]
    position = 0
    for t, _, scaling in events:
        if t > position:
            spans.append((t - position, state))
        state, position = scaling, t
    spans.append((MINUTES_PER_WEEK - position, state))
    return spans


# --- autoscaling ----------------------------------------------------------------------------------------------

def manifests(r: Resource) -> list[dict[str, Any]]:
    """The Kubernetes objects a KubernetesManifest custom resource applies (its Manifest is a JSON list string)."""
    text = flatten(r.properties.get("Manifest", "[]")).replace(TOKEN, "token")
    try:
        data = json.loads(text)
    except ValueError:
        raise UnreadableEvidenceError(f"{r.stack}/{r.logical_id}: manifest is not JSON") from None
    return [m for m in (data if isinstance(data, list) else [data]) if isinstance(m, dict)]


@dataclass(frozen=True)
class Autoscaling:
    """Pod autoscaling (HPAs with a resource-metrics source) and node autoscaling (a node autoscaler that discovers
    the cluster's node groups), as found in the templates."""

    hpas: tuple[Evidence, ...]
    metrics_server: tuple[Evidence, ...]
    node_autoscaler: tuple[Evidence, ...]

    @property
    def pods(self) -> bool:
        return bool(self.hpas and self.metrics_server)

    @property
    def nodes(self) -> bool:
        return bool(self.node_autoscaler)

    def missing(self) -> list[str]:
        out = []
        if not self.hpas:
            out.append("no HorizontalPodAutoscaler in any manifest")
        if not self.metrics_server:
            out.append("no metrics-server add-on: HPAs would have no CPU metrics")
        if not self.node_autoscaler:
            out.append("no Cluster Autoscaler chart discovering the cluster's node groups")
        return out


def autoscaling(resources: Sequence[Resource]) -> Autoscaling:
    hpas: list[Evidence] = []
    for r in resources:
        if r.type == KUBERNETES_RESOURCE:
            for m in manifests(r):
                if m.get("kind") == "HorizontalPodAutoscaler":
                    spec = m.get("spec", {})
                    name = f"{m.get('metadata', {}).get('namespace')}/{m.get('metadata', {}).get('name')}"
                    hpas.append(of(r, f"HorizontalPodAutoscaler {name}: {spec.get('minReplicas')} to "
                                      f"{spec.get('maxReplicas')} replicas"))
    metrics = [of(r, f"add-on metrics-server {r.properties.get('AddonVersion', '')}".strip())
               for r in resources if r.type == "AWS::EKS::Addon" and r.properties.get("AddonName") == "metrics-server"]
    clusters = {r.logical_id for r in resources if r.type == "AWS::EKS::Cluster"}
    autoscaler: list[Evidence] = []
    for r in resources:
        if r.type == HELM_CHART and r.properties.get("Chart") == "cluster-autoscaler":
            discovers = {ref for ref, _ in references(r.properties.get("Values"))} & clusters
            if "autoDiscovery" in flatten(r.properties.get("Values", "")) and discovers:
                autoscaler.append(of(r, f"Helm chart cluster-autoscaler {r.properties.get('Version', '')}, "
                                        f"auto-discovery of cluster {sorted(discovers)[0]}'s node groups"))
    return Autoscaling(tuple(hpas), tuple(metrics), tuple(autoscaler))
