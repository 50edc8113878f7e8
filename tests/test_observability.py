"""Observability over the synthesized templates: alarm topic, alarms per queue/table/service, actions, log groups,
the CloudWatch Observability add-on and its Pod Identity role, the services' telemetry environment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from cdk_constructs.sparse_metrics import fill_sparse, is_sparse_count, unfilled
from config.telemetry import (
    AGENT_NAMESPACE,
    AGENT_SERVICE_ACCOUNT,
    METRICS_NAMESPACE,
    ORDERS_PAST_DEADLINE_METRIC,
    OUTBOX_BACKLOG_METRIC,
    WORKER_LOOP_RESTARTS_METRIC,
)
from config.topology import QUEUES, SERVICES, TABLES
from policies.log_group_guard import LogGroupGuard
from tests.synthesis import Synthesized
from tools.assembly import Assembly

ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")


def alarms(env: Synthesized, part: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in env.resources(part, "AWS::CloudWatch::Alarm").items()}


def metric_names(props: dict[str, Any]) -> set[str]:
    """Metric names an alarm reads, whether it is on one metric or on metric math."""
    names = {props["MetricName"]} if "MetricName" in props else set()
    for m in props.get("Metrics", []):
        if "MetricStat" in m:
            names.add(m["MetricStat"]["Metric"]["MetricName"])
    return names


def referencing(items: dict[str, dict[str, Any]], logical_id: str) -> dict[str, dict[str, Any]]:
    """Items whose properties reference ``logical_id`` (Ref/GetAtt in-stack, or a cross-stack output named after it)."""
    return {k: v for k, v in items.items() if logical_id in json.dumps(v)}


def only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.items()))


def test_alarm_topic_is_encrypted_and_subscribed_from_config(env: Synthesized) -> None:
    template = env.template_json("Observability")
    topic_id, topic = only(env.resources("Observability", "AWS::SNS::Topic"))
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    statements = template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and set(cloudwatch[0]["Action"]) >= {"kms:Decrypt", "kms:GenerateDataKey*"}
    policy = only(env.resources("Observability", "AWS::SNS::TopicPolicy"))[1]["Properties"]["PolicyDocument"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and s["Action"] == "sns:Publish"
               and s["Effect"] == "Allow" for s in policy["Statement"])
    emails = {s["Properties"]["Endpoint"] for s in env.resources("Observability", "AWS::SNS::Subscription").values()
              if s["Properties"]["TopicArn"] == {"Ref": topic_id}}
    assert emails == set(env.config.alarms.email_subscriptions)


SILENT_ALARM_NAME = re.compile(r"[a-z]+-slo-(.+-burn-\d+[mh]|fast-burn-any)")


def silent_by_design(template: dict[str, Any], logical_id: str) -> bool:
    """An alarm that does not notify on its own: one window of a service level objective's burn-rate page (the
    composite alarm over both windows notifies) or the any-fast-burn composite that fault experiments stop on (its
    children notify). Either way another resource or an output of the stack reads it."""
    props = template["Resources"][logical_id]["Properties"]
    if not SILENT_ALARM_NAME.fullmatch(str(props.get("AlarmName", ""))):
        return False
    readers = [v for k, v in template["Resources"].items() if k != logical_id]
    return any(logical_id in json.dumps(r) for r in [*readers, template.get("Outputs", {})])


def test_every_alarm_notifies_the_alarm_topic(env: Synthesized) -> None:
    topic_id = only(env.resources("Observability", "AWS::SNS::Topic"))[0]
    total = 0
    for name, template in env.all_templates().items():
        for logical_id, res in template["Resources"].items():
            if res["Type"] not in ALARM_TYPES:
                continue
            total += 1
            props = res["Properties"]
            assert props.get("ActionsEnabled", True), f"{name}/{logical_id} has actions disabled"
            assert len(props.get("AlarmDescription", "")) > 40, f"{name}/{logical_id} lacks a useful description"
            if silent_by_design(template, logical_id):
                assert not props.get("AlarmActions"), f"{name}/{logical_id} would page twice"
                continue
            assert topic_id in json.dumps(props.get("AlarmActions", [])), f"{name}/{logical_id} does not notify"
    assert total >= 90


def test_alarms_use_the_configured_evaluation_periods(env: Synthesized) -> None:
    """Every alarm but the burn-rate windows of the objectives, whose one period is the window they measure
    (tests/test_objectives.py), and the canary's, which count runs (tests/test_synthetics.py)."""
    for part in ("Observability", "Services"):
        for logical_id, props in alarms(env, part).items():
            if re.fullmatch(r"[a-z]+-slo-.+-burn-\d+[mh]", props.get("AlarmName", "")):
                assert props["EvaluationPeriods"] == 1, logical_id
                continue
            if "-synthetics-" in props.get("AlarmName", ""):
                assert props["EvaluationPeriods"] == env.config.synthetics.failed_runs_to_alarm, logical_id
                continue
            assert props["EvaluationPeriods"] == env.config.alarms.evaluation_periods, logical_id


def test_every_queue_with_a_dlq_has_depth_and_age_alarms(env: Synthesized) -> None:
    messaging = env.template_json("Messaging")["Resources"]
    service_alarms = alarms(env, "Services")
    with_dlq = [k for k, v in messaging.items() if v["Type"] == "AWS::SQS::Queue"
                and "RedrivePolicy" in v["Properties"]]
    assert len(with_dlq) == len(QUEUES)
    for queue_id in with_dlq:
        redrive = messaging[queue_id]["Properties"]["RedrivePolicy"]
        dlq_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        on_dlq = referencing(service_alarms, dlq_id)
        depth = [p for p in on_dlq.values() if metric_names(p) == {"ApproximateNumberOfMessagesVisible"}]
        age = [p for p in on_dlq.values() if metric_names(p) == {"ApproximateAgeOfOldestMessage"}]
        assert len(depth) == 1 and depth[0]["Threshold"] == 0
        assert depth[0]["ComparisonOperator"] == "GreaterThanThreshold"
        assert len(age) == 1 and age[0]["Threshold"] == env.config.alarms.dlq_oldest_message_age_seconds
        # and the consumer's own queue: its oldest message's age
        on_queue = {k: v for k, v in referencing(service_alarms, queue_id).items() if k not in on_dlq}
        assert [p["Threshold"] for p in on_queue.values()] == [env.config.alarms.queue_oldest_message_age_seconds]


def test_every_table_has_throttle_and_error_alarms(env: Synthesized) -> None:
    data = env.template_json("Data")["Resources"]
    platform_alarms = alarms(env, "Observability")
    for table in TABLES:
        table_id = only({k: v for k, v in data.items() if v["Type"] == "AWS::DynamoDB::GlobalTable"
                         and k.startswith(table.construct_id)})[0]
        names = [metric_names(p) for p in referencing(platform_alarms, table_id).values()]
        flat = set().union(*names)
        assert {"ReadThrottleEvents", "WriteThrottleEvents", "SystemErrors"} <= flat, (table.construct_id, flat)


def test_every_service_has_a_composite_alarm_over_its_alarms(env: Synthesized) -> None:
    composites = {v["Properties"]["AlarmName"]: v["Properties"]
                  for v in env.resources("Services", "AWS::CloudWatch::CompositeAlarm").values()}
    service_alarms = alarms(env, "Services")
    for service in SERVICES:
        rule = json.dumps(composites[f"{env.config.name}-{service.value}-health"]["AlarmRule"])
        own = [k for k, p in service_alarms.items() if p["AlarmName"].startswith(f"{env.config.name}-{service.value}-")]
        assert own and all(k in rule for k in own), service
        others = [k for k in service_alarms if k not in own]
        assert not any(k in rule for k in others), service


def test_per_service_alarms_cover_pods_api_routes_and_outbox(env: Synthesized) -> None:
    service_alarms = alarms(env, "Services")
    for service in SERVICES:
        own = [p for p in service_alarms.values() if p["AlarmName"].startswith(f"{env.config.name}-{service.value}-")]
        names = set().union(*(metric_names(p) for p in own))
        assert {"pod_cpu_utilization_over_pod_limit", "pod_memory_utilization_over_pod_limit",
                "pod_number_of_container_restarts", "5XXError", "Latency", OUTBOX_BACKLOG_METRIC} <= names
        backlog = [p for p in own if metric_names(p) == {OUTBOX_BACKLOG_METRIC}]
        assert backlog[0]["Namespace"] == METRICS_NAMESPACE
        assert {d["Name"]: d["Value"] for d in backlog[0]["Dimensions"]} == {
            "Environment": env.config.name, "Service": service.value}


def test_worker_loop_restarts_and_orders_past_deadline_alarms(env: Synthesized) -> None:
    a = env.config.alarms
    service_alarms = alarms(env, "Services")
    for service in SERVICES:
        own = [p for p in service_alarms.values() if p["AlarmName"].startswith(f"{env.config.name}-{service.value}-")]
        (restarts,) = [p for p in own if metric_names(p) == {WORKER_LOOP_RESTARTS_METRIC}]
        assert (restarts["Statistic"], restarts["Period"], restarts["Threshold"]) == ("Sum", 900,
                                                                                       a.worker_loop_restarts)
        assert {d["Name"]: d["Value"] for d in restarts["Dimensions"]} == {
            "Environment": env.config.name, "Service": service.value}
        past = [p for p in own if metric_names(p) == {ORDERS_PAST_DEADLINE_METRIC}]
        assert len(past) == (service.value == "orders")
        if past:
            assert (past[0]["Statistic"], past[0]["Threshold"]) == ("Maximum", a.orders_past_deadline)


def test_shared_resource_alarms(env: Synthesized) -> None:
    names = set().union(*(metric_names(p) for p in alarms(env, "Observability").values()))
    assert {"5XXError", "4XXError", "Latency", "BlockedRequests", "CPUUtilization", "DatabaseConnections",
            "FreeableMemory", "ACUUtilization", "ErrorPortAllocation", "node_cpu_utilization",
            "node_memory_utilization"} <= names
    nat = [p for p in alarms(env, "Observability").values() if metric_names(p) == {"ErrorPortAllocation"}]
    assert len(nat) == env.config.network.nat_gateways


def test_dashboards_overview_and_one_per_service(env: Synthesized) -> None:
    """Every environment has the overview; those with config dashboards ALL also one per service and the
    platform's (dev keeps the overview alone: docs/cost.md)."""
    from config.environment import DashboardSet

    names = {json.dumps(v["Properties"].get("DashboardName")) for part in ("Observability", "Services")
             for v in env.resources(part, "AWS::CloudWatch::Dashboard").values()}
    every = {f'"{env.config.name}-{s}"' for s in ("overview", "platform", *(s.value for s in SERVICES))}
    if env.config.dashboards == DashboardSet.ALL:
        assert every <= names
    else:
        assert names == {f'"{env.config.name}-overview"'}


def test_every_log_group_has_retention_and_the_logs_key(env: Synthesized) -> None:
    allowed = {env.config.log_retention_days, env.config.network.flow_log_retention_days}
    for name, template in env.all_templates().items():
        for logical_id, res in template["Resources"].items():
            if res["Type"] == "AWS::Logs::LogGroup":
                props = res["Properties"]
                assert props.get("RetentionInDays") in allowed, f"{name}/{logical_id}"
                assert "LogsKey" in json.dumps(props.get("KmsKeyId")), f"{name}/{logical_id}"


def test_log_group_guard_fails_synth_on_a_bad_log_group(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    keys = cdk.Stack(app, "Keys")
    key = kms.Key(keys, "LogsKey")
    logs.LogGroup(keys, "Good", retention=logs.RetentionDays.TWO_WEEKS, encryption_key=key,
                  removal_policy=cdk.RemovalPolicy.DESTROY)
    stack = cdk.Stack(app, "Guarded")
    logs.LogGroup(stack, "Imported", retention=logs.RetentionDays.TWO_WEEKS, encryption_key=key,
                  removal_policy=cdk.RemovalPolicy.DESTROY)
    logs.LogGroup(stack, "Unencrypted", retention=logs.RetentionDays.TWO_WEEKS)
    logs.LogGroup(stack, "Forever", retention=logs.RetentionDays.INFINITE, encryption_key=key)
    logs.LogGroup(stack, "Kept", retention=logs.RetentionDays.TWO_WEEKS, encryption_key=key,
                  removal_policy=cdk.RemovalPolicy.RETAIN)
    logs.LogGroup(stack, "OtherKey", retention=logs.RetentionDays.TWO_WEEKS, encryption_key=kms.Key(stack, "Other"),
                  removal_policy=cdk.RemovalPolicy.DESTROY)
    cdk.Validations.of(app).add_plugins(LogGroupGuard(key_stack=keys, key=key, retention_days={14},
                                                      deletion_policy=cdk.CfnDeletionPolicy.DELETE))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (guard,) = [r for r in report["pluginReports"] if r["pluginName"] == "LogGroupGuard"]
    flagged = sorted(c["constructPath"].split("/")[1] for v in guard["violations"] for c in v["violatingConstructs"])
    # Good (in the key's stack) and Imported (through the key stack's export) are as configured; the others break
    # retention, encryption, the key or removal.
    assert flagged == ["Forever", "Kept", "OtherKey", "Unencrypted"]


def test_no_stack_has_error_annotations(env: Synthesized) -> None:
    manifest = Assembly(env.outdir).manifest
    errors = [(path, e["data"]) for a in manifest["artifacts"].values()
              for path, entries in (a.get("metadata") or {}).items() for e in entries if e["type"] == "aws:cdk:error"]
    assert errors == []


def test_observability_addon_with_pod_identity_role(env: Synthesized) -> None:
    template = env.template_json("Cluster")["Resources"]
    _, addon = only({k: v for k, v in env.resources("Cluster", "AWS::EKS::Addon").items()
                     if v["Properties"]["AddonName"] == "amazon-cloudwatch-observability"})
    config = json.loads(addon["Properties"]["ConfigurationValues"])
    assert config["containerLogs"]["enabled"] is True
    assert config["agent"]["config"]["logs"]["metrics_collected"]["kubernetes"]["enhanced_container_insights"]
    assert "otlp" in config["agent"]["config"]["traces"]["traces_collected"]
    _, association = only({k: v for k, v in env.resources("Cluster", "AWS::EKS::PodIdentityAssociation").items()
                           if v["Properties"]["Namespace"] == AGENT_NAMESPACE})
    assert association["Properties"]["ServiceAccount"] == AGENT_SERVICE_ACCOUNT
    role = template[association["Properties"]["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    policies = json.dumps(role["ManagedPolicyArns"])
    assert "CloudWatchAgentServerPolicy" in policies and "AWSXrayWriteOnlyAccess" in policies
    assert set(addon.get("DependsOn", [])) >= {k for k, v in template.items() if v["Type"] == "AWS::Logs::LogGroup"
                                               and "containerinsights" in json.dumps(v["Properties"])}


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "EMF_AGENT_ENDPOINT",
                                      "PLATFORM_ENVIRONMENT"])
def test_services_get_their_telemetry_environment(dev: Synthesized, variable: str) -> None:
    assert json.dumps(dev.template_json("Services")).count(variable) >= len(SERVICES) * 2  # api and worker


def test_alarm_counts(env: Synthesized) -> None:
    """The counts the report quotes; a change here is a change in paging."""
    per_part = {part: len(env.resources(part, "AWS::CloudWatch::Alarm")) for part in ("Observability", "Services")}
    composites = len(env.resources("Services", "AWS::CloudWatch::CompositeAlarm"))
    nat = env.config.network.nat_gateways
    # Observability: the objectives' burn-rate windows where the environment pages on them (#27): 7 route groups x
    # 2 SLIs x 4 windows, and per objective 2 composite pages, plus the any-fast-burn stop condition.
    paging = env.config.objectives.alerting
    # Services: per service, its outbox records dead-lettered (the contract's destinations and schemas) since #13;
    # 5xx and latency of the users service's confirmation, token refresh and sign-out routes since #23.
    # And the synthetic customers' failed and slow runs (#27).
    assert per_part == {"Observability": 21 + nat + 2 + (56 if paging else 0), "Services": 110}
    assert composites == len(SERVICES)
    assert len(env.resources("Observability", "AWS::CloudWatch::CompositeAlarm")) == (29 if paging else 0)


def sparse_reads(props: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Of one alarm: the ids of its sparse counts (sparse_metrics.py) that some expression reads unfilled, and the
    names of every sparse count it reads at all."""
    stats = {m["Id"]: m["MetricStat"] for m in props.get("Metrics", []) if "MetricStat" in m}
    sparse = [i for i, s in stats.items() if is_sparse_count(s["Metric"]["MetricName"], s["Stat"])]
    expressions = [m["Expression"] for m in props.get("Metrics", []) if "Expression" in m]
    bare = sorted({i for e in expressions for i in unfilled(e, sparse)})
    names = [stats[i]["Metric"]["MetricName"] for i in sparse]
    if "MetricName" in props and is_sparse_count(props["MetricName"], props.get("Statistic", "")):
        names.append(props["MetricName"])
    return bare, names


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_alarms_fill_sparse_counts_and_treat_no_data_as_no_errors(synth: Any, name: str) -> None:
    """Every alarm of every stack: a count recorded only when an error or throttle happens (DynamoDB SystemErrors
    per operation, throttles, WAF blocks, 5XX sums, worker restarts) is read as FILL(id, 0) in metric math, and the
    alarm treats a period with no data as not breaching. Else the sum over nine operations has no value while one
    of them is quiet, and the alarm sits in INSUFFICIENT_DATA instead of seeing the error."""
    env = synth(name)
    unfilled_reads, missing_treatment, sparse_alarms = {}, {}, 0
    for stack, template in env.all_templates().items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::CloudWatch::Alarm":
                continue
            props = resource["Properties"]
            bare, names = sparse_reads(props)
            if bare:
                unfilled_reads[f"{stack}/{logical_id}"] = bare
            if names:
                sparse_alarms += 1
                if props.get("TreatMissingData") != "notBreaching":
                    missing_treatment[f"{stack}/{logical_id}"] = (sorted(set(names)), props.get("TreatMissingData"))
    assert sparse_alarms, "no alarm on a sparse count: the walk found nothing to check"
    assert not unfilled_reads, unfilled_reads
    assert not missing_treatment, missing_treatment


def test_the_sparse_count_check_finds_the_unfilled_sum() -> None:
    """The check above against the expression cdk-monitoring-constructs writes for DynamoDB SystemErrors."""
    ids = ["systemErrorGetItem", "systemErrorScan"]
    library = "systemErrorGetItem+systemErrorScan"
    assert unfilled(library, ids) == ids
    assert unfilled("FILL(systemErrorGetItem, 0)+systemErrorScan", ids) == ["systemErrorScan"]
    assert unfilled(fill_sparse(library, ids), ids) == []
    assert unfilled("FILL(requests,0) / PERIOD(requests)", ["requests"]) == []
    props = {"Metrics": [
        {"Id": i, "ReturnData": False, "MetricStat": {"Metric": {"MetricName": "SystemErrors"}, "Stat": "Sum"}}
        for i in ids] + [{"Id": "expr_1", "Expression": library, "ReturnData": True}]}
    assert sparse_reads(props) == (ids, ["SystemErrors", "SystemErrors"])
    assert is_sparse_count("ReadThrottleEvents", "Sum") and is_sparse_count("5XXError", "Sum")
    assert not is_sparse_count("SystemErrors", "Average") and not is_sparse_count("Count", "Sum")


def dashboard_unfilled(body: Any) -> tuple[int, list[tuple[str, str, list[str]]]]:
    """Of one dashboard body (a string, or a join of strings and tokens): how many metric math expressions its graphs
    have, and each (widget title, expression, ids) where an expression reads a sparse count unfilled."""
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in body["Fn::Join"][1]) if isinstance(body, dict) \
        else body
    expressions, bad = 0, []
    for widget in json.loads(text)["widgets"]:
        props = widget.get("properties", {})
        ids: dict[str, tuple[str, str]] = {}
        exprs: list[str] = []
        for line in props.get("metrics", []):
            options = line[-1] if line and isinstance(line[-1], dict) else {}
            if "expression" in options:
                exprs.append(options["expression"])
            elif "id" in options and len(line) >= 2:
                ids[options["id"]] = (line[1], options.get("stat", props.get("stat", "Average")))
        sparse = [i for i, (name, stat) in ids.items() if is_sparse_count(name, stat)]
        expressions += len(exprs)
        bad += [(str(props.get("title")), e, unfilled(e, sparse)) for e in exprs if unfilled(e, sparse)]
    return expressions, bad


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_dashboards_fill_sparse_counts(synth: Any, name: str) -> None:
    """The dashboards' graphs read sparse counts as the alarms do: a sum of per-route 5XX or per-operation
    SystemErrors unfilled draws nothing for a period in which one of its terms had no data."""
    env = synth(name)
    expressions, bad = 0, {}
    for stack, template in env.all_templates().items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == "AWS::CloudWatch::Dashboard":
                count, unfilled_reads = dashboard_unfilled(resource["Properties"]["DashboardBody"])
                expressions += count
                if unfilled_reads:
                    bad[f"{stack}/{logical_id}"] = unfilled_reads
    assert expressions, "no metric math on any dashboard: the walk read nothing"
    assert not bad, bad


def test_the_dashboard_walk_finds_an_unfilled_sum() -> None:
    widget = {"properties": {"title": "Errors", "metrics": [
        [{"expression": "a+b", "label": "System Errors"}],
        ["AWS/DynamoDB", "SystemErrors", "Operation", "GetItem", {"id": "a", "stat": "Sum", "visible": False}],
        ["AWS/DynamoDB", "SystemErrors", "Operation", "Scan", {"id": "b", "stat": "Sum", "visible": False}]]}}
    body = {"Fn::Join": ["", ['{"widgets":', json.dumps([widget]), "}"]]}
    assert dashboard_unfilled(body) == (1, [("Errors", "a+b", ["a", "b"])])
