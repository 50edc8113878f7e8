"""`make fault ENV=staging EXPERIMENT=<name>`: start one fault experiment (cdk_constructs/fault_experiments.py) and
print what the service level objectives did while it ran.

The template is found by its ``experiment`` tag among the account's FIS templates. While the experiment runs, its
state and its action's state are printed as they change; afterwards, for every objective, the highest burn rate of
each of its alarm windows over the experiment (read with the alarms' own metric math, so the figures are what paged
or did not), the pages that fired (alarm history), and whether the stop condition stopped it. ``make fault ENV=...``
with no EXPERIMENT lists the environment's experiments. The caller's AWS credentials; nothing here is offline but the
tests (recorded responses).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from config.environment import ConfigError
from config.environments import load
from config.faults import EXPERIMENT_TAG

TERMINAL = ("completed", "stopped", "failed", "cancelled")


class FaultError(RuntimeError):
    """Why the experiment cannot start, in one line."""


def templates(fis: Any, environment: str) -> dict[str, str]:
    """Experiment name -> template id, for this environment's templates."""
    found: dict[str, str] = {}
    token: str | None = None
    while True:
        page = fis.list_experiment_templates(**({"nextToken": token} if token else {}))
        for t in page.get("experimentTemplates", []):
            tags = t.get("tags", {})
            if tags.get("Name", "").startswith(f"{environment}-") and EXPERIMENT_TAG in tags:
                found[tags[EXPERIMENT_TAG]] = t["id"]
        token = page.get("nextToken")
        if not token:
            return found


def run_experiment(fis: Any, template_id: str, name: str, *, poll: float = 10,
                   say: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    started = fis.start_experiment(experimentTemplateId=template_id, tags={EXPERIMENT_TAG: name})["experiment"]
    seen: tuple[str, ...] = ()
    while True:
        experiment = fis.get_experiment(id=started["id"])["experiment"]
        actions = experiment.get("actions", {})
        state = (experiment["state"]["status"], *(f"{k}={v['state']['status']}" for k, v in sorted(actions.items())))
        if state != seen:
            say(f"{datetime.now(UTC):%H:%M:%S} {name}: {', '.join(state)} {experiment['state'].get('reason', '')}")
            seen = state
        if experiment["state"]["status"] in TERMINAL:
            return dict(experiment)
        sleep(poll)


def objective_alarms(cloudwatch: Any, environment: str) -> list[dict[str, Any]]:
    alarms: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{environment}-slo-",
                                                                     AlarmTypes=["MetricAlarm"]):
        alarms += page["MetricAlarms"]
    return alarms


def slo_during(cloudwatch: Any, environment: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per objective window alarm: the highest burn rate its own expression reached between ``start`` and ``end``
    (one datapoint per window length, sliding every 5 minutes), against its threshold."""
    rows = []
    for alarm in objective_alarms(cloudwatch, environment):
        queries = [{k: v for k, v in q.items() if k in ("Id", "MetricStat", "Expression", "Label", "ReturnData")}
                   for q in alarm["Metrics"]]
        result = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end + timedelta(
            minutes=5), ScanBy="TimestampAscending")["MetricDataResults"]
        values = [v for r in result for v in r.get("Values", [])]
        rows.append({"alarm": alarm["AlarmName"], "threshold": alarm["Threshold"],
                     "max_burn": max(values) if values else 0.0, "state": alarm["StateValue"]})
    return rows


def pages_fired(cloudwatch: Any, environment: str, start: datetime, end: datetime) -> list[str]:
    fired = []
    paginator = cloudwatch.get_paginator("describe_alarm_history")
    for page in paginator.paginate(AlarmTypes=["CompositeAlarm"], HistoryItemType="StateUpdate",
                                   StartDate=start, EndDate=end + timedelta(minutes=30)):
        for item in page["AlarmHistoryItems"]:
            if item["AlarmName"].startswith(f"{environment}-slo-") and "to ALARM" in item["HistorySummary"]:
                fired.append(f"{item['Timestamp']:%H:%M:%S} {item['AlarmName']}")
    return sorted(set(fired))


def report(name: str, experiment: dict[str, Any], rows: list[dict[str, Any]], fired: list[str]) -> str:
    state = experiment["state"]
    lines = [f"fault {name}: {state['status']}" + (f" ({state['reason']})" if state.get("reason") else "")]
    if "stop condition" in state.get("reason", "").lower():
        lines.append("stopped by the objectives' fast-burn stop condition")
    lines.append(f"{'objective window':54} {'max burn':>9} {'threshold':>9}")
    for row in sorted(rows, key=lambda r: -r["max_burn"]):
        flag = "  <- over" if row["max_burn"] > row["threshold"] else ""
        lines.append(f"{row['alarm']:54} {row['max_burn']:>9.2f} {row['threshold']:>9.2f}{flag}")
    lines.append("pages: " + ("; ".join(fired) if fired else "none fired"))
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, session: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ops.fault", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--experiment", default="")
    args = parser.parse_args(argv)
    try:
        config = load(args.env)
    except ConfigError as err:
        print(f"fault: {err}", file=sys.stderr)
        return 2
    if config.faults is None:
        print(f"fault: {config.name} has no fault experiments (config faults is None); staging runs them",
              file=sys.stderr)
        return 2
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=config.region)
    fis, cloudwatch = session.client("fis"), session.client("cloudwatch")
    known = templates(fis, config.name)
    if args.experiment not in known:
        print(("fault: no experiment " + repr(args.experiment) + "; " if args.experiment else "")
              + f"{config.name}'s experiments: {', '.join(sorted(known)) or 'none deployed'}",
              file=sys.stderr if args.experiment else sys.stdout)
        return 2 if args.experiment else 0
    start = datetime.now(UTC)
    experiment = run_experiment(fis, known[args.experiment], args.experiment)
    end = datetime.now(UTC)
    print(report(args.experiment, experiment, slo_during(cloudwatch, config.name, start, end),
                 pages_fired(cloudwatch, config.name, start, end)))
    return 0 if experiment["state"]["status"] in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
