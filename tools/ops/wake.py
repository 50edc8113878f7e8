"""`make wake ENV=dev` / `make sleep ENV=dev`: an environment with working hours (config ``cluster.schedule``) gets
its node groups now, or loses them now, instead of at the next scheduled change.

    python -m tools.ops.wake dev            # every node group to its configured sizes; asleep again at the next sleep
    python -m tools.ops.wake dev --sleep    # every node group to none, until the next scheduled wake
    python -m tools.ops.wake dev --wait     # and wait until EKS reports every group ACTIVE at its new sizes
    python -m tools.ops.wake dev --sleep --outside-hours-only   # the pipeline after a deploy: asleep if it should be
    python -m tools.ops.wake dev --hold --wait   # before a deploy or a teardown: no scheduled sleep until --sleep
    python -m tools.ops.wake dev --hold --wait --if-scheduled    # make destroy: nothing to do without a schedule
                                                                 # or once the Cluster stack is gone

It makes the same call as the schedule (``eks:UpdateNodegroupConfig``, with the sizes of
``cdk_constructs/node_group_schedule.py``), with the caller's own credentials: it reads the cluster's name from the
``<Env>-Cluster`` stack's ``ClusterName`` output and finds each pool's node group by its name's prefix (node groups
are named ``<pool>-...``). Needs cloudformation:DescribeStacks on that stack and eks:ListNodegroups,
eks:DescribeNodegroup and eks:UpdateNodegroupConfig on the cluster.

``--hold`` first disables the sleep schedules (the stack's ``NodeGroupScheduleGroup`` and ``SleepSchedules``
outputs; scheduler:GetSchedule and scheduler:UpdateSchedule, which passes the schedule's role again): a deploy's
rollout waits, the smoke test and a teardown's in-cluster deletions need nodes until they are done, and a sleep
firing meanwhile (at 18:00, or 18:30) would take them away. ``--sleep`` always enables them again first, so the
pipeline's return to sleep (``--sleep --outside-hours-only``, whatever the deploy did) gives the schedule back.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from botocore.exceptions import ClientError

from cdk_constructs.node_group_schedule import ASLEEP, awake_scaling
from config.environment import WEEKDAYS, ComputeSchedule, ConfigError, EnvironmentConfig
from config.environments import load


class WakeError(RuntimeError):
    """The environment cannot be woken or put to sleep as asked (no schedule, no stack, a pool without a group)."""


@dataclass(frozen=True)
class Change:
    cluster: str
    pool: str
    node_group: str
    before: dict[str, int]
    after: dict[str, int]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def next_time(schedule: ComputeSchedule, hour: int, now: datetime) -> datetime:
    """The next moment after ``now`` at ``hour``:00 on one of the schedule's days, in its time zone."""
    zone = ZoneInfo(schedule.timezone)
    local = now.astimezone(zone)
    for days_ahead in range(8):
        day = (local + timedelta(days=days_ahead)).date()
        at = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
        if at > local and WEEKDAYS[at.weekday()] in schedule.days:
            return at
    raise AssertionError("a schedule with at least one day recurs within a week")


def within_hours(schedule: ComputeSchedule, now: datetime) -> bool:
    """Whether the schedule has the node groups awake at ``now``."""
    local = now.astimezone(ZoneInfo(schedule.timezone))
    return WEEKDAYS[local.weekday()] in schedule.days and schedule.wake_hour <= local.hour < schedule.sleep_hour


def _eks_scaling(scaling: dict[str, int]) -> dict[str, int]:
    """The scheduler's PascalCase request shape in the SDK's own member names."""
    return {"minSize": scaling["MinSize"], "maxSize": scaling["MaxSize"], "desiredSize": scaling["DesiredSize"]}


class NoClusterStack(WakeError):
    """The environment's Cluster stack does not exist (not deployed yet, or torn down)."""


def cluster_outputs(config: EnvironmentConfig, cloudformation: Any) -> dict[str, str]:
    """The ``<Env>-Cluster`` stack's outputs, by key."""
    if config.cluster.schedule is None:
        raise WakeError(f"{config.name} has no working-hours schedule (config cluster.schedule): its nodes never "
                        "sleep, so there is nothing to wake")
    stack = f"{config.stack_prefix}-Cluster"
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except ClientError as err:
        if "does not exist" in str(err):
            raise NoClusterStack(f"stack {stack} does not exist") from None
        raise WakeError(f"cannot read stack {stack}: {err}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in found}


class NoScheduleOutputs(WakeError):
    """The Cluster stack predates the outputs that name its sleep schedules (the deploy about to run adds them)."""


def _output(outputs: dict[str, str], key: str, config: EnvironmentConfig) -> str:
    if key not in outputs:
        raise WakeError(f"stack {config.stack_prefix}-Cluster has no {key} output")
    return outputs[key]


# What UpdateSchedule takes of a schedule's definition (it replaces the whole schedule), besides its state.
SCHEDULE_FIELDS = ("Description", "ScheduleExpression", "ScheduleExpressionTimezone", "StartDate", "EndDate",
                   "FlexibleTimeWindow", "Target", "KmsKeyArn", "ActionAfterCompletion")


def set_sleep_schedules(config: EnvironmentConfig, *, enabled: bool, cloudformation: Any,
                        scheduler: Any) -> list[tuple[str, bool]]:
    """Enable (release) or disable (hold) every sleep schedule of ``config``; (name, changed) for each."""
    outputs = cluster_outputs(config, cloudformation)
    if "NodeGroupScheduleGroup" not in outputs or "SleepSchedules" not in outputs:
        raise NoScheduleOutputs(f"stack {config.stack_prefix}-Cluster has no NodeGroupScheduleGroup and "
                                "SleepSchedules outputs yet (deployed before they existed)")
    group = outputs["NodeGroupScheduleGroup"]
    state = "ENABLED" if enabled else "DISABLED"
    out = []
    for name in filter(None, outputs["SleepSchedules"].split(",")):
        current = scheduler.get_schedule(Name=name, GroupName=group)
        changed = current.get("State") != state
        if changed:
            scheduler.update_schedule(Name=name, GroupName=group, State=state,
                                      **{k: current[k] for k in SCHEDULE_FIELDS if k in current})
        out.append((name, changed))
    return out


def resize(config: EnvironmentConfig, *, asleep: bool, cloudformation: Any, eks: Any) -> list[Change]:
    """Every node group of ``config`` to its awake (configured) or asleep sizes; groups already there are left."""
    cluster = _output(cluster_outputs(config, cloudformation), "ClusterName", config)
    groups = [g for page in eks.get_paginator("list_nodegroups").paginate(clusterName=cluster)
              for g in page["nodegroups"]]
    changes = []
    for pool in config.cluster.node_pools:
        matching = [g for g in groups if g.startswith(f"{pool.name}-")]
        if len(matching) != 1:
            raise WakeError(f"cluster {cluster}: expected one node group named {pool.name}-..., found {matching}")
        current = eks.describe_nodegroup(clusterName=cluster, nodegroupName=matching[0])["nodegroup"]["scalingConfig"]
        before = {"MinSize": current["minSize"], "MaxSize": current["maxSize"], "DesiredSize": current["desiredSize"]}
        after = dict(ASLEEP) if asleep else awake_scaling(pool)
        change = Change(cluster, pool.name, matching[0], before, after)
        if change.changed:
            eks.update_nodegroup_config(clusterName=cluster, nodegroupName=matching[0],
                                        scalingConfig=_eks_scaling(after))
        changes.append(change)
    return changes


def wait_active(eks: Any, cluster: str, node_groups: list[str]) -> None:
    waiter = eks.get_waiter("nodegroup_active")
    for name in node_groups:
        waiter.wait(clusterName=cluster, nodegroupName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 60})


def main(argv: list[str] | None = None, *, client: Callable[..., Any] | None = None,
         now: datetime | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ops.wake", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", help="dev, staging or prod (one with config cluster.schedule)")
    parser.add_argument("--sleep", action="store_true", help="remove the nodes now instead")
    parser.add_argument("--wait", action="store_true", help="wait until every node group is ACTIVE")
    parser.add_argument("--outside-hours-only", action="store_true",
                        help="with --sleep: only outside the schedule's working hours (after a pipeline deploy)")
    parser.add_argument("--hold", action="store_true",
                        help="disable the scheduled sleep first, until the next --sleep (a deploy, a teardown)")
    parser.add_argument("--if-scheduled", action="store_true",
                        help="an environment without a schedule, or without its Cluster stack, is left as it is")
    args = parser.parse_args(argv)
    if args.hold and args.sleep:
        parser.error("--hold wakes; --sleep releases the hold")
    try:
        config = load(args.env)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    schedule = config.cluster.schedule
    if schedule is None and args.if_scheduled:
        print(f"{config.name} has no working-hours schedule: nothing to wake")
        return 0
    moment = now or datetime.now(tz=ZoneInfo("UTC"))
    make = client or boto3.session.Session(region_name=config.region).client
    cloudformation = make("cloudformation")
    try:
        if args.sleep or args.hold:
            try:
                held = set_sleep_schedules(config, enabled=args.sleep, cloudformation=cloudformation,
                                           scheduler=make("scheduler"))
            except NoScheduleOutputs as err:
                # Once only: the deploy this wake precedes gives the stack those outputs.
                print(f"wake: {err}: the scheduled sleep is not " + ("released" if args.sleep else "held"),
                      file=sys.stderr)
                held = []
            for name, changed in held:
                print(f"sleep schedule {name}: " + ("" if changed else "already ")
                      + ("enabled" if args.sleep else "held (disabled) until make sleep"))
        if args.sleep and args.outside_hours_only and schedule is not None and within_hours(schedule, moment):
            print(f"{config.name}: inside working hours ({moment.astimezone(ZoneInfo(schedule.timezone)):%a %H:%M} "
                  f"{schedule.timezone}): left awake until the scheduled sleep")
            return 0
        eks = make("eks")
        changes = resize(config, asleep=args.sleep, cloudformation=cloudformation, eks=eks)
    except NoClusterStack as err:
        if args.if_scheduled:
            print(f"{config.name}: {err}: nothing to wake")
            return 0
        print(f"wake: {err}", file=sys.stderr)
        return 1
    except WakeError as err:
        print(f"wake: {err}", file=sys.stderr)
        return 1
    for c in changes:
        print(f"{c.pool} ({c.node_group}): " + (f"{c.before} -> {c.after}" if c.changed else f"already {c.after}"))
    assert schedule is not None
    if args.sleep:
        print(f"{config.name} is asleep until the scheduled wake at {next_time(schedule, schedule.wake_hour, moment)}")
    elif args.hold:
        print(f"{config.name} is awake, its scheduled sleep held until `make sleep ENV={config.name}`")
    else:
        print(f"{config.name} is awake until the scheduled sleep at "
              f"{next_time(schedule, schedule.sleep_hour, moment)} (make sleep ENV={config.name} before)")
    if args.wait:
        wait_active(eks, changes[0].cluster, [c.node_group for c in changes if c.changed])
        print("every node group is ACTIVE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
