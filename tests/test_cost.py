"""The cost report: arithmetic on a hand-made template (figures worked out by hand below), no silent zero for an
unknown type, and every type of every synthesized environment (and of the seed-literal app) priced or listed free."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from config.environment import UsageAssumptions
from config.environments import PROD
from tools.reports.cost import prices as price_table
from tools.reports.cost import seed_literal
from tools.reports.cost.__main__ import main as cost_main
from tools.reports.cost.prices import PriceTable, parse
from tools.reports.cost.report import CostReport, price_assembly, read_assembly, read_template
from tools.reports.cost.rules import (
    FREE,
    RULES,
    UnpricedOptionError,
    UnpricedResourceError,
    price_resources,
    unpriced_types,
)
from tools.reports.cost.synth import synthesize

# --- a price table with round figures, so the hand arithmetic below is easy to follow --------------------------

_PRICES = {
    "eks.cluster_hour": 0.10, "ec2.m7g.large": 0.10, "ec2.m6g.large": 0.08, "ec2.m7i.large": 0.12,
    "ec2.m6i.large": 0.10, "ebs.gp3_gb_month": 0.10, "vpc.nat_gateway_hour": 0.05, "vpc.nat_gateway_gb": 0.05,
    "vpc.public_ipv4_hour": 0.005, "vpc.interface_endpoint_az_hour": 0.01, "vpc.interface_endpoint_gb": 0.01,
    "aurora.serverless_v2_acu_hour": 0.10, "aurora.storage_gb_month": 0.10, "aurora.io_million": 0.20,
    "dynamodb.ondemand_write_million": 1.0, "dynamodb.ondemand_read_million": 0.20, "dynamodb.wcu_hour": 0.001,
    "dynamodb.rcu_hour": 0.0002, "dynamodb.storage_gb_month": 0.25, "dynamodb.pitr_gb_month": 0.20,
    "sqs.standard_million": 0.40, "sns.publish_million": 0.50, "sns.email_100k": 2.0, "apigw.rest_million": 3.50,
    "xray.traces_million": 5.0, "waf.web_acl_month": 5.0, "waf.rule_month": 1.0, "waf.requests_million": 0.60,
    "kms.key_month": 1.0, "secretsmanager.secret_month": 0.40, "logs.ingest_gb": 0.50,
    "logs.storage_gb_month": 0.03, "cloudwatch.metric_month": 0.30, "cloudwatch.alarm_standard_month": 0.10,
    "cloudwatch.alarm_high_res_month": 0.30, "cloudwatch.dashboard_month": 3.0, "elb.nlb_hour": 0.02,
    "elb.nlcu_hour": 0.006, "s3.standard_gb_month": 0.02, "cognito.mau_essentials": 0.015,
    "ses.email_thousand": 0.10,
}
_FACTORS = {"spot_discount": 0.5, "log_storage_compression": 0.2, "never_expire_horizon_days": 730,
            "xray_sampling_ratio": 0.05, "dynamodb_gsi_write_share": 0.5, "dynamodb_peak_to_average": 3,
            "sqs_requests_per_message": 3, "sqs_long_poll_seconds": 20, "alarm_notifications_per_month": 100,
            "notification_emails_per_order": 1, "ses_feedback_events_per_email": 0.02}
TEST_PRICES: PriceTable = parse({
    "region": "eu-west-1", "hours_per_month": 730, "transcribed": "2026-01-15", "as_of": "2026-01-15",
    "note": "round test figures",
    "prices": {k: {"usd": v, "unit": k.split(".")[-1], "source": "https://example.com/", "date": "2026-01"}
               for k, v in _PRICES.items()},
    "factors": {k: {"value": v, "note": k} for k, v in _FACTORS.items()},
    "graviton_x86_equivalent": {"m7g.large": "m7i.large", "m6g.large": "m6i.large"},
})

USAGE = UsageAssumptions(
    api_requests_per_month=10_000_000, orders_per_month=10_000, stored_gib_dynamodb=10, stored_gib_database=20,
    nat_processed_gib=100, log_ingested_gib=10, monthly_active_users=1_000, events_per_month=200_000,
    dynamodb_read_units_per_month=2_000_000, dynamodb_write_units_per_month=1_000_000,
    database_io_requests_per_month=1_000_000, database_acu_hours_above_min=100, endpoint_processed_gib=50,
    custom_metrics=10, api_kib_per_request=8, s3_stored_gib=0, web_page_views_per_month=0, web_kib_per_page_view=30)


def _r(type_: str, **props: Any) -> dict[str, Any]:
    return {"Type": type_, "Properties": props}


HAND_TEMPLATE: dict[str, Any] = {"Resources": {
    "Role": _r("AWS::IAM::Role"),
    "Cluster": _r("AWS::EKS::Cluster", Name="c"),
    "Pool": _r("AWS::EKS::Nodegroup", InstanceTypes=["m7g.large"], CapacityType="ON_DEMAND", DiskSize=30,
               ScalingConfig={"MinSize": 2, "DesiredSize": 2, "MaxSize": 4}),
    "SpotPool": _r("AWS::EKS::Nodegroup", InstanceTypes=["m7g.large", "m6g.large"], CapacityType="SPOT", DiskSize=20,
                   ScalingConfig={"MinSize": 0, "DesiredSize": 1, "MaxSize": 3}),
    "Nat": _r("AWS::EC2::NatGateway"),
    "NatIp": _r("AWS::EC2::EIP"),
    "SqsEndpoint": _r("AWS::EC2::VPCEndpoint", VpcEndpointType="Interface", ServiceName="com.amazonaws.eu-west-1.sqs",
                      SubnetIds=["a", "b", "c"]),
    "S3Endpoint": _r("AWS::EC2::VPCEndpoint", VpcEndpointType="Gateway", ServiceName="com.amazonaws.eu-west-1.s3"),
    "Db": _r("AWS::RDS::DBCluster", Engine="aurora-postgresql",
             ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4}),
    "DbWriter": _r("AWS::RDS::DBInstance", DBInstanceClass="db.serverless", DBClusterIdentifier={"Ref": "Db"}),
    "OnDemandTable": _r("AWS::DynamoDB::Table", BillingMode="PAY_PER_REQUEST",
                        GlobalSecondaryIndexes=[{"IndexName": "g"}],
                        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}),
    "ProvisionedTable": _r("AWS::DynamoDB::Table", ProvisionedThroughput={"ReadCapacityUnits": 10,
                                                                           "WriteCapacityUnits": 5}),
    "OrderEventsTopicAB12": _r("AWS::SNS::Topic"),
    "Dlq": _r("AWS::SQS::Queue"),
    "Queue": _r("AWS::SQS::Queue", RedrivePolicy={"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}}),
    "Sub": _r("AWS::SNS::Subscription", Protocol="sqs", TopicArn={"Ref": "OrderEventsTopicAB12"},
              Endpoint={"Fn::GetAtt": ["Queue", "Arn"]}),
    "Stage": _r("AWS::ApiGateway::Stage", TracingEnabled=True),
    "Acl": _r("AWS::WAFv2::WebACL", Rules=[{"Name": "a", "Statement": {}}, {"Name": "b", "Statement": {}}]),
    "Key": _r("AWS::KMS::Key"),
    "Secret": _r("AWS::SecretsManager::Secret"),
    "Logs": _r("AWS::Logs::LogGroup", RetentionInDays=30),
    "Alarm": _r("AWS::CloudWatch::Alarm", Period=300),
    "Board": _r("AWS::CloudWatch::Dashboard"),
    "Nlb": _r("AWS::ElasticLoadBalancingV2::LoadBalancer", Type="network"),
    # What makes the node groups autoscale: HPAs fed by metrics-server, the Cluster Autoscaler on this cluster.
    "MetricsServer": _r("AWS::EKS::Addon", AddonName="metrics-server", ClusterName={"Ref": "Cluster"}),
    "Autoscaler": _r("Custom::AWSCDK-EKS-HelmChart", Chart="cluster-autoscaler", Values={"Fn::Join": ["", [
        '{"autoDiscovery":{"clusterName":"', {"Ref": "Cluster"}, '"}}']]}),
    "Workloads": _r("Custom::AWSCDK-EKS-KubernetesResource", Manifest=json.dumps([
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
         "metadata": {"name": "api", "namespace": "shop"}, "spec": {"minReplicas": 2, "maxReplicas": 8}}])),
}}

# Each figure worked out by hand (730 h/month):
EXPECTED = {
    "Cluster": 0.10 * 730 + 10 * 0.30,                      # control plane 73.00 + 10 metrics 3.00 = 76.00
    "Pool": 2 * 730 * 0.10 + 2 * 30 * 0.10,                 # 146.00 node-hours + 6.00 gp3 = 152.00
    "SpotPool": 1 * 730 * (0.10 + 0.08) / 2 * 0.5 + 20 * 0.10,  # mean 0.09 x 0.5 = 0.045/h: 32.85 + 2.00 = 34.85
    "Nat": 0.05 * 730 + 100 * 0.05,                         # 36.50 + 5.00 = 41.50
    "NatIp": 0.005 * 730,                                   # 3.65
    "SqsEndpoint": 3 * 730 * 0.01 + 50 * 0.01,              # 21.90 + 0.50 = 22.40
    "S3Endpoint": 0.0,                                      # gateway endpoint
    "Db": 20 * 0.10 + 1 * 0.20,                             # storage 2.00 + 1M I/O 0.20 = 2.20
    "DbWriter": (0.5 * 730 + 100) * 0.10,                   # floor 365 + 100 ACU-h = 465 x 0.10 = 46.50
    # 2 tables share the usage: writes 0.5M x (1 + 0.5 x 1 GSI) = 0.75M x 1.0 = 0.75; reads 1M x 0.20 = 0.20;
    # storage 5 GB x 0.25 = 1.25; PITR 5 GB x 0.20 = 1.00 -> 3.20
    "OnDemandTable": 0.75 + 0.20 + 1.25 + 1.00,
    # 5 WCU x 730 x 0.001 = 3.65; 10 RCU x 730 x 0.0002 = 1.46; storage 5 GB x 0.25 = 1.25 -> 6.36
    "ProvisionedTable": 3.65 + 1.46 + 1.25,
    "OrderEventsTopicAB12": 0.2 * 0.50,                     # 200,000 publishes: 0.10
    "Dlq": 0.0,
    # 200,000 events x 1 subscription x 3 requests = 0.6M; idle polling 730 x 3600 / 20 = 131,400 -> 0.7314M x 0.40
    "Queue": (0.6 + 0.1314) * 0.40,                         # 0.29256
    "Sub": 0.0,
    "Stage": 10 * 3.50 + 10 * 0.05 * 5.0,                   # 35.00 requests + 0.5M traces x 5 = 2.50 -> 37.50
    "Acl": 5.0 + 2 * 1.0 + 10 * 0.60,                       # 5 + 2 + 6 = 13.00
    "Key": 1.0,
    "Secret": 0.40,
    # the only log group gets all 10 GB: ingestion 5.00; stored 10 x 30 / (365/12) x 0.2 = 1.9726 GB x 0.03 = 0.0592
    "Logs": 10 * 0.50 + 10 * 30 / (365 / 12) * 0.2 * 0.03,
    "Alarm": 0.10,
    "Board": 3.0,
    # 10M x 8 KiB = 76.29 GiB / 730 h = 0.1045 GB/h vs 3.8 new flows/s / 800: NLCU = 0.1045 -> 0.02 x 730 + 0.1045 x
    # 730 x 0.006 = 14.60 + 0.4578 = 15.0578
    "Nlb": 0.02 * 730 + (10_000_000 * 8 / 1024**2 / 730) * 730 * 0.006,
}


def _report(template: dict[str, Any], usage: UsageAssumptions = USAGE) -> CostReport:
    resources = read_template("Hand", template)
    lines, free = price_resources(resources, usage, TEST_PRICES)
    return CostReport("hand", usage, TEST_PRICES, lines, free, ("Hand",), resources)


def _hand_report() -> CostReport:
    return _report(HAND_TEMPLATE)


def _by_resource(report: CostReport) -> dict[str, float]:
    got: dict[str, float] = {}
    for line in report.lines:
        got[line.logical_id] = got.get(line.logical_id, 0.0) + line.monthly_usd
    return got


def test_hand_template_per_resource() -> None:
    report = _hand_report()
    got = _by_resource(report)
    assert set(got) == set(EXPECTED)
    for logical_id, figure in EXPECTED.items():
        assert got[logical_id] == pytest.approx(figure, abs=0.005), logical_id
    assert report.free == {"AWS::IAM::Role": 1, "AWS::EKS::Addon": 1, "Custom::AWSCDK-EKS-HelmChart": 1,
                           "Custom::AWSCDK-EKS-KubernetesResource": 1}


def test_hand_template_total_and_strategies() -> None:
    report = _hand_report()
    assert report.total == pytest.approx(sum(EXPECTED.values()), abs=0.01)
    s = report.strategies()
    # Graviton: on-demand pool on m7i.large 2 x 730 x 0.12 = 175.20 vs 146.00; Spot pool on (0.12 + 0.10) / 2 x 0.5
    # = 0.055/h x 730 = 40.15 vs 32.85 -> x86 215.35, Graviton 178.85, saving 36.50
    assert s["graviton_vs_x86"]["same_pools_on_x86_usd"] == pytest.approx(215.35)
    assert s["graviton_vs_x86"]["saving_usd"] == pytest.approx(36.50)
    # Spot: the Spot pool on demand would be 730 x 0.09 = 65.70, on Spot 32.85
    assert s["spot"]["same_pools_on_demand_usd"] == pytest.approx(65.70)
    assert s["spot"]["saving_usd"] == pytest.approx(32.85)
    # Node autoscaling: static at max = 4 x 730 x 0.10 + 3 x 730 x 0.045 = 292.00 + 98.55 = 390.55 (against 146.00
    # + 32.85 = 178.85 at desired); the saving also counts the root volumes: (4 - 2) x 30 + (3 - 1) x 20 GiB = 100
    # GiB x 0.10 = 10.00 -> 390.55 - 178.85 + 10.00 = 221.70
    auto = s["pod_and_node_autoscaling"]
    assert auto["priced"] and auto["nodes_static_at_max_usd"] == pytest.approx(390.55)
    assert auto["saving_usd"] == pytest.approx(221.70)
    assert any("Hand/Autoscaler" in e for e in auto["evidence"])
    assert any("HorizontalPodAutoscaler shop/api: 2 to 8" in e for e in auto["evidence"])
    # Aurora: floor 0.5 ACU x 730 x 0.10 = 36.50; each 0.5 ACU of minimum = 36.50; held at 4 ACU = 292.00, against
    # 36.50 + 100 ACU-h x 0.10 = 46.50 of compute
    assert s["aurora_capacity"]["floor_usd"] == pytest.approx(36.50)
    assert s["aurora_capacity"]["compute_if_held_at_max_usd"] == pytest.approx(292.00)
    assert s["aurora_capacity"]["saving_usd"] == pytest.approx(292.00 - 46.50)
    # DynamoDB break-even: a WCU-hour costs 0.001; the same hour used fully on demand = 3600 x 1.0 / 1e6 = 0.0036
    assert s["dynamodb_on_demand_vs_provisioned"]["break_even_write_utilisation"] == pytest.approx(0.2778, abs=1e-4)
    # NAT vs endpoint: 3 AZ x 730 x 0.01 = 21.90 a month / (0.05 - 0.01) per GB = 547.5 GB a month
    assert s["nat_vs_interface_endpoints"]["break_even_gib_per_endpoint_per_month"] == pytest.approx(547.5)


def test_notification_emails_and_their_bounces_follow_the_orders() -> None:
    """The notifications' configuration set carries one email per order; Cognito's (the one its pool names) is
    priced at zero; SES's bounce and complaint topic and its queue carry a share of those emails, not of the
    platform's events."""
    template = {"Resources": {
        "NotificationEmailConfigurationSet1A": _r("AWS::SES::ConfigurationSet"),
        "UsersEmailConfigurationSet2B": _r("AWS::SES::ConfigurationSet"),
        "UsersUserPool3C": _r("AWS::Cognito::UserPool", UserPoolTier="ESSENTIALS", EmailConfiguration={
            "EmailSendingAccount": "DEVELOPER", "ConfigurationSet": {"Ref": "UsersEmailConfigurationSet2B"}}),
        "EmailEventsTopic4D": _r("AWS::SNS::Topic"),
        "OrderEventsTopicAB12": _r("AWS::SNS::Topic"),
        "EmailQueue": _r("AWS::SQS::Queue"),
        "EmailSub": _r("AWS::SNS::Subscription", Protocol="sqs", TopicArn={"Ref": "EmailEventsTopic4D"},
                       Endpoint={"Fn::GetAtt": ["EmailQueue", "Arn"]}),
    }}
    lines, _ = price_resources(read_template("Hand", template), USAGE, TEST_PRICES)
    got: dict[str, float] = {}
    for line in lines:
        got[line.logical_id] = got.get(line.logical_id, 0.0) + line.monthly_usd
    assert got["NotificationEmailConfigurationSet1A"] == pytest.approx(10_000 / 1000 * 0.10)  # 1.00
    assert got["UsersEmailConfigurationSet2B"] == 0.0
    assert got["EmailEventsTopic4D"] == pytest.approx(200 / 1e6 * 0.50)  # 2% of 10,000 emails
    assert got["OrderEventsTopicAB12"] == pytest.approx(0.2 * 0.50)  # every event on the one domain topic
    # 200 messages x 3 requests + 131,400 idle polls
    assert got["EmailQueue"] == pytest.approx((600 + 131_400) / 1e6 * 0.40)


def test_unknown_type_fails_loudly() -> None:
    template = {"Resources": {"Repo": _r("AWS::ECR::Repository"), "Role": _r("AWS::IAM::Role")}}
    with pytest.raises(UnpricedResourceError, match="AWS::ECR::Repository"):
        price_resources(read_template("X", template), USAGE, TEST_PRICES)


def test_unmodelled_option_fails_loudly() -> None:
    template = {"Resources": {"Q": _r("AWS::SQS::Queue", FifoQueue=True)}}
    with pytest.raises(UnpricedOptionError, match="FIFO"):
        price_resources(read_template("X", template), USAGE, TEST_PRICES)


def test_rules_and_free_list_are_disjoint() -> None:
    assert not set(RULES) & set(FREE)


def test_committed_price_table() -> None:
    table = price_table.load()
    assert table.region == "eu-west-1"
    raw = json.loads(price_table.PRICES_FILE.read_text())
    for key, entry in raw["prices"].items():
        # AWS's price page of the service, or the Price List offer file `make prices-refresh` read it from
        assert entry["source"].startswith(("https://aws.amazon.com/", "https://pricing.us-east-1.amazonaws.com/")), key
        assert entry["date"] and entry["unit"], key
        # a hand review that read the figure elsewhere says where
        assert entry.get("read_in", "https://").startswith("https://"), key
    for graviton, x86 in table.x86_equivalent.items():
        assert table.ec2_hour(x86) > table.ec2_hour(graviton)


@pytest.fixture(scope="module")
def seed_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(seed_literal.NAME, tmp_path_factory.mktemp("seed") / "assembly")


def test_every_template_type_is_priced_or_free(synth: Callable[[str], Any], seed_assembly: Path) -> None:
    for outdir in (synth("dev").outdir, synth("prod").outdir, seed_assembly):
        types = {r.type for r in read_assembly(outdir)}
        assert unpriced_types(types) == [], outdir


def test_environments_and_seed_literal(synth: Callable[[str], Any], seed_assembly: Path) -> None:
    prices = price_table.load()
    dev = price_assembly("dev", synth("dev").outdir, synth("dev").config.usage, prices)
    prod = price_assembly("prod", synth("prod").outdir, PROD.usage, prices)
    seed = price_assembly("seed-literal", seed_assembly, PROD.usage, prices)
    assert 0 < dev.total < prod.total
    # The seed taken literally: x86 on-demand nodes, one NAT per AZ, no endpoints, 4 Multi-AZ RDS instances,
    # provisioned DynamoDB.
    kinds = {line.item.split(":")[0] for line in seed.lines}
    assert "nodes" in kinds
    seed_types = {r.type: r for r in read_assembly(seed_assembly)}
    assert "AWS::EC2::VPCEndpoint" not in seed_types
    rds = [r for r in read_assembly(seed_assembly) if r.type == "AWS::RDS::DBInstance"]
    assert len(rds) == 4 and all(str(r.properties["MultiAZ"]).lower() == "true" for r in rds)
    nodes = [r for r in read_assembly(seed_assembly) if r.type == "AWS::EKS::Nodegroup"]
    assert [n.properties["InstanceTypes"] for n in nodes] == [[seed_literal.X86_NODE_TYPE]]
    assert sum(1 for r in read_assembly(seed_assembly) if r.type == "AWS::EC2::NatGateway") == 3
    assert all(r.properties.get("BillingMode", "PROVISIONED") == "PROVISIONED"
               for r in read_assembly(seed_assembly) if r.type == "AWS::DynamoDB::Table")
    # Strategies measured on prod's own templates save money.
    s = prod.strategies()
    assert s["graviton_vs_x86"]["saving_usd"] > 0
    assert s["spot"]["saving_usd"] > 0
    assert s["pod_and_node_autoscaling"]["saving_usd"] > 0
    assert not seed.strategies()["pod_and_node_autoscaling"]["priced"]
    # Database compute: Aurora Serverless v2 in prod costs less than the seed's four Multi-AZ instances.
    assert prod.by_type()["AWS::RDS::DBInstance"] < seed.by_type()["AWS::RDS::DBInstance"]


def test_cli_writes_markdown_and_json(synth: Callable[[str], Any], tmp_path: Path) -> None:
    assert cost_main(["dev", "--assembly", str(synth("dev").outdir), "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "cost.json").read_text())
    md = (tmp_path / "cost.md").read_text()
    assert data["environment"] == "dev" and data["region"] == "eu-west-1"
    assert data["total_monthly_usd"] == pytest.approx(
        sum(s["monthly_usd"] for s in data["stacks"].values()), abs=0.05)
    assert f"${data['total_monthly_usd']:,.2f}" in md
    assert "Dev-Network" in data["stacks"]


def test_usage_validation_rejects_impossible_acu_hours() -> None:
    from config.environment import ConfigError

    bad = replace(PROD, usage=replace(PROD.usage, database_acu_hours_above_min=1e9))
    with pytest.raises(ConfigError, match="database_acu_hours_above_min"):
        bad.validate()


# --- evidence: a saving is priced only when the template holds what produces it --------------------------------

def _without(*logical_ids: str) -> dict[str, Any]:
    return {"Resources": {k: v for k, v in HAND_TEMPLATE["Resources"].items() if k not in logical_ids}}


@pytest.mark.parametrize("missing", ["Autoscaler", "MetricsServer", "Workloads"])
def test_without_autoscaling_evidence_nodes_are_priced_at_their_maximum(missing: str) -> None:
    report = _report(_without(missing))
    # on demand 4 x 730 x 0.10 + 4 x 30 x 0.10 = 292.00 + 12.00; Spot 3 x 730 x 0.045 + 3 x 20 x 0.10 = 98.55 + 6.00
    got = _by_resource(report)
    assert got["Pool"] == pytest.approx(304.00) and got["SpotPool"] == pytest.approx(104.55)
    auto = report.strategies()["pod_and_node_autoscaling"]
    assert not auto["priced"] and auto["saving_usd"] == 0 and auto["missing"]


def _scheduled(hours: tuple[int, int], days: str = "MON-FRI", **db: Any) -> dict[str, Any]:
    """A one-group cluster whose group is woken at hours[0] and emptied at hours[1] (and half an hour later)."""
    wake, sleep = hours

    def schedule(expression: str, scaling: str) -> dict[str, Any]:
        return _r("AWS::Scheduler::Schedule", ScheduleExpression=expression, ScheduleExpressionTimezone="Europe/Dublin",
                  Target={"Arn": "arn:aws:scheduler:::aws-sdk:eks:updateNodegroupConfig", "RoleArn": "r",
                          "Input": {"Fn::Join": ["", ['{"ClusterName":"', {"Ref": "Cluster"}, '","NodegroupName":"',
                                                      {"Fn::GetAtt": ["Pool", "NodegroupName"]},
                                                      f'","ScalingConfig":{scaling}}}']]}})
    keep = ("Cluster", "Pool", "MetricsServer", "Autoscaler", "Workloads", "Queue", "Dlq", "Sub",
            "OrderEventsTopicAB12")
    resources = {k: v for k, v in HAND_TEMPLATE["Resources"].items() if k in keep}
    resources["Wake"] = schedule(f"cron(0 {wake} ? * {days} *)", '{"MinSize":2,"MaxSize":4,"DesiredSize":2}')
    resources["Sleep"] = schedule(f"cron(0,30 {sleep} ? * {days} *)", '{"MinSize":0,"MaxSize":1,"DesiredSize":0}')
    if db:
        resources["Db"] = _r("AWS::RDS::DBCluster", Engine="aurora-postgresql", ServerlessV2ScalingConfiguration=db)
        resources["DbWriter"] = HAND_TEMPLATE["Resources"]["DbWriter"]
    return {"Resources": resources}


def test_a_working_hours_schedule_prices_the_hours_with_nodes() -> None:
    report = _report(_scheduled((8, 18)))
    got = _by_resource(report)
    # 10 h x 5 days = 50 h of 168: 730 x 50 / 168 = 217.26 h x 2 nodes x 0.10 + 2 x 30 GiB x 50/168 x 0.10
    share = 50 / 168
    assert got["Pool"] == pytest.approx(730 * share * 2 * 0.10 + 2 * 30 * share * 0.10)
    # metrics are billed for the hours they are sent: 10 x 0.30 x share; the control plane runs on
    assert got["Cluster"] == pytest.approx(73.0 + 10 * 0.30 * share)
    # the consumer long-polls only while its pod runs
    polls = 730 * share * 3600 / 20
    assert got["Queue"] == pytest.approx((0.6 + polls / 1e6) * 0.40)
    schedule = report.strategies()["working_hours_schedule"]
    assert schedule["priced"] and schedule["hours_with_nodes_per_week"] == 50
    assert {e.split(" ")[0] for e in schedule["evidence"]} == {"Hand/Wake", "Hand/Sleep"}
    assert schedule["saving_usd"] == pytest.approx(_report(_scheduled((0, 23), "MON-SUN")).total - report.total,
                                                   abs=20)  # awake 23 h a day: nearly the whole week


def test_weekly_schedule_reading() -> None:
    from tools.reports.cost.evidence import UnreadableEvidenceError, fire_times

    assert fire_times("cron(0,30 18 ? * MON,FRI *)") == (1080, 1110, 4 * 1440 + 1080, 4 * 1440 + 1110)
    assert len(fire_times("cron(0 8 ? * * *)")) == 7
    for unpriceable in ("rate(1 hour)", "cron(0 8 1 * ? *)", "cron(0 8 ? 1 MON *)", "at(2026-01-01T00:00:00)"):
        with pytest.raises(UnreadableEvidenceError):
            fire_times(unpriceable)


def test_aurora_at_zero_pauses_only_with_auto_pause_and_for_the_hours_without_nodes() -> None:
    share = 50 / 168
    paused = _by_resource(_report(_scheduled((8, 18), MinCapacity=0, MaxCapacity=4, SecondsUntilAutoPause=300)))
    # running 0.5 ACU for the 217.26 hours with nodes + 100 ACU-hours above it
    assert paused["DbWriter"] == pytest.approx((0.5 * 730 * share + 100) * 0.10)
    never = _by_resource(_report(_scheduled((8, 18), MinCapacity=0, MaxCapacity=4)))
    assert never["DbWriter"] == pytest.approx((0.5 * 730 + 100) * 0.10)  # no SecondsUntilAutoPause: never paused
    # logical replication keeps a cluster from pausing (Aurora's documented limits): priced as never paused
    template = _scheduled((8, 18), MinCapacity=0, MaxCapacity=4, SecondsUntilAutoPause=300)
    template["Resources"]["Params"] = _r("AWS::RDS::DBClusterParameterGroup",
                                         Parameters={"rds.logical_replication": "1"})
    template["Resources"]["Db"]["Properties"] = {**template["Resources"]["Db"]["Properties"],
                                                 "DBClusterParameterGroupName": {"Ref": "Params"}}
    report = _report(template)
    assert _by_resource(report)["DbWriter"] == pytest.approx((0.5 * 730 + 100) * 0.10)
    aurora = report.strategies()["aurora_capacity"]
    assert not aurora["pauses"] and "logical replication is on (rds.logical_replication=1)" in aurora["missing"]


def test_units_per_order_and_request_and_what_scales() -> None:
    report = _hand_report()
    units = report.units()
    assert units["factors"] == [1, 2, 4]
    assert units["per_1000_orders_usd"][0] == pytest.approx(report.total / 10, abs=1e-3)  # 10,000 orders
    assert units["per_million_requests_usd"][0] == pytest.approx(report.total / 10, abs=1e-3)  # 10M requests
    rows = units["by_type"]
    assert rows["AWS::KMS::Key"]["kind"] == rows["AWS::EKS::Cluster"]["kind"] == "fixed"  # metrics count: shape
    assert rows["AWS::ApiGateway::Stage"]["kind"] == "scales" and rows["AWS::ApiGateway::Stage"]["growth_at_2x"] == 2
    # the Spot pool sits above its minimum (0 of desired 1): it doubles; the on-demand pool is at its minimum
    twice = _by_resource(CostReport("x", USAGE, TEST_PRICES, report.repriced_lines(factor=2), {}, (),
                                    report.resources))
    assert twice["Pool"] == pytest.approx(EXPECTED["Pool"])
    assert twice["SpotPool"] == pytest.approx(2 * EXPECTED["SpotPool"])
    assert units["total_usd"][1] > units["total_usd"][0] and units["per_1000_orders_usd"][1] < units[
        "per_1000_orders_usd"][0]  # the fixed part is shared by more orders


# --- the price table's dates ------------------------------------------------------------------------------------

def test_the_price_table_is_not_older_than_180_days_today() -> None:
    """Against today's date: a table not refreshed for half a year fails, with the line that says how to refresh it
    (faking today's date past as_of + 180 days fails this test)."""
    table = price_table.load()
    problem = price_table.age_problem(table, date.today())
    assert problem is None, problem


def test_the_age_check_fails_past_180_days_with_a_line_that_says_to_refresh() -> None:
    table = price_table.load()
    assert price_table.age_problem(table, table.as_of + price_table.MAX_TABLE_AGE) is None
    problem = price_table.age_problem(table, table.as_of + price_table.MAX_TABLE_AGE + timedelta(days=1))
    assert problem is not None and "181 days old" in problem and "make prices-refresh" in problem
    assert "\n" not in problem


def test_every_entry_is_within_a_year_of_the_review_or_carried_with_a_reason() -> None:
    """A review (moving as_of) brings every entry within a year of it, or says in the entry why it kept the figure
    without re-reading it; and an entry it did re-read is not marked carried."""
    table = price_table.load()
    raw = json.loads(price_table.PRICES_FILE.read_text())
    assert table.as_of <= price_table.parse_date(raw["transcribed"])
    dated = table.dated_entries()
    assert set(dated) >= set(table.prices) and len(dated) == len(table.prices) + len(table.factors)
    future = {k: str(d) for k, (d, _) in dated.items() if d > table.as_of}
    assert future == {}, f"dated after the table's as_of {table.as_of}: {future}"
    stale = {k for keys in table.entries_older_than_a_year(table.as_of).values() for k in keys}
    carried = table.carried_entries()
    assert stale - set(carried) == set(), (f"more than a year older than as_of {table.as_of} and not marked carried "
                                           f"-- re-read and re-date these: {sorted(stale - set(carried))}")
    assert all(note.startswith(f"{table.as_of.isoformat()} review: ") and len(note) > 40 for note in carried.values())


def test_the_report_lists_old_and_carried_entries_by_page() -> None:
    table = price_table.load()
    a_year_later = table.as_of + price_table.MAX_AGE + timedelta(days=400)
    stale = price_table.stale_entries(table, a_year_later)
    assert sorted(k for keys in stale.values() for k in keys) == sorted(table.dated_entries())
    note = price_table.staleness_note(table, a_year_later)
    assert note is not None and "eks.cluster_hour" in note and table.as_of.isoformat() in note
    carried = table.carried_entries()
    today_note = price_table.staleness_note(table, table.as_of)
    if carried:
        assert today_note is not None and f"{len(carried)} of {len(table.dated_entries())} entries" in today_note
        assert all(key in today_note for key in carried)
    else:
        assert today_note is None


# --- the synthesized environments -------------------------------------------------------------------------------

def test_every_priced_saving_names_resources_of_the_templates(synth: Callable[[str], Any]) -> None:
    for name in ("dev", "prod"):
        env = synth(name)
        report = price_assembly(name, env.outdir, env.config.usage, price_table.load())
        ids = {(r.stack, r.logical_id) for r in report.resources}
        for key, fig in report.strategies().items():
            if fig["priced"] and fig["saving_usd"] > 0:
                assert fig["evidence"], key
            for line in fig["evidence"]:
                stack, rest = line.split("/", 1)
                assert (stack, rest.split(" ", 1)[0]) in ids, (key, line)


def test_dev_is_within_its_budget_and_every_saving_it_claims_exists(synth: Callable[[str], Any]) -> None:
    env = synth("dev")
    report = price_assembly("dev", env.outdir, env.config.usage, price_table.load())
    assert report.total <= env.config.monthly_budget_usd
    s = report.strategies()
    for key in ("working_hours_schedule", "pod_and_node_autoscaling", "aurora_capacity", "user_pool_tier",
                "fewer_dashboards", "nat_vs_interface_endpoints"):
        assert s[key]["priced"] and s[key]["saving_usd"] > 0, key
    assert s["aurora_capacity"]["pauses"] and any("SecondsUntilAutoPause 300" in e
                                                  for e in s["aurora_capacity"]["evidence"])
    # nothing pays for an interface endpoint, a Plus-tier user or a per-service dashboard in dev
    types = report.by_type()
    assert "AWS::EC2::VPCEndpoint" not in types or all(
        "gateway endpoint" in x.item for x in report.lines if x.type == "AWS::EC2::VPCEndpoint")
    assert all("plus" not in x.item for x in report.lines if x.type == "AWS::Cognito::UserPool")


def test_the_orders_pool_settings_are_named_as_evidence_of_pausing_when_the_manifest_has_them() -> None:
    """Once the orders Deployments carry their pool's idle timeout and sweep interval (the resilience work), the
    report names them beside SecondsUntilAutoPause; the figure stays that of the hours without nodes."""
    template = _scheduled((8, 18), MinCapacity=0, MaxCapacity=4, SecondsUntilAutoPause=300)
    before = _report(template)
    env = [{"name": "DB_POOL_MAX_IDLE_SECONDS", "value": "60"}, {"name": "ORDER_SWEEP_INTERVAL_SECONDS",
                                                                   "value": "900"}]
    template["Resources"]["Orders"] = _r("Custom::AWSCDK-EKS-KubernetesResource", Manifest=json.dumps([
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orders-worker", "namespace": "orders"},
         "spec": {"template": {"spec": {"containers": [{"name": "worker", "env": env}]}}}}]))
    after = _report(template)
    evidence = after.strategies()["aurora_capacity"]["evidence"]
    assert any("Deployment orders-worker: DB_POOL_MAX_IDLE_SECONDS=60, ORDER_SWEEP_INTERVAL_SECONDS=900" in e
               for e in evidence)
    assert not any("DB_POOL_MAX_IDLE_SECONDS" in e for e in before.strategies()["aurora_capacity"]["evidence"])
    assert after.total == pytest.approx(before.total)
