"""Fault experiments as synthesized (staging: prod and dev have none) and `make fault` against recorded responses."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cdk_constructs.fault_experiments import FIS_USER, messaging_cut_document
from config.topology import SERVICES
from tests.synthesis import Synthesized
from tools.ops import fault

ACTIONS = {"pods-deleted": "aws:eks:pod-delete", "node-group-terminated": "aws:eks:terminate-nodegroup-instances",
           "zone-cut": "aws:network:disrupt-connectivity", "aurora-failover": "aws:rds:failover-db-cluster",
           "messaging-cut": "aws:ssm:start-automation-execution"}


@pytest.fixture(scope="module")
def staging(synth: Callable[[str], Synthesized]) -> Synthesized:
    return synth("staging")


def templates(env: Synthesized) -> dict[str, dict[str, Any]]:
    out = {}
    for r in env.resources("Services", "AWS::FIS::ExperimentTemplate").values():
        tags = r["Properties"]["Tags"]
        out[tags["experiment"]] = r["Properties"]
    return out


def test_one_template_per_fault_and_target(staging: Synthesized) -> None:
    names = set(templates(staging))
    services = {s.value for s in SERVICES}
    assert names == ({f"pods-deleted-{s}" for s in services} | {f"messaging-cut-{s}" for s in services}
                     | {"node-group-terminated-system", "node-group-terminated-workloads", "aurora-failover"}
                     | {f"zone-cut-{z}" for z in staging.config.network.availability_zones})


def test_every_template_stops_on_the_fast_burn_and_logs(staging: Synthesized) -> None:
    for name, t in templates(staging).items():
        (stop,) = t["StopConditions"]
        assert stop["Source"] == "aws:cloudwatch:alarm", name
        assert "FastBurnAnyObjective" in json.dumps(stop["Value"]), name
        assert t["LogConfiguration"]["LogSchemaVersion"] == 2
        assert "FaultExperimentsLogGroup" in json.dumps(t["LogConfiguration"]["CloudWatchLogsConfiguration"])
        assert t["ExperimentOptions"]["EmptyTargetResolutionMode"] == "fail"
        assert t["Actions"]["Fault"]["ActionId"] == ACTIONS[next(k for k in ACTIONS if name.startswith(k))], name


def test_targets_are_the_services_pods_the_node_groups_the_zones_and_the_database(staging: Synthesized) -> None:
    t = templates(staging)
    pods = t["pods-deleted-orders"]
    assert pods["Targets"]["Pods"]["ResourceType"] == "aws:eks:pod"
    assert pods["Targets"]["Pods"]["SelectionMode"] == "PERCENT(50)"
    assert pods["Targets"]["Pods"]["Parameters"]["selectorValue"] == "app.kubernetes.io/name=orders"
    assert pods["Actions"]["Fault"]["Parameters"] == {"kubernetesServiceAccount": FIS_USER,
                                                      "fisPodSecurityPolicy": "restricted"}
    zone = t["zone-cut-eu-west-1b"]["Targets"]["Subnets"]
    assert zone["ResourceType"] == "aws:ec2:subnet" and zone["SelectionMode"] == "ALL"
    assert t["zone-cut-eu-west-1b"]["Actions"]["Fault"]["Parameters"] == {"duration": "PT5M", "scope": "all"}
    nodes = t["node-group-terminated-system"]
    assert nodes["Actions"]["Fault"]["Parameters"] == {"instanceTerminationPercentage": "50"}
    assert "load" not in {n.removeprefix("node-group-terminated-") for n in t}  # the load pool is not a target
    assert t["aurora-failover"]["Targets"]["Clusters"]["ResourceType"] == "aws:rds:cluster"


def network_subnets(env: Synthesized, arns: list[Any]) -> list[dict[str, Any]]:
    """The Network stack's AWS::EC2::Subnet resources that ``arns`` (subnet ARNs in the Services template: joins
    around a Ref imported from the Network stack) name, each as its properties plus its ``LogicalId``."""
    network = env.template_json("Network")
    exports = {o["Export"]["Name"]: o["Value"]["Ref"] for o in network["Outputs"].values()
               if "Export" in o and "Ref" in o["Value"]}
    found = []
    for arn in arns:
        (imported,) = [p["Fn::ImportValue"] for p in arn["Fn::Join"][1]
                       if isinstance(p, dict) and "Fn::ImportValue" in p]
        logical_id = exports[imported]
        resource = network["Resources"][logical_id]
        assert resource["Type"] == "AWS::EC2::Subnet", logical_id
        found.append({**resource["Properties"], "LogicalId": logical_id})
    return found


def subnet_type(subnet: dict[str, Any]) -> str:
    return next(t["Value"] for t in subnet["Tags"] if t["Key"] == "aws-cdk:subnet-type")


def test_zone_cuts_take_only_the_zones_private_and_isolated_subnets(staging: Synthesized) -> None:
    """A zone cut on a public subnet would cut the NAT gateway (staging has one: every zone's egress) and the
    experiment would measure every zone losing egress, not one zone lost. Each zone-cut names its subnets by ARN:
    exactly the zone's private and isolated ones; the role may swap the network ACL of those subnets only."""
    network = staging.resources("Network", "AWS::EC2::Subnet")
    assert {subnet_type(s["Properties"]) for s in network.values()} == {"Public", "Private", "Isolated"}
    t = templates(staging)
    cut_arns: list[Any] = []
    for zone in staging.config.network.availability_zones:
        target = t[f"zone-cut-{zone}"]["Targets"]["Subnets"]
        assert "Parameters" not in target and "ResourceTags" not in target  # the ARNs alone select
        subnets = network_subnets(staging, target["ResourceArns"])
        expected = {k for k, s in network.items() if s["Properties"]["AvailabilityZone"] == zone
                    and subnet_type(s["Properties"]) != "Public"}
        assert {s["LogicalId"] for s in subnets} == expected, zone
        assert sorted(subnet_type(s) for s in subnets) == ["Isolated", "Private"], zone
        cut_arns += target["ResourceArns"]
    policies = [r["Properties"] for r in staging.resources("Services", "AWS::IAM::ManagedPolicy").values()
                if "ZoneRole" in json.dumps(r["Properties"].get("Roles"))]
    (swap,) = [st for p in policies for st in p["PolicyDocument"]["Statement"]
               if st["Action"] == "ec2:ReplaceNetworkAclAssociation"]
    subnet_resources = [r for r in swap["Resource"] if ":subnet/" in json.dumps(r)]
    assert sorted(map(json.dumps, subnet_resources)) == sorted(map(json.dumps, cut_arns))


def test_roles_are_assumed_by_fis_of_this_account_only(staging: Synthesized) -> None:
    roles = [r["Properties"] for r in staging.resources("Services", "AWS::IAM::Role").values()
             if "Fault experiments" in str(r["Properties"].get("Description", ""))]
    fis_roles = [r for r in roles if "fis.amazonaws.com" in json.dumps(r["AssumeRolePolicyDocument"])]
    assert len(fis_roles) == 5
    for role in fis_roles:
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": staging.config.account}
        assert "experiment/*" in json.dumps(statement["Condition"]["ArnLike"])


def test_pods_are_deleted_as_the_fis_user_bound_to_each_namespace(staging: Synthesized) -> None:
    (entry,) = staging.resources("Services", "AWS::EKS::AccessEntry").values()
    assert entry["Properties"]["Username"] == FIS_USER and "AccessPolicies" not in entry["Properties"]
    text = json.dumps(staging.template_json("Services"))
    assert text.count('\\"kind\\":\\"RoleBinding\\"') >= len(SERVICES)
    assert "ephemeralcontainers" not in text and "pods/exec" not in text


# The parameters of the FIS actions the app uses (or may use), as the FIS actions reference documents them: which are
# required, and the form of each. Review 1, finding 6: the messaging cut named its document by the IAM resource of
# StartAutomationExecution (automation-definition/<name>:$DEFAULT), which FIS refuses as a documentArn.
DOCUMENT_ARN = r"arn:aws[a-z-]*:ssm:[a-z]{2}(-[a-z]+)+-\d:(\d{12})?:document/[A-Za-z0-9_.-]{3,128}"
DOCUMENT_VERSION = r"\$DEFAULT|\$LATEST|[1-9]\d*"
K8S_NAME = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"


def _duration(value: str) -> str | None:
    """ISO 8601 (PT...), from one minute to 12 hours."""
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", value)
    if not m or not any(m.groups()):
        return f"{value!r} is not an ISO 8601 duration (PT5M)"
    seconds = int(m[1] or 0) * 3600 + int(m[2] or 0) * 60 + int(m[3] or 0)
    return None if 60 <= seconds <= 12 * 3600 else f"{value!r} is outside one minute to 12 hours"


def _document_parameters(value: str) -> str | None:
    """A JSON object whose values are strings or arrays of strings."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return f"{value[:60]!r} is not JSON"
    if not isinstance(parsed, dict) or not all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
            for v in parsed.values()):
        return "must be a JSON object of strings or arrays of strings"
    return None


def _percent(value: str) -> str | None:
    return None if value.isdigit() and 1 <= int(value) <= 100 else f"{value!r} is not a percentage from 1 to 100"


Format = str | Callable[[str], str | None]  # a regular expression the whole value matches, or a validator
FIS_ACTIONS: dict[str, tuple[dict[str, Format], dict[str, Format]]] = {  # action: (required, optional)
    "aws:ssm:send-command": ({"documentArn": DOCUMENT_ARN, "duration": _duration},
                             {"documentVersion": DOCUMENT_VERSION, "documentParameters": _document_parameters}),
    "aws:ssm:start-automation-execution": ({"documentArn": DOCUMENT_ARN, "maxDuration": _duration},
                                           {"documentVersion": DOCUMENT_VERSION,
                                            "documentParameters": _document_parameters}),
    "aws:eks:pod-delete": ({"kubernetesServiceAccount": K8S_NAME},
                           {"gracePeriodSeconds": r"\d+", "maxErrorsPercent": _percent, "fisPodContainerImage": r"\S+",
                            "fisPodLabels": _document_parameters, "fisPodAnnotations": _document_parameters,
                            "fisPodSecurityPolicy": "privileged|baseline|restricted"}),
    "aws:eks:terminate-nodegroup-instances": ({"instanceTerminationPercentage": _percent}, {}),
    "aws:network:disrupt-connectivity": ({"duration": _duration},
                                         {"scope": "all|availability-zone|dynamodb|prefix-list|s3",
                                          "prefixListIdentifier": r"pl-[0-9a-f]+"}),
    "aws:rds:failover-db-cluster": ({}, {}),
}


def _render(value: Any, region: str, account: str) -> str:
    """A parameter as FIS receives it, with the template's intrinsics written out: pseudo parameters as the stack's
    values, a resource reference as its logical id (an SSM document's name, say), an import as a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::Join":
            return str(arg[0]).join(_render(p, region, account) for p in arg[1])
        if fn == "Ref":
            return {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account,
                    "AWS::URLSuffix": "amazonaws.com"}.get(arg, str(arg))
        if fn == "Fn::GetAtt":
            return ".".join(arg) if isinstance(arg, list) else str(arg)
        if fn == "Fn::ImportValue":
            return "imported"
    raise AssertionError(f"cannot render {value!r}")


def fis_action_problems(action: dict[str, Any], region: str, account: str) -> list[str]:
    """What FIS would refuse in one action of an experiment template (its CloudFormation form)."""
    action_id = action["ActionId"]
    if action_id not in FIS_ACTIONS:
        return [f"{action_id}: no documented parameters recorded here; add the action's to FIS_ACTIONS"]
    required, optional = FIS_ACTIONS[action_id]
    given = {k: _render(v, region, account) for k, v in (action.get("Parameters") or {}).items()}
    problems = [f"{action_id}: {k} is required" for k in required if k not in given]
    for key, value in given.items():
        form = required.get(key, optional.get(key))
        if form is None:
            problems.append(f"{action_id}: {key} is not a parameter of this action")
        elif isinstance(form, str):
            if not re.fullmatch(form, value):
                problems.append(f"{action_id}: {key} {value!r} does not match {form}")
        elif (problem := form(value)) is not None:
            problems.append(f"{action_id}: {key} {problem}")
    return problems


def test_every_action_parameter_has_its_documented_form(staging: Synthesized) -> None:
    region, account = staging.config.region, staging.config.account
    checked = 0
    for name, t in templates(staging).items():
        for action in t["Actions"].values():
            assert fis_action_problems(action, region, account) == [], name
            checked += 1
    assert checked == len(templates(staging))
    (document,) = staging.resources("Services", "AWS::SSM::Document")
    assert _render(templates(staging)["messaging-cut-orders"]["Actions"]["Fault"]["Parameters"]["documentArn"],
                   region, account) == f"arn:aws:ssm:{region}:{account}:document/{document}"


AUTOMATION: dict[str, Any] = {
    "ActionId": "aws:ssm:start-automation-execution",
    "Parameters": {"documentArn": "arn:aws:ssm:eu-west-1:222222222222:document/Cut",
                   "documentParameters": '{"Duration": "PT5M", "Ids": ["a", "b"]}', "maxDuration": "PT10M"}}


@pytest.mark.parametrize(("change", "problem"), [
    ({"documentArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ssm:eu-west-1:222222222222:"
                                        "automation-definition/", {"Ref": "Cut"}, ":$DEFAULT"]]}},
     "documentArn 'arn:aws:ssm:eu-west-1:222222222222:automation-definition/Cut:$DEFAULT' does not match"),
    ({"documentArn": "Cut"}, "documentArn 'Cut' does not match"),
    ({"maxDuration": None}, "maxDuration is required"),
    ({"maxDuration": "PT13H"}, "maxDuration 'PT13H' is outside one minute to 12 hours"),
    ({"maxDuration": "5m"}, "maxDuration '5m' is not an ISO 8601 duration"),
    ({"documentParameters": '{"Duration": 5}'}, "documentParameters must be a JSON object of strings"),
    ({"duration": "PT5M"}, "duration is not a parameter of this action"),
    ({"documentVersion": "latest"}, "documentVersion 'latest' does not match"),
])
def test_an_action_parameter_fis_refuses_fails(change: dict[str, Any], problem: str) -> None:
    parameters = {k: v for k, v in {**AUTOMATION["Parameters"], **change}.items() if v is not None}
    problems = fis_action_problems({**AUTOMATION, "Parameters": parameters}, "eu-west-1", "222222222222")
    assert len(problems) == 1 and problem in problems[0], problems


def test_documented_forms_pass() -> None:
    assert fis_action_problems(AUTOMATION, "eu-west-1", "222222222222") == []
    # An AWS-owned document has no account in its ARN.
    assert fis_action_problems({"ActionId": "aws:ssm:send-command", "Parameters": {
        "documentArn": "arn:aws:ssm:eu-west-1::document/AWSFIS-Run-CPU-Stress", "documentVersion": "$DEFAULT",
        "documentParameters": '{"DurationSeconds": "120"}', "duration": "PT2M"}}, "eu-west-1", "222222222222") == []
    assert fis_action_problems({"ActionId": "aws:ec2:stop-instances", "Parameters": {}}, "eu-west-1", "1") == [
        "aws:ec2:stop-instances: no documented parameters recorded here; add the action's to FIS_ACTIONS"]


def test_the_messaging_cut_always_resets_the_endpoints() -> None:
    main_steps: list[dict[str, Any]] = messaging_cut_document()["mainSteps"]  # type: ignore[assignment]
    steps = {s["name"]: s for s in main_steps}
    assert list(steps) == ["DenySqs", "DenySns", "Hold", "ResetSqs", "ResetSns"]
    for name in ("DenySqs", "DenySns", "Hold"):
        assert steps[name]["onFailure"] == steps[name]["onCancel"] == "step:ResetSqs"
    assert steps["ResetSqs"]["inputs"]["ResetPolicy"] is True and steps["ResetSns"]["inputs"]["ResetPolicy"] is True


def test_dev_and_prod_have_no_experiments(env: Synthesized) -> None:
    assert not env.resources("Services", "AWS::FIS::ExperimentTemplate")


def _clients() -> tuple[Any, Any]:
    kw = {"region_name": "eu-west-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return boto3.client("fis", **kw), boto3.client("cloudwatch", **kw)


class _Session:
    def __init__(self, fis: Any, cloudwatch: Any) -> None:
        self.clients = {"fis": fis, "cloudwatch": cloudwatch}

    def client(self, name: str) -> Any:
        return self.clients[name]


@pytest.mark.tool_run
def test_make_fault_starts_the_experiment_and_reports_the_burn(monkeypatch: pytest.MonkeyPatch) -> None:
    fis_client, cloudwatch = _clients()
    monkeypatch.setattr(fault.time, "sleep", lambda _s: None)
    now = datetime.now(UTC)
    with Stubber(fis_client) as f, Stubber(cloudwatch) as c:
        f.add_response("list_experiment_templates", {"experimentTemplates": [
            {"id": "EXT1", "tags": {"Name": "staging-pods-deleted-orders", "experiment": "pods-deleted-orders"}},
            {"id": "EXT2", "tags": {"Name": "prod-other", "experiment": "other"}}]})
        f.add_response("start_experiment", {"experiment": {"id": "EXP1"}},
                       {"experimentTemplateId": "EXT1", "tags": {"experiment": "pods-deleted-orders"}})
        f.add_response("get_experiment", {"experiment": {"id": "EXP1", "state": {"status": "running"},
                                                         "actions": {"Fault": {"state": {"status": "running"}}}}},
                       {"id": "EXP1"})
        f.add_response("get_experiment", {"experiment": {"id": "EXP1", "state": {
            "status": "stopped", "reason": "Experiment stopped by stop condition"},
            "actions": {"Fault": {"state": {"status": "cancelled"}}}}}, {"id": "EXP1"})
        c.add_response("describe_alarms", {"MetricAlarms": [{
            "AlarmName": "staging-slo-checkout-availability-burn-5m", "Threshold": 13.44, "StateValue": "ALARM",
            "Metrics": [{"Id": "expr_1", "Expression": "a", "ReturnData": True}]}]},
            {"AlarmNamePrefix": "staging-slo-", "AlarmTypes": ["MetricAlarm"]})
        c.add_response("get_metric_data", {"MetricDataResults": [{"Id": "expr_1", "Values": [2.0, 40.5, 12.0]}]},
                       {"MetricDataQueries": [{"Id": "expr_1", "Expression": "a", "ReturnData": True}],
                        "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"})
        c.add_response("describe_alarm_history", {"AlarmHistoryItems": [{
            "AlarmName": "staging-slo-checkout-availability-fast-burn-Critical", "Timestamp": now,
            "HistorySummary": "Alarm updated from OK to ALARM"}]},
            {"AlarmTypes": ["CompositeAlarm"], "HistoryItemType": "StateUpdate", "StartDate": ANY,
             "EndDate": ANY})
        out = io.StringIO()
        with redirect_stdout(out):
            code = fault.main(["--env", "staging", "--experiment", "pods-deleted-orders"],
                              session=_Session(fis_client, cloudwatch))
    text = out.getvalue()
    assert code == 0, text
    assert "stopped by the objectives' fast-burn stop condition" in text
    assert "staging-slo-checkout-availability-burn-5m" in text and "40.50" in text and "<- over" in text
    assert "staging-slo-checkout-availability-fast-burn-Critical" in text


def test_make_fault_refuses_an_environment_without_experiments_and_lists_them() -> None:
    assert fault.main(["--env", "prod", "--experiment", "aurora-failover"]) == 2
    fis_client, cloudwatch = _clients()
    with Stubber(fis_client) as f:
        f.add_response("list_experiment_templates", {"experimentTemplates": [
            {"id": "EXT9", "tags": {"Name": "staging-aurora-failover", "experiment": "aurora-failover"}}]})
        out = io.StringIO()
        with redirect_stdout(out):
            assert fault.main(["--env", "staging"], session=_Session(fis_client, cloudwatch)) == 0
    assert "staging's experiments: aurora-failover" in out.getvalue()
