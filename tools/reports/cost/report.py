"""Reads a cloud assembly, prices it and writes `cost.md` / `cost.json`, including the figure of each strategy."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from config.environment import UsageAssumptions, as_dict
from tools.assembly import Assembly, Resource, template_resources
from tools.reports.cost.prices import PriceTable, stale_entries, staleness_note
from tools.reports.cost.rules import Line, free_reason, price_resources
from tools.reports.cost.strategies import strategies


def read_assembly(outdir: Path) -> list[Resource]:
    """Every resource of every CloudFormation stack in a synthesized cloud assembly, stack by stack in name order."""
    assembly = Assembly(outdir)
    return [r for name in sorted(assembly.stacks) for r in assembly.stacks[name].resources.values()]


def read_template(stack: str, template: dict[str, Any]) -> list[Resource]:
    return list(template_resources(stack, template).values())


# Usage fields that describe the shape of the work, not its amount: they stay put when the work doubles.
SHAPE_FIELDS = ("custom_metrics", "api_kib_per_request")
GROWTH_FACTORS = (1, 2, 4)


def scaled_usage(usage: UsageAssumptions, factor: float) -> UsageAssumptions:
    """The same environment doing ``factor`` times the work: every amount scales, the shape fields do not."""
    changes: dict[str, Any] = {}
    for f in fields(usage):
        value = getattr(usage, f.name)
        if f.name not in SHAPE_FIELDS:
            changes[f.name] = type(value)(value * factor) if isinstance(value, int) else value * factor
    return replace(usage, **changes)


@dataclass
class CostReport:
    name: str
    usage: UsageAssumptions
    prices: PriceTable
    lines: list[Line]
    free: dict[str, int]
    stacks: tuple[str, ...] = ()
    resources: list[Resource] = field(default_factory=list)
    # The day the report is made: only for saying how old the price table is (tools/reports/cost/prices.py).
    today: date | None = None
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def total(self) -> float:
        return sum(line.monthly_usd for line in self.lines)

    def by_stack(self) -> dict[str, float]:
        out: dict[str, float] = dict.fromkeys(self.stacks, 0.0)
        for line in self.lines:
            out[line.stack] = out.get(line.stack, 0.0) + line.monthly_usd
        return dict(sorted(out.items()))

    def by_type(self) -> dict[str, float]:
        return by_type(self.lines)

    def repriced(self, without: frozenset[str] = frozenset(), factor: float = 1.0) -> float:
        """The total with strategies taken away and/or ``factor`` times the work."""
        return sum(x.monthly_usd for x in self.repriced_lines(without, factor))

    def repriced_lines(self, without: frozenset[str] = frozenset(), factor: float = 1.0) -> list[Line]:
        key = (without, factor)
        if key not in self._memo:
            self._memo[key] = price_resources(self.resources, scaled_usage(self.usage, factor), self.prices,
                                              without, load=factor)[0]
        return list(self._memo[key])

    def strategies(self) -> dict[str, dict[str, Any]]:
        if "strategies" not in self._memo:
            self._memo["strategies"] = strategies(self)
        return dict(self._memo["strategies"])

    def units(self) -> dict[str, Any]:
        """The bill per unit of work at the usage assumptions and at 2x and 4x of them, and which lines (by resource
        type) stay fixed and which grow with the work."""
        totals, types = {}, {}
        for k in GROWTH_FACTORS:
            lines = self.lines if k == 1 else self.repriced_lines(factor=k)
            totals[k] = sum(x.monthly_usd for x in lines)
            types[k] = by_type(lines)
        u = self.usage
        per_orders = {k: totals[k] / (u.orders_per_month * k / 1000) for k in GROWTH_FACTORS} \
            if u.orders_per_month else {}
        per_requests = {k: totals[k] / (u.api_requests_per_month * k / 1e6) for k in GROWTH_FACTORS} \
            if u.api_requests_per_month else {}
        rows: dict[str, dict[str, Any]] = {}
        fixed = 0.0
        # Ties in name order: the union is a set, whose order changes from one process to the next.
        for t in sorted(set().union(*(set(v) for v in types.values())), key=lambda t: (-types[1].get(t, 0.0), t)):
            usd = [types[k].get(t, 0.0) for k in GROWTH_FACTORS]
            kind = "fixed" if abs(usd[1] - usd[0]) < 0.005 else "scales"
            fixed += usd[0] if kind == "fixed" else 0.0
            rows[t] = {"usd": [_r(x) for x in usd], "kind": kind,
                       "growth_at_2x": round(usd[1] / usd[0], 3) if usd[0] else None}
        return {
            "factors": list(GROWTH_FACTORS),
            "orders_per_month": [u.orders_per_month * k for k in GROWTH_FACTORS],
            "api_requests_per_month": [u.api_requests_per_month * k for k in GROWTH_FACTORS],
            "total_usd": [_r(totals[k]) for k in GROWTH_FACTORS],
            "per_1000_orders_usd": [round(v, 4) for v in per_orders.values()],
            "per_million_requests_usd": [round(v, 4) for v in per_requests.values()],
            "marginal_per_1000_orders_usd_1x_to_2x": round((totals[2] - totals[1]) / (u.orders_per_month / 1000), 4)
            if u.orders_per_month else None,
            "marginal_per_million_requests_usd_1x_to_2x": round(
                (totals[2] - totals[1]) / (u.api_requests_per_month / 1e6), 4) if u.api_requests_per_month else None,
            "fixed_usd": _r(fixed),
            "scaling_usd": [_r(totals[k] - fixed) for k in GROWTH_FACTORS],
            "by_type": rows,
            "how": "every usage amount times 1, 2 and 4 (not the shape: custom metrics, request size); the part of "
                   "each autoscaled node group above its minimum follows the work; a type is fixed when doubling "
                   "the work leaves it unchanged",
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.name,
            "region": self.prices.region,
            "currency": "USD",
            "hours_per_month": self.prices.hours_per_month,
            "prices_transcribed": self.prices.transcribed,
            "prices_as_of": self.prices.as_of.isoformat(),
            "prices_note": self.prices.note,
            "prices_stale_today": stale_entries(self.prices, self.today) if self.today else {},
            "total_monthly_usd": round(self.total, 2),
            "stacks": {name: {"monthly_usd": round(total, 2),
                              "lines": [x.as_dict() for x in self.lines if x.stack == name]}
                       for name, total in self.by_stack().items()},
            "by_type": {k: round(v, 2) for k, v in self.by_type().items()},
            "free_resources": {t: {"count": n, "reason": free_reason(t)} for t, n in sorted(self.free.items())},
            "usage": as_dict(self.usage),
            "factors": {k: {"value": v, "note": self.prices.factor_notes[k]} for k, v in self.prices.factors.items()},
            "strategies": self.strategies(),
            "units": self.units(),
        }


def by_type(lines: list[Line]) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in lines:
        out[line.type] = out.get(line.type, 0.0) + line.monthly_usd
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def price_assembly(name: str, outdir: Path, usage: UsageAssumptions, prices: PriceTable,
                   today: date | None = None) -> CostReport:
    resources = read_assembly(outdir)
    lines, free = price_resources(resources, usage, prices)
    return CostReport(name, usage, prices, lines, free, tuple(sorted({r.stack for r in resources})), resources,
                      today)


def _r(x: float) -> float:
    return round(x, 2)


def _usd(x: float) -> str:
    return f"${x:,.2f}"


def to_markdown(report: CostReport) -> str:
    out = [f"# Estimated monthly cost: {report.name}", "",
           f"**{_usd(report.total)} per month** ({report.prices.region}, list prices as of "
           f"{report.prices.as_of.isoformat()}, {report.prices.hours_per_month} h/month). Offline estimate from the "
           "synthesized templates, the price table `tools/reports/cost/prices.json` and the usage assumptions below.",
           "", f"> {report.prices.note}", ""]
    note = staleness_note(report.prices, report.today) if report.today else None
    if note:
        out += [f":warning: {note}", ""]
    out += ["## Per stack", "", "| stack | monthly USD |", "|---|---:|"]
    out += [f"| {name} | {_usd(total)} |" for name, total in report.by_stack().items()]
    out += [f"| **total** | **{_usd(report.total)}** |", "", "## Savings and what produces them", "",
            "A saving is priced only when the templates hold what produces it; each figure is the difference to the "
            "same templates priced without it.", "",
            "| strategy | priced | monthly saving | evidence in the templates |", "|---|---|---:|---|"]
    for name, fig in report.strategies().items():
        shown = "<br>".join(fig["evidence"][:6]) + (f"<br>... {len(fig['evidence']) - 6} more"
                                                     if len(fig["evidence"]) > 6 else "")
        if fig.get("missing"):
            shown += ("<br>" if shown else "") + "**missing:** " + "; ".join(fig["missing"])
        out.append(f"| {name} | {'yes' if fig['priced'] else 'no'} | {_usd(fig['saving_usd'])} | {shown or '-'} |")
    units = report.units()
    out += ["", "## Per unit of work", "",
            "| work | " + " | ".join(f"{k}x" for k in units["factors"]) + " |",
            "|---|" + "---:|" * len(units["factors"]),
            "| orders a month | " + " | ".join(f"{v:,}" for v in units["orders_per_month"]) + " |",
            "| API requests a month | " + " | ".join(f"{v:,}" for v in units["api_requests_per_month"]) + " |",
            "| monthly total | " + " | ".join(_usd(v) for v in units["total_usd"]) + " |",
            "| per 1,000 orders | " + " | ".join(_usd(v) for v in units["per_1000_orders_usd"]) + " |",
            "| per million API requests | " + " | ".join(_usd(v) for v in units["per_million_requests_usd"]) + " |",
            "", f"Fixed lines: {_usd(units['fixed_usd'])} a month whatever the work; the rest grows with it "
            f"(1x→2x: {_usd(units['marginal_per_1000_orders_usd_1x_to_2x'] or 0)} per extra 1,000 orders). "
            f"How: {units['how']}.", "",
            "| resource type | " + " | ".join(f"{k}x" for k in units["factors"]) + " | kind |",
            "|---|" + "---:|" * len(units["factors"]) + "---|"]
    for t, row in units["by_type"].items():
        grow = f" (x{row['growth_at_2x']:g} at 2x)" if row["kind"] == "scales" and row["growth_at_2x"] else ""
        out.append(f"| {t} | " + " | ".join(_usd(v) for v in row["usd"]) + f" | {row['kind']}{grow} |")
    out += ["", "## Per resource type", "", "| type | monthly USD |", "|---|---:|"]
    out += [f"| {t} | {_usd(v)} |" for t, v in report.by_type().items()]
    out += ["", "## Lines", "", "| stack | resource | item | quantity | unit | unit USD | monthly USD |",
            "|---|---|---|---:|---|---:|---:|"]
    for x in sorted(report.lines, key=lambda x: (x.stack, -x.monthly_usd)):
        out.append(f"| {x.stack} | {x.logical_id} | {x.item} | {x.quantity:,.3f} | {x.unit} | {x.unit_usd:g} | "
                   f"{_usd(x.monthly_usd)} |")
    out += ["", "## Strategy figures", ""]
    for name, fig in report.strategies().items():
        out.append(f"- **{name}**: " + ", ".join(f"{k}={v}" for k, v in fig.items()
                                                  if k not in ("how", "evidence", "missing")))
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
