"""Each resource-management strategy of docs/cost.md, measured on an environment's own templates, with the evidence.

A strategy's saving is priced only when the templates hold what produces it (:mod:`tools.reports.cost.evidence`): the
rules
price the resources as synthesized, and again with the strategy taken away (``price_resources(..., without=...)``),
and the difference is the saving. Where the evidence is missing the rules already price the resources as if the
strategy were absent (nodes at their maximum without autoscaling, an Aurora instance running every hour without
auto-pause), so the saving is zero and ``priced`` is False, with what is missing named.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from config.topology import SERVICES
from tools.assembly import Resource
from tools.reports.cost import evidence
from tools.reports.cost.evidence import Evidence, of
from tools.reports.cost.rules import Context, Line, pause_blockers

if TYPE_CHECKING:
    from tools.reports.cost.report import CostReport

# The orders service's settings that decide whether an idle orders deployment keeps a database connection: set in
# its manifest by config (the orders pool closes idle connections; the relay and sweeper run on a slow interval).
POOL_IDLE_ENV = "DB_POOL_MAX_IDLE_SECONDS"
SWEEP_ENV = "ORDER_SWEEP_INTERVAL_SECONDS"
# The endpoints image pulls and pod credentials use: what a private cluster would run first.
MINIMAL_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "eks-auth")
IDLE_CONNECTION_TEST = "services/orders/tests/test_database.py::test_idle_platform_holds_no_database_connection"


def _r(x: float) -> float:
    return round(x, 2)


def _ratio(saved: float, base: float) -> float:
    return round(saved / base, 4) if base else 0.0


def _entry(priced: bool, found: list[Evidence], missing: list[str], saving: float, how: str,
           **figures: Any) -> dict[str, Any]:
    return {"priced": priced, "saving_usd": _r(saving) if priced else 0.0, "evidence": [str(e) for e in found],
            **({"missing": missing} if missing else {}), **figures, "how": how}


def strategies(report: CostReport) -> dict[str, dict[str, Any]]:
    p, h, lines, resources = report.prices, report.prices.hours_per_month, report.lines, report.resources
    c = Context(resources, report.usage, p)
    total = report.total

    def without(*names: str) -> float:
        return report.repriced(frozenset(names)) - total

    def of_type(*types: str) -> list[Resource]:
        return [r for r in resources if r.type in types]

    def node_usd(lines_: list[Line], spot_only: bool = False) -> float:
        """The instance-hours of the node groups (not their volumes)."""
        return sum(x.monthly_usd for x in lines_ if x.type == "AWS::EKS::Nodegroup" and "on_demand_unit_usd" in
                   x.extras and (not spot_only or x.extras["capacity"] == "SPOT"))

    out: dict[str, dict[str, Any]] = {}
    groups = of_type("AWS::EKS::Nodegroup")
    node_lines = [x for x in lines if x.type == "AWS::EKS::Nodegroup" and "on_demand_unit_usd" in x.extras]
    nodes_usd = sum(x.monthly_usd for x in node_lines)

    graviton = [g for g in groups if all(t in p.x86_equivalent for t in g.properties.get("InstanceTypes", []))]
    saving = without("graviton")
    out["graviton_vs_x86"] = _entry(
        bool(graviton),
        [of(g, f"{g.properties.get('AmiType')} {'/'.join(g.properties['InstanceTypes'])}") for g in graviton],
        [] if graviton else ["no node group of Graviton types"], saving,
        "each Graviton pool re-priced with its same-generation x86 type (prices.json graviton_x86_equivalent), "
        "same purchase option and size",
        graviton_nodes_usd=_r(sum(x.monthly_usd for x in node_lines if x.extras["x86_on_demand_unit_usd"])),
        same_pools_on_x86_usd=_r(sum(x.monthly_usd for x in node_lines if x.extras["x86_on_demand_unit_usd"])
                                 + saving),
        saving_ratio=_ratio(saving, nodes_usd + saving))

    spot = [g for g in groups if g.properties.get("CapacityType") == "SPOT"]
    spot_usd = sum(x.monthly_usd for x in node_lines if x.extras["capacity"] == "SPOT")
    saving = without("spot")
    out["spot"] = _entry(
        bool(spot), [of(g, f"CapacityType SPOT over {'/'.join(g.properties['InstanceTypes'])}") for g in spot],
        [] if spot else ["no node group with CapacityType SPOT"], saving,
        f"Spot pools priced at the mean on-demand price of their types less the average Spot discount "
        f"({p.factor('spot_discount'):.0%}, factors.spot_discount), against the same pools on demand",
        spot_pools_usd=_r(spot_usd),
        same_pools_on_demand_usd=_r(node_usd(report.repriced_lines(frozenset({"spot"})), spot_only=True)),
        saving_ratio=_ratio(saving, spot_usd + saving), spot_discount=p.factor("spot_discount"))

    a = c.autoscaling
    room = [g for g in groups if int(g.properties["ScalingConfig"].get("MinSize", 0))
            < int(g.properties["ScalingConfig"].get("MaxSize", 0))]
    found = [*a.hpas, *a.metrics_server, *a.node_autoscaler,
             *(of(g, f"ScalingConfig min {g.properties['ScalingConfig']['MinSize']} < max "
                     f"{g.properties['ScalingConfig']['MaxSize']}") for g in room)]
    missing = a.missing() + ([] if room else ["no node group whose minimum is below its maximum"])
    saving = without("autoscaling")
    out["pod_and_node_autoscaling"] = _entry(
        a.pods and a.nodes and bool(room), found, missing, saving,
        "HPAs (with metrics-server) keep pods between min and max replicas and the Cluster Autoscaler keeps the "
        "node groups between min and max; priced at their desired size, against every group held at its maximum "
        "(the peak provisioned all the time, which is how the rules price a group nothing scales)",
        nodes_at_desired_usd=_r(nodes_usd),
        nodes_static_at_max_usd=_r(node_usd(report.repriced_lines(frozenset({"autoscaling"})))),
        saving_ratio=_ratio(saving, nodes_usd + saving))

    schedule = c.schedule_evidence()
    saving = without("schedule")
    awake = c.awake_fraction()
    out["working_hours_schedule"] = _entry(
        bool(schedule), schedule, [] if schedule else ["no schedule resizing a node group"], saving,
        "node groups, their root volumes, custom metrics, idle queue polling and the Aurora floor priced for the "
        "hours the schedule leaves nodes running, against the same around the clock",
        hours_with_nodes_per_week=round(awake * 168, 1), share_of_hours_with_nodes=round(awake, 4))

    out["aurora_capacity"] = _aurora(report, c, without)

    tables = of_type("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
    on_demand_tables = [t for t in tables if t.properties.get("BillingMode") == "PAY_PER_REQUEST"]
    on_demand_write_hour = 3600 * p.usd("dynamodb.ondemand_write_million") / 1e6
    on_demand_read_hour = 3600 * p.usd("dynamodb.ondemand_read_million") / 1e6
    u = report.usage
    peak = p.factor("dynamodb_peak_to_average")
    seconds = h * 3600
    wcu = math.ceil(u.dynamodb_write_units_per_month / seconds * peak)
    rcu = math.ceil(u.dynamodb_read_units_per_month / seconds * peak)
    provisioned = (wcu * p.usd("dynamodb.wcu_hour") + rcu * p.usd("dynamodb.rcu_hour")) * h
    on_demand = (u.dynamodb_write_units_per_month * p.usd("dynamodb.ondemand_write_million")
                 + u.dynamodb_read_units_per_month * p.usd("dynamodb.ondemand_read_million")) / 1e6
    out["dynamodb_on_demand_vs_provisioned"] = _entry(
        bool(on_demand_tables), [of(t, "BillingMode PAY_PER_REQUEST") for t in on_demand_tables],
        [] if on_demand_tables else ["no table in on-demand mode"], provisioned - on_demand,
        f"on-demand requests against provisioned capacity sized for the peak hour ({peak:g}x the monthly average "
        "rate), no auto scaling (negative: on demand costs more at this usage, bought for never throttling on a "
        "wrong forecast); break-even = WCU-hour price / cost of the same hour fully used on demand",
        break_even_write_utilisation=round(p.usd("dynamodb.wcu_hour") / on_demand_write_hour, 4),
        break_even_read_utilisation=round(p.usd("dynamodb.rcu_hour") / on_demand_read_hour, 4),
        this_env_on_demand_requests_usd=_r(on_demand), this_env_provisioned_for_peak_usd=_r(provisioned),
        provisioned_wcu=wcu, provisioned_rcu=rcu)

    out["nat_vs_interface_endpoints"] = _endpoints(report, of_type)

    groups_logs = of_type("AWS::Logs::LogGroup")
    storage = [x for x in lines if x.type == "AWS::Logs::LogGroup" and x.price_keys == ("logs.storage_gb_month",)]
    stored_usd = sum(x.monthly_usd for x in storage)
    horizon = p.factor("never_expire_horizon_days")
    never = sum(x.extras["ingested_gib"] * horizon / (365 / 12) * p.factor("log_storage_compression")
                * x.unit_usd for x in storage)
    ingest = sum(x.monthly_usd for x in lines if x.type == "AWS::Logs::LogGroup" and x not in storage)
    filters = [x for x in lines if x.type == "AWS::Logs::MetricFilter"]
    expiring = [g for g in groups_logs if g.properties.get("RetentionInDays")]
    retention_days = sorted({int(g.properties["RetentionInDays"]) for g in expiring})
    out["log_retention_and_metric_filters"] = _entry(
        bool(expiring),
        [of(g, f"RetentionInDays {g.properties['RetentionInDays']}") for g in expiring],
        [f"{len(groups_logs) - len(expiring)} log group(s) never expire"] if len(expiring) < len(groups_logs)
        else [], never - stored_usd,
        "storage at the configured retention against log groups that never expire (priced at their 2-year volume)",
        retention_days=retention_days, ingestion_usd=_r(ingest), storage_at_configured_retention_usd=_r(stored_usd),
        storage_if_never_expire_usd=_r(never), metric_filters=len(filters),
        metric_filter_metrics_usd=_r(sum(x.monthly_usd for x in filters)))

    pools = of_type("AWS::Cognito::UserPool")
    tiers = [str(x.properties.get("UserPoolTier", "ESSENTIALS")) for x in pools]
    saving = without("user_pool_tier")
    out["user_pool_tier"] = _entry(
        any(t != "PLUS" for t in tiers), [of(x, f"UserPoolTier {t}") for x, t in zip(pools, tiers, strict=True)],
        [] if any(t != "PLUS" for t in tiers) else ["every user pool is on Plus"], saving,
        "MAUs priced at the pool's tier against Plus (threat protection)", tiers=tiers)

    boards = of_type("AWS::CloudWatch::Dashboard")
    full_set = len(SERVICES) + 2  # one per service, the platform's, the overview
    saving = max(0, full_set - len(boards)) * p.usd("cloudwatch.dashboard_month") if boards else 0.0
    out["fewer_dashboards"] = _entry(
        0 < len(boards) < full_set, [of(b, "dashboard") for b in boards],
        [] if 0 < len(boards) < full_set else [f"{len(boards)} dashboard(s): not fewer than the {full_set} of the "
                                               "full set"], saving,
        f"{len(boards)} dashboard(s) against the full set of {full_set} (one per service, the platform's, the "
        "overview), $3 each", dashboards=len(boards), full_set=full_set)
    return out


def _aurora(report: CostReport, c: Context, without: Callable[..., float]) -> dict[str, Any]:
    p, h, lines = report.prices, report.prices.hours_per_month, report.lines
    floor = [x for x in lines if x.extras.get("role") == "floor"]
    clusters = [r for r in report.resources if r.type == "AWS::RDS::DBCluster"
                and "ServerlessV2ScalingConfiguration" in r.properties]
    found: list[Evidence] = []
    missing: list[str] = []
    for cluster in clusters:
        scaling = cluster.properties["ServerlessV2ScalingConfiguration"]
        setting = f"MinCapacity {scaling.get('MinCapacity')}, MaxCapacity {scaling.get('MaxCapacity')}"
        if "SecondsUntilAutoPause" in scaling:
            setting += f", SecondsUntilAutoPause {scaling['SecondsUntilAutoPause']}"
        found.append(of(cluster, setting))
        if float(scaling.get("MinCapacity", 0.5)) == 0:
            missing += pause_blockers(cluster, c)
    found += c.schedule_evidence() if any(x.extras.get("pauses") for x in floor) else []
    pool = _orders_pool_evidence(report.resources)
    if pool is not None and any(x.extras.get("pauses") for x in floor):
        found.append(pool)
    floor_usd = sum(x.monthly_usd for x in floor)
    at_ceiling = sum(x.extras["max_acu"] * h * x.unit_usd for x in floor)
    compute = sum(x.monthly_usd for x in lines if x.extras.get("role") in ("floor", "above-floor"))
    pauses = any(x.extras.get("pauses") for x in floor)
    pause_saving = without("auto_pause")
    how = ("compute = the minimum capacity x 730 h per instance (the floor, paid even when idle) plus the assumed "
           "ACU-hours above it; an instance at minimum 0 that can pause (SecondsUntilAutoPause set, nothing in the "
           "way) runs at 0.5 ACU only in the hours some node runs: with no pod there is no connection")
    if pauses:
        how += (f". Inside working hours it pauses too whenever dev is idle: {IDLE_CONNECTION_TEST} shows the orders "
                "pools closing idle connections; that is not priced (the floor counts every hour a node runs)")
    if not clusters:
        missing.append("no Aurora Serverless v2 cluster")
    # Against the same instances held at their maximum capacity all month (capacity provisioned for the peak).
    return _entry(
        bool(clusters), found, missing, at_ceiling - compute, how + "; the saving is against every instance held "
        "at its maximum capacity all month",
        instances=len(floor), min_acu=[x.extras["min_acu"] for x in floor], pauses=pauses,
        auto_pause_saving_usd=_r(pause_saving) if pauses else 0.0,
        running_hours=[round(x.extras.get("running_hours", h), 1) for x in floor], floor_usd=_r(floor_usd),
        compute_usd=_r(compute), each_half_acu_of_min_per_instance_usd=_r(0.5 * h * p.usd(
            "aurora.serverless_v2_acu_hour")), compute_if_held_at_max_usd=_r(at_ceiling))


def _orders_pool_evidence(resources: list[Resource]) -> Evidence | None:
    """The orders Deployments' pool and sweep settings, where their manifest sets them."""
    for r in resources:
        if r.type != evidence.KUBERNETES_RESOURCE:
            continue
        for m in evidence.manifests(r):
            if m.get("kind") != "Deployment":
                continue
            env = {e.get("name"): e.get("value") for c in m.get("spec", {}).get("template", {}).get(
                "spec", {}).get("containers", []) for e in c.get("env", [])}
            if POOL_IDLE_ENV in env:
                return of(r, f"Deployment {m['metadata']['name']}: {POOL_IDLE_ENV}={env[POOL_IDLE_ENV]}"
                             + (f", {SWEEP_ENV}={env[SWEEP_ENV]}" if SWEEP_ENV in env else ""))
    return None


def _endpoints(report: CostReport, of_type: Callable[..., list[Resource]]) -> dict[str, Any]:
    p, h, u = report.prices, report.prices.hours_per_month, report.usage
    nat_gb, ep_gb = p.usd("vpc.nat_gateway_gb"), p.usd("vpc.interface_endpoint_gb")
    interfaces = [e for e in of_type("AWS::EC2::VPCEndpoint") if e.properties.get("VpcEndpointType") == "Interface"]
    nats = of_type("AWS::EC2::NatGateway")
    per_endpoint = 3 * h * p.usd("vpc.interface_endpoint_az_hour")
    endpoint_lines: list[Line] = [x for x in report.lines if x.extras.get("azs")]
    ep_fixed = sum(x.monthly_usd for x in endpoint_lines)
    found = [of(n, "NAT gateway") for n in nats]
    found += [of(e, f"interface endpoint in {len(e.properties.get('SubnetIds', []))} subnet(s)") for e in interfaces]
    if nats and not interfaces:
        found.append(Evidence(nats[0].stack, nats[0].logical_id, nats[0].type,
                              "no interface endpoint: the NAT carries the AWS API traffic"))
    # Without endpoints, the saving is measured against the smallest set a private cluster would otherwise run
    # (image pulls and pod credentials) in three zones, less the NAT data their traffic costs instead. With
    # endpoints there is no saving to claim: they are bought to keep AWS API calls off the NAT.
    through_nat = u.endpoint_processed_gib * nat_gb
    nat_serves = bool(nats) and not interfaces
    saving = (len(MINIMAL_ENDPOINTS) * per_endpoint + u.endpoint_processed_gib * ep_gb - through_nat) \
        if nat_serves else 0.0
    return _entry(
        nat_serves, found, [] if nat_serves else ["interface endpoints carry the AWS API traffic" if nats
                                                  else "no NAT gateway"], saving,
        "an interface endpoint costs its hours in each zone plus $0.01/GB; the NAT charges $0.048/GB for the same "
        "traffic: below the break-even volume an endpoint costs more than the NAT data it saves. With no endpoint, "
        f"the saving is against the {len(MINIMAL_ENDPOINTS)} a private cluster needs most "
        f"({', '.join(MINIMAL_ENDPOINTS)}) in 3 zones",
        endpoint_3_az_monthly_usd=_r(per_endpoint),
        break_even_gib_per_endpoint_per_month=round(per_endpoint / (nat_gb - ep_gb), 1),
        interface_endpoints=len(interfaces), endpoints_hourly_usd=_r(ep_fixed),
        endpoint_traffic_gib=u.endpoint_processed_gib,
        endpoint_traffic_usd=_r(u.endpoint_processed_gib * ep_gb) if interfaces else 0.0,
        same_traffic_through_nat_usd=_r(through_nat), nat_gateways=len(nats),
        nat_gateway_hourly_usd_each=_r(h * p.usd("vpc.nat_gateway_hour")))
