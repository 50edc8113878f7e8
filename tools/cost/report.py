"""Reads a cloud assembly, prices it and writes `cost.md` / `cost.json`, including the figure of each strategy."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.environment import UsageAssumptions, as_dict
from tools.cost.prices import PriceTable
from tools.cost.rules import Line, Resource, free_reason, price_resources


def read_assembly(outdir: Path) -> list[Resource]:
    """Every resource of every CloudFormation stack in a synthesized cloud assembly (read from its manifest)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    resources: list[Resource] = []
    for name, artifact in sorted(manifest["artifacts"].items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        resources.extend(read_template(name, template))
    return resources


def read_template(stack: str, template: dict[str, Any]) -> list[Resource]:
    return [Resource(stack, logical_id, r["Type"], r.get("Properties", {}))
            for logical_id, r in template.get("Resources", {}).items()]


@dataclass
class CostReport:
    name: str
    usage: UsageAssumptions
    prices: PriceTable
    lines: list[Line]
    free: dict[str, int]
    stacks: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        return sum(line.monthly_usd for line in self.lines)

    def by_stack(self) -> dict[str, float]:
        out: dict[str, float] = dict.fromkeys(self.stacks, 0.0)
        for line in self.lines:
            out[line.stack] = out.get(line.stack, 0.0) + line.monthly_usd
        return dict(sorted(out.items()))

    def by_type(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.type] = out.get(line.type, 0.0) + line.monthly_usd
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def strategies(self) -> dict[str, dict[str, Any]]:
        return strategies(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.name,
            "region": self.prices.region,
            "currency": "USD",
            "hours_per_month": self.prices.hours_per_month,
            "prices_transcribed": self.prices.transcribed,
            "prices_note": self.prices.note,
            "total_monthly_usd": round(self.total, 2),
            "stacks": {name: {"monthly_usd": round(total, 2),
                              "lines": [x.as_dict() for x in self.lines if x.stack == name]}
                       for name, total in self.by_stack().items()},
            "by_type": {k: round(v, 2) for k, v in self.by_type().items()},
            "free_resources": {t: {"count": n, "reason": free_reason(t)} for t, n in sorted(self.free.items())},
            "usage": as_dict(self.usage),
            "factors": {k: {"value": v, "note": self.prices.factor_notes[k]} for k, v in self.prices.factors.items()},
            "strategies": self.strategies(),
        }


def price_assembly(name: str, outdir: Path, usage: UsageAssumptions, prices: PriceTable) -> CostReport:
    resources = read_assembly(outdir)
    lines, free = price_resources(resources, usage, prices)
    return CostReport(name, usage, prices, lines, free, tuple(sorted({r.stack for r in resources})))


def _r(x: float) -> float:
    return round(x, 2)


def _ratio(saved: float, base: float) -> float:
    return round(saved / base, 4) if base else 0.0


def strategies(report: CostReport) -> dict[str, dict[str, Any]]:
    """Each resource-management strategy's figure for this environment, measured on its own templates."""
    p, h, lines = report.prices, report.prices.hours_per_month, report.lines
    out: dict[str, dict[str, Any]] = {}

    nodes = [x for x in lines if x.type == "AWS::EKS::Nodegroup" and "on_demand_unit_usd" in x.extras]
    actual = sum(x.monthly_usd for x in nodes)
    x86 = sum(x.quantity * x.extras["x86_on_demand_unit_usd"] * x.extras["factor"] for x in nodes
              if x.extras["x86_on_demand_unit_usd"] is not None)
    graviton = sum(x.monthly_usd for x in nodes if x.extras["x86_on_demand_unit_usd"] is not None)
    out["graviton_vs_x86"] = {
        "graviton_nodes_usd": _r(graviton), "same_pools_on_x86_usd": _r(x86), "saving_usd": _r(x86 - graviton),
        "saving_ratio": _ratio(x86 - graviton, x86),
        "how": "each Graviton pool re-priced with its same-generation x86 type (prices.json graviton_x86_equivalent),"
               " same purchase option and size"}

    spot = [x for x in nodes if x.extras["capacity"] == "SPOT"]
    spot_usd = sum(x.monthly_usd for x in spot)
    spot_od = sum(x.quantity * x.extras["on_demand_unit_usd"] for x in spot)
    out["spot"] = {"spot_pools_usd": _r(spot_usd), "same_pools_on_demand_usd": _r(spot_od),
                   "saving_usd": _r(spot_od - spot_usd), "saving_ratio": _ratio(spot_od - spot_usd, spot_od),
                   "all_nodes_usd": _r(actual), "spot_discount": p.factor("spot_discount")}

    at_max = sum(x.extras["max"] * h * x.unit_usd for x in nodes)
    out["node_autoscaling"] = {
        "nodes_at_desired_usd": _r(actual), "nodes_static_at_max_usd": _r(at_max),
        "saving_usd": _r(at_max - actual), "saving_ratio": _ratio(at_max - actual, at_max),
        "how": "node groups priced at their desired size versus provisioned statically for their max size; "
               "the HPA keeps pods between min and max replicas and Cluster Autoscaler / Karpenter follow them"}

    floor = [x for x in lines if x.extras.get("role") == "floor"]
    floor_usd = sum(x.monthly_usd for x in floor)
    at_ceiling = sum(x.extras["max_acu"] * h * x.unit_usd for x in floor)
    half_acu = 0.5 * h * p.usd("aurora.serverless_v2_acu_hour")
    aurora_total = sum(x.monthly_usd for x in lines if x.extras.get("role") in ("floor", "above-floor"))
    out["aurora_min_capacity"] = {
        "instances": len(floor), "min_acu": [x.extras["min_acu"] for x in floor],
        "floor_usd": _r(floor_usd), "compute_usd": _r(aurora_total),
        "each_half_acu_of_min_per_instance_usd": _r(half_acu),
        "compute_if_held_at_max_usd": _r(at_ceiling), "saving_vs_max_usd": _r(at_ceiling - aurora_total)}

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
    out["dynamodb_on_demand_vs_provisioned"] = {
        "break_even_write_utilisation": round(p.usd("dynamodb.wcu_hour") / on_demand_write_hour, 4),
        "break_even_read_utilisation": round(p.usd("dynamodb.rcu_hour") / on_demand_read_hour, 4),
        "this_env_on_demand_requests_usd": _r(on_demand),
        "this_env_provisioned_for_peak_usd": _r(provisioned), "provisioned_wcu": wcu, "provisioned_rcu": rcu,
        "how": f"provisioned sized for the peak hour ({peak:g}x the monthly average rate), no auto scaling; "
               "break-even = WCU-hour price / cost of the same hour fully used on demand"}

    nat_gb = p.usd("vpc.nat_gateway_gb")
    ep_gb = p.usd("vpc.interface_endpoint_gb")
    endpoints = [x for x in lines if x.extras.get("azs")]
    per_endpoint = 3 * h * p.usd("vpc.interface_endpoint_az_hour")
    ep_fixed = sum(x.monthly_usd for x in endpoints)
    out["nat_vs_interface_endpoints"] = {
        "endpoint_3_az_monthly_usd": _r(per_endpoint),
        "break_even_gib_per_endpoint_per_month": round(per_endpoint / (nat_gb - ep_gb), 1),
        "interface_endpoints": len(endpoints), "endpoints_hourly_usd": _r(ep_fixed),
        "endpoint_traffic_gib": u.endpoint_processed_gib,
        "endpoint_traffic_usd": _r(u.endpoint_processed_gib * ep_gb) if endpoints else 0.0,
        "same_traffic_through_nat_usd": _r(u.endpoint_processed_gib * nat_gb),
        "nat_gateways": sum(1 for x in lines if x.type == "AWS::EC2::NatGateway" and "hours" in x.item),
        "nat_gateway_hourly_usd_each": _r(h * p.usd("vpc.nat_gateway_hour"))}

    storage = [x for x in lines if x.type == "AWS::Logs::LogGroup" and x.price_keys == ("logs.storage_gb_month",)]
    stored_usd = sum(x.monthly_usd for x in storage)
    horizon = p.factor("never_expire_horizon_days")
    never = sum(x.extras["ingested_gib"] * horizon / (365 / 12) * p.factor("log_storage_compression")
                * x.unit_usd for x in storage)
    ingest = sum(x.monthly_usd for x in lines if x.type == "AWS::Logs::LogGroup" and x not in storage)
    filters = [x for x in lines if x.type == "AWS::Logs::MetricFilter"]
    out["log_retention_and_metric_filters"] = {
        "ingestion_usd": _r(ingest), "storage_at_configured_retention_usd": _r(stored_usd),
        "storage_if_never_expire_usd": _r(never), "saving_usd": _r(never - stored_usd),
        "metric_filters": len(filters), "metric_filter_metrics_usd": _r(sum(x.monthly_usd for x in filters))}
    return out


def _usd(x: float) -> str:
    return f"${x:,.2f}"


def to_markdown(report: CostReport) -> str:
    out = [f"# Estimated monthly cost: {report.name}", "",
           f"**{_usd(report.total)} per month** ({report.prices.region}, list prices, "
           f"{report.prices.hours_per_month} h/month). Offline estimate from the synthesized templates, the price "
           "table `tools/cost/prices.json` and the usage assumptions below.", "",
           f"> {report.prices.note}", "", "## Per stack", "", "| stack | monthly USD |", "|---|---:|"]
    out += [f"| {name} | {_usd(total)} |" for name, total in report.by_stack().items()]
    out += [f"| **total** | **{_usd(report.total)}** |", "", "## Per resource type", "",
            "| type | monthly USD |", "|---|---:|"]
    out += [f"| {t} | {_usd(v)} |" for t, v in report.by_type().items()]
    out += ["", "## Lines", "", "| stack | resource | item | quantity | unit | unit USD | monthly USD |",
            "|---|---|---|---:|---|---:|---:|"]
    for x in sorted(report.lines, key=lambda x: (x.stack, -x.monthly_usd)):
        out.append(f"| {x.stack} | {x.logical_id} | {x.item} | {x.quantity:,.3f} | {x.unit} | {x.unit_usd:g} | "
                   f"{_usd(x.monthly_usd)} |")
    out += ["", "## Strategies", ""]
    for name, fig in report.strategies().items():
        out.append(f"- **{name}**: " + ", ".join(f"{k}={v}" for k, v in fig.items() if k != "how"))
        if "how" in fig:
            out.append(f"  - {fig['how']}")
    out += ["", "## Free resources (listed explicitly, no charge)", "", "| type | count | why |", "|---|---:|---|"]
    out += [f"| {t} | {n} | {free_reason(t)} |" for t, n in sorted(report.free.items())]
    out += ["", "## Usage assumptions", "", "| field | value |", "|---|---:|"]
    out += [f"| {k} | {v:,} |" for k, v in as_dict(report.usage).items()]
    out += ["", "## Factors", "", "| factor | value | note |", "|---|---:|---|"]
    out += [f"| {k} | {v:g} | {report.prices.factor_notes[k]} |" for k, v in report.prices.factors.items()]
    return "\n".join(out) + "\n"


def write(report: CostReport, outdir: Path) -> tuple[Path, Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    md, js = outdir / "cost.md", outdir / "cost.json"
    md.write_text(to_markdown(report))
    js.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return md, js
