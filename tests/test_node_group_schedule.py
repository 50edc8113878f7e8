"""Working hours: EventBridge Scheduler resizes each node group of an environment with a schedule (dev) through the
universal target for eks:UpdateNodegroupConfig, as a role only the Scheduler can assume for this account's schedules
and that may resize these node groups alone; the request matches EKS's API model; `make wake` / `make sleep` make the
same call against an EKS API (moto over HTTP)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aws_cdk as cdk
import boto3
import botocore.session
import pytest

from cdk_constructs.node_group_schedule import (
    ASLEEP,
    UPDATE_NODEGROUP_TARGET,
    awake_scaling,
    sleep_expression,
    wake_expression,
)
from config.environment import ComputeSchedule
from config.environments import DEV
from policies import node_group_schedule as statements
from tests.synthesis import Synthesized
from tools.ops import wake
from tools.reports.cost.evidence import TOKEN, flatten, references

# Node groups' logical ids start with this; their NodegroupName attribute is what a schedule's input names.
NODE_GROUP = "AWS::EKS::Nodegroup"


def _schedules(env: Synthesized) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in env.resources("Cluster", "AWS::Scheduler::Schedule").items()}


def _input(schedule: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(node group logical id, request body with the names as placeholders)."""
    value = schedule["Target"]["Input"]
    (group,) = [ref for ref, attr in references(value) if attr == "NodegroupName"]
    return group, json.loads(flatten(value).replace(TOKEN, "name"))


def test_each_node_group_is_woken_and_emptied_on_the_configured_days(dev: Synthesized) -> None:
    schedule = dev.config.cluster.schedule
    assert schedule is not None
    groups = dev.resources("Cluster", NODE_GROUP)
    by_group: dict[str, dict[str, dict[str, int]]] = {}
    for props in _schedules(dev).values():
        assert props["Target"]["Arn"] == UPDATE_NODEGROUP_TARGET
        assert props["ScheduleExpressionTimezone"] == schedule.timezone == "Europe/Dublin"
        assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] <= 3
        group, body = _input(props)
        assert group in groups
        by_group.setdefault(group, {})[props["ScheduleExpression"]] = body["ScalingConfig"]
    assert set(by_group) == set(groups)
    pools = {p.name: p for p in dev.config.cluster.node_pools}
    for group, calls in by_group.items():
        pool = pools[groups[group]["Properties"]["Labels"]["platform/pool"]]
        assert calls == {wake_expression(schedule): awake_scaling(pool), sleep_expression(schedule): ASLEEP}
        # the morning gives the group the sizes CloudFormation gave it
        scaling = groups[group]["Properties"]["ScalingConfig"]
        assert awake_scaling(pool) == {k: scaling[k] for k in ("MinSize", "MaxSize", "DesiredSize")}
    assert wake_expression(schedule) == "cron(0 8 ? * MON,TUE,WED,THU,FRI *)"
    assert sleep_expression(schedule) == "cron(0,30 18 ? * MON,TUE,WED,THU,FRI *)"


def test_the_input_is_the_eks_request_in_the_schedulers_pascal_case(dev: Synthesized) -> None:
    """EventBridge Scheduler passes Input to the SDK call with member names capitalised: every key must be one of
    UpdateNodegroupConfig's members (from botocore's own EKS model) and the required ones present."""
    model = botocore.session.get_session().get_service_model("eks")
    operation = model.operation_model("UpdateNodegroupConfig")
    assert UPDATE_NODEGROUP_TARGET.endswith(":eks:" + operation.name[0].lower() + operation.name[1:])

    def check(body: dict[str, Any], shape: Any) -> None:
        members = {name[0].upper() + name[1:]: member for name, member in shape.members.items()}
        assert set(body) <= set(members), set(body) - set(members)
        for key, value in body.items():
            if isinstance(value, dict):
                check(value, members[key])
            else:
                assert members[key].type_name in ("integer", "string"), key

    for props in _schedules(dev).values():
        _, body = _input(props)
        check(body, operation.input_shape)
        required = {n[0].upper() + n[1:] for n in operation.input_shape.required_members}
        assert required <= set(body)


def test_the_role_is_the_schedulers_and_may_resize_these_node_groups_only(dev: Synthesized) -> None:
    resources = dev.template_json("Cluster")["Resources"]
    role_ids = {p["Target"]["RoleArn"]["Fn::GetAtt"][0] for p in _schedules(dev).values()}
    (role_id,) = role_ids
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    (statement,) = trust
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": dev.config.account}
    (group_id,) = dev.resources("Cluster", "AWS::Scheduler::ScheduleGroup")
    assert {"Ref": group_id} in statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    policies = [r["Properties"]["PolicyDocument"] for r in resources.values()
                if r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
                and {"Ref": role_id} in r["Properties"].get("Roles", [])]
    (document,) = policies
    (allowed,) = document["Statement"]
    assert allowed["Action"] == "eks:UpdateNodegroupConfig" and allowed["Effect"] == "Allow"
    assert sorted(allowed["Resource"], key=json.dumps) == sorted(
        ({"Fn::GetAtt": [g, "Arn"]} for g in dev.resources("Cluster", NODE_GROUP)), key=json.dumps)


def test_environments_without_a_schedule_have_none(prod: Synthesized) -> None:
    assert prod.config.cluster.schedule is None
    assert prod.resources("Cluster", "AWS::Scheduler::Schedule") == {}
    assert "WakeRoleArn" not in prod.template_json("Cluster").get("Outputs", {})


def test_the_pipelines_wake_role_may_read_the_cluster_and_resize_its_groups_only(dev: Synthesized) -> None:
    """Assumed by GitHub Actions of this repository in this environment (as the deploy role), to call what
    tools/ops/wake.py calls: the stack's outputs, the cluster's node groups, their scaling configuration."""
    template = dev.template_json("Cluster")
    role_id = template["Outputs"]["WakeRoleArn"]["Value"]["Fn::GetAtt"][0]
    (trust,) = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{dev.config.github_repository}:environment:dev"}
    (document,) = [r["Properties"]["PolicyDocument"] for r in template["Resources"].values()
                   if r["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role_id} in r["Properties"]["Roles"]]
    by_sid = {st["Sid"]: st for st in document["Statement"]}
    assert by_sid["ReadClusterStackOutputs"]["Action"] == "cloudformation:DescribeStacks"
    assert by_sid["ReadClusterStackOutputs"]["Resource"] == {"Ref": "AWS::StackId"}
    (cluster_id,) = dev.resources("Cluster", "AWS::EKS::Cluster")
    assert by_sid["ListClusterNodeGroups"]["Resource"] == {"Fn::GetAtt": [cluster_id, "Arn"]}
    assert sorted(by_sid["ResizeClusterNodeGroups"]["Action"]) == sorted(statements.WAKE_ACTIONS)
    assert sorted(by_sid["ResizeClusterNodeGroups"]["Resource"], key=json.dumps) == sorted(
        ({"Fn::GetAtt": [g, "Arn"]} for g in dev.resources("Cluster", NODE_GROUP)), key=json.dumps)
    # The hold (make wake HOLD=1) and its release (make sleep): the sleep schedules alone, named by the outputs the
    # tool reads, and the schedules' own role passed back to EventBridge Scheduler only.
    outputs = template["Outputs"]
    sleeps = sorted(lid for lid, props in _schedules(dev).items() if _input(props)[1]["ScalingConfig"] == ASLEEP)
    assert sleeps and outputs["SleepSchedules"]["Value"] == {"Fn::Join": [",", [{"Ref": lid} for lid in sleeps]]}
    (group_id,) = dev.resources("Cluster", "AWS::Scheduler::ScheduleGroup")
    assert outputs["NodeGroupScheduleGroup"]["Value"] == {"Ref": group_id}
    assert sorted(by_sid["HoldScheduledSleep"]["Action"]) == sorted(statements.HOLD_ACTIONS)
    assert sorted(by_sid["HoldScheduledSleep"]["Resource"], key=json.dumps) == sorted(
        ({"Fn::GetAtt": [lid, "Arn"]} for lid in sleeps), key=json.dumps)
    (scheduler_role,) = {json.dumps(p["Target"]["RoleArn"]) for p in _schedules(dev).values()}
    assert json.dumps(by_sid["PassScheduleRole"]["Resource"]) == scheduler_role
    assert by_sid["PassScheduleRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    # what the tool calls is exactly what the role allows (botocore operation names -> IAM actions)
    calls = {"cloudformation:DescribeStacks", "eks:ListNodegroups", "eks:DescribeNodegroup",
             "eks:UpdateNodegroupConfig", "scheduler:GetSchedule", "scheduler:UpdateSchedule", "iam:PassRole"}
    allowed = {a for st in document["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str)
                                                             else st["Action"])}
    assert allowed == calls


def test_statements() -> None:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    with pytest.raises(ValueError, match="at least one node group"):
        statements.resize_statement([])
    resize = stack.resolve(statements.resize_statement(["arn:aws:eks:eu-west-1:111111111111:nodegroup/c/a/1"])
                           .to_statement_json())
    assert resize["Action"] == "eks:UpdateNodegroupConfig"
    assert resize["Resource"] == "arn:aws:eks:eu-west-1:111111111111:nodegroup/c/a/1"
    principal = statements.scheduler_principal(stack, "group")
    conditions = stack.resolve(principal.policy_fragment.conditions)
    assert conditions["StringEquals"] == {"aws:SourceAccount": "111111111111"}
    assert flatten(conditions["ArnLike"]["aws:SourceArn"]).endswith(
        ":scheduler:eu-west-1:111111111111:schedule/group/*")


# --- make wake / make sleep -----------------------------------------------------------------------------------

@dataclass
class MotoDev:
    """Dev's Cluster stack as `make wake` finds it, in moto: its outputs, the cluster, each pool's node group
    (asleep) and someone else's, and the schedule group with each pool's sleep schedule."""

    client: Callable[[str], Any]
    cluster: str
    node_groups: dict[str, str]
    group: str
    sleeps: list[str]

    def scaling(self, name: str) -> dict[str, int]:
        got = self.client("eks").describe_nodegroup(clusterName=self.cluster,
                                                    nodegroupName=name)["nodegroup"]["scalingConfig"]
        return {"MinSize": got["minSize"], "MaxSize": got["maxSize"], "DesiredSize": got["desiredSize"]}

    def states(self) -> set[str]:
        scheduler = self.client("scheduler")
        return {scheduler.get_schedule(Name=n, GroupName=self.group)["State"] for n in self.sleeps}


@pytest.fixture
def moto_dev(moto: str) -> Iterator[MotoDev]:
    session = boto3.session.Session(region_name=DEV.region, aws_access_key_id="testing",
                                    aws_secret_access_key="testing")

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=moto)

    eks, cfn, scheduler = client("eks"), client("cloudformation"), client("scheduler")
    suffix = uuid.uuid4().hex[:8]
    cluster, group = f"dev-cluster-{suffix}", f"NodeGroupScheduleGroup-{suffix}"
    schedule = DEV.cluster.schedule
    assert schedule is not None
    scheduler.create_schedule_group(Name=group)
    eks.create_cluster(name=cluster, roleArn="arn:aws:iam::111111111111:role/c",
                       resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    names, sleeps = {}, []
    for pool in DEV.cluster.node_pools:
        names[pool.name] = f"{pool.name}-0f1e2d3c-{suffix}"
        eks.create_nodegroup(clusterName=cluster, nodegroupName=names[pool.name], subnets=["subnet-1"],
                             nodeRole="arn:aws:iam::111111111111:role/n", scalingConfig={"minSize": 0, "maxSize": 1,
                                                                                         "desiredSize": 0})
        sleeps.append(f"Sleep{pool.name.capitalize()}-{suffix}")
        scheduler.create_schedule(
            Name=sleeps[-1], GroupName=group, ScheduleExpression=sleep_expression(schedule),
            ScheduleExpressionTimezone=schedule.timezone, FlexibleTimeWindow={"Mode": "OFF"},
            Description=f"Empties the {pool.name} node group",
            Target={"Arn": UPDATE_NODEGROUP_TARGET, "RoleArn": "arn:aws:iam::111111111111:role/scheduler",
                    "Input": json.dumps({"ClusterName": cluster, "NodegroupName": names[pool.name],
                                         "ScalingConfig": ASLEEP}),
                    "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}})
    eks.create_nodegroup(clusterName=cluster, nodegroupName="someone-elses", subnets=["subnet-1"],
                         nodeRole="arn:aws:iam::111111111111:role/n",
                         scalingConfig={"minSize": 2, "maxSize": 5, "desiredSize": 3})
    cfn.create_stack(StackName=f"{DEV.stack_prefix}-Cluster", TemplateBody=json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ClusterName": {"Value": cluster}, "NodeGroupScheduleGroup": {"Value": group},
                    "SleepSchedules": {"Value": ",".join(sleeps)}}}))
    yield MotoDev(client, cluster, names, group, sleeps)
    cfn.delete_stack(StackName=f"{DEV.stack_prefix}-Cluster")


def test_wake_and_sleep_resize_each_pools_node_group(moto_dev: MotoDev) -> None:
    d = moto_dev
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=ZoneInfo("Europe/Dublin"))
    assert wake.main(["dev"], client=d.client, now=friday_evening) == 0
    for pool in DEV.cluster.node_pools:
        assert d.scaling(d.node_groups[pool.name]) == awake_scaling(pool)
    assert d.scaling("someone-elses") == {"MinSize": 2, "MaxSize": 5, "DesiredSize": 3}
    assert d.states() == {"ENABLED"}  # a plain wake leaves the schedule alone
    # a second wake changes nothing and says so
    again = wake.resize(DEV, asleep=False, cloudformation=d.client("cloudformation"), eks=d.client("eks"))
    assert not any(c.changed for c in again)

    assert wake.main(["dev", "--sleep"], client=d.client, now=friday_evening) == 0
    for pool in DEV.cluster.node_pools:
        assert d.scaling(d.node_groups[pool.name]) == ASLEEP
    assert d.scaling("someone-elses") == {"MinSize": 2, "MaxSize": 5, "DesiredSize": 3}


def test_a_held_wake_disables_the_sleep_until_make_sleep_releases_it(moto_dev: MotoDev,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Review 1, finding 7: the pipeline (before cdk deploy) and make destroy wake with HOLD=1, so the sleep at 18:00
    cannot empty the nodes mid-deploy or mid-teardown; the pipeline's make sleep afterwards gives the schedule back,
    inside working hours too, and only outside them removes the nodes."""
    d = moto_dev
    scheduler = d.client("scheduler")
    before = {n: scheduler.get_schedule(Name=n, GroupName=d.group) for n in d.sleeps}
    friday_five = datetime(2026, 11, 27, 17, 0, tzinfo=ZoneInfo("Europe/Dublin"))
    assert wake.main(["dev", "--hold"], client=d.client, now=friday_five) == 0
    assert d.states() == {"DISABLED"}
    assert "its scheduled sleep held until `make sleep ENV=dev`" in capsys.readouterr().out
    for pool in DEV.cluster.node_pools:
        assert d.scaling(d.node_groups[pool.name]) == awake_scaling(pool)
    for n in d.sleeps:  # only the state changed: UpdateSchedule replaces the whole definition
        after = scheduler.get_schedule(Name=n, GroupName=d.group)
        for key in ("ScheduleExpression", "ScheduleExpressionTimezone", "Target", "FlexibleTimeWindow",
                    "Description"):
            assert after[key] == before[n][key], key

    assert wake.main(["dev", "--sleep", "--outside-hours-only"], client=d.client, now=friday_five) == 0
    out = capsys.readouterr().out
    assert d.states() == {"ENABLED"} and "inside working hours" in out
    for pool in DEV.cluster.node_pools:  # left awake until the scheduled sleep
        assert d.scaling(d.node_groups[pool.name]) == awake_scaling(pool)

    assert wake.main(["dev", "--hold"], client=d.client, now=friday_five) == 0
    friday_night = datetime(2026, 11, 27, 22, 0, tzinfo=ZoneInfo("Europe/Dublin"))
    assert wake.main(["dev", "--sleep", "--outside-hours-only"], client=d.client, now=friday_night) == 0
    assert d.states() == {"ENABLED"}
    for pool in DEV.cluster.node_pools:
        assert d.scaling(d.node_groups[pool.name]) == ASLEEP


def test_make_destroy_wakes_only_what_exists(moto: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--if-scheduled (make destroy): an environment without a schedule, or whose Cluster stack is gone already (a
    teardown run again), has nothing to wake; without it, both are errors."""
    session = boto3.session.Session(region_name=DEV.region, aws_access_key_id="testing",
                                    aws_secret_access_key="testing")

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=moto)

    assert wake.main(["prod", "--hold", "--if-scheduled"], client=client) == 0
    assert "prod has no working-hours schedule: nothing to wake" in capsys.readouterr().out
    assert wake.main(["dev", "--hold", "--if-scheduled"], client=client) == 0
    assert "stack Dev-Cluster does not exist: nothing to wake" in capsys.readouterr().out
    assert wake.main(["dev", "--hold"], client=client) == 1
    assert "stack Dev-Cluster does not exist" in capsys.readouterr().err


def test_wake_refuses_an_environment_without_a_schedule(moto: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert wake.main(["prod"], client=lambda name: None) == 1
    assert "prod has no working-hours schedule" in capsys.readouterr().err


def test_working_hours_follow_the_days_and_the_zone() -> None:
    schedule = DEV.cluster.schedule
    assert schedule is not None
    assert wake.within_hours(schedule, datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Europe/Dublin")))
    assert not wake.within_hours(schedule, datetime(2026, 11, 24, 18, 0, tzinfo=ZoneInfo("Europe/Dublin")))
    assert not wake.within_hours(schedule, datetime(2026, 11, 28, 12, 0, tzinfo=ZoneInfo("Europe/Dublin")))  # Sat
    # 07:30 UTC in summer is 08:30 in Dublin: awake
    assert wake.within_hours(schedule, datetime(2026, 7, 7, 7, 30, tzinfo=ZoneInfo("UTC")))


def test_next_scheduled_wake_and_sleep_follow_the_days_and_the_zone() -> None:
    schedule = ComputeSchedule(timezone="Europe/Dublin", days=("MON", "TUE", "WED", "THU", "FRI"), wake_hour=8,
                               sleep_hour=18)
    zone = ZoneInfo("Europe/Dublin")
    friday_afternoon = datetime(2026, 11, 27, 15, 0, tzinfo=zone)
    assert wake.next_time(schedule, 18, friday_afternoon) == datetime(2026, 11, 27, 18, 0, tzinfo=zone)
    assert wake.next_time(schedule, 8, friday_afternoon) == datetime(2026, 11, 30, 8, 0, tzinfo=zone)
    # 07:30 UTC on a summer Monday is 08:30 in Dublin: the wake has passed, the next is Tuesday's
    summer_monday = datetime(2026, 7, 6, 7, 30, tzinfo=ZoneInfo("UTC"))
    assert wake.next_time(schedule, 8, summer_monday) == datetime(2026, 7, 7, 8, 0, tzinfo=zone)
