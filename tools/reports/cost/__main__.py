"""`python -m tools.reports.cost ENV` (dev, staging, prod or seed-literal): synthesize ENV, write cost.md and cost.json.

    python -m tools.reports.cost prod                    # -> cdk.out/cost.md, cdk.out/cost.json
    python -m tools.reports.cost prod --assembly cdk.out # price an existing assembly instead of synthesizing
    python -m tools.reports.cost --all                   # every env + seed-literal -> cdk.out/cost/<env>/, summary.md
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from config.environment import ConfigError
from tools.reports.cost import prices as price_table
from tools.reports.cost.report import CostReport, price_assembly, write
from tools.reports.cost.rules import UnpricedOptionError, UnpricedResourceError
from tools.reports.cost.synth import NAMES, synthesize, usage_of


def run(name: str, out: Path, assembly: Path | None = None) -> CostReport:
    outdir = assembly or synthesize(name, out / "cost" / name / "assembly")
    return price_assembly(name, outdir, usage_of(name), price_table.load(), today=date.today())


# The security baseline both shapes carry (seed_literal.py): requirements of the work, not strategies.
SECURITY_BASELINE = ("AWS::Cognito::UserPool", "AWS::WAFv2::WebACL", "AWS::KMS::Key")


def summary(reports: dict[str, CostReport]) -> tuple[str, dict[str, object]]:
    totals = {n: round(r.total, 2) for n, r in reports.items()}
    prod, seed, dev = totals.get("prod"), totals.get("seed-literal"), totals.get("dev")
    data: dict[str, object] = {"totals_monthly_usd": totals,
                               "by_stack": {n: {k: round(v, 2) for k, v in r.by_stack().items()}
                                            for n, r in reports.items()},
                               "strategies": {n: r.strategies() for n, r in reports.items()}}
    lines = ["# Monthly cost per environment", "", "| environment | monthly USD |", "|---|---:|"]
    lines += [f"| {n} | ${t:,.2f} |" for n, t in totals.items()]
    if prod and seed:
        # Like for like first: the security baseline is the same work in both shapes, so the ratio without it is
        # what the resource-management strategies buy.
        p_like = sum(v for k, v in reports["prod"].by_type().items() if k not in SECURITY_BASELINE)
        s_like = sum(v for k, v in reports["seed-literal"].by_type().items() if k not in SECURITY_BASELINE)
        data["like_for_like"] = {"excluded_types": list(SECURITY_BASELINE), "prod_usd": round(p_like, 2),
                                 "seed_literal_usd": round(s_like, 2), "ratio": round(p_like / s_like, 4)}
        data["prod_over_seed_literal"] = round(prod / seed, 4)
        lines += ["", f"**prod / seed-literal without the security baseline ({', '.join(SECURITY_BASELINE)}): "
                  f"${p_like:,.2f} / ${s_like:,.2f} = {p_like / s_like:.3f}** (saving {1 - p_like / s_like:.1%})",
                  f"prod / seed-literal overall = {prod / seed:.3f} (saving {1 - prod / seed:.1%} on the same usage)"]
    if prod and dev:
        data["dev_over_prod"] = round(dev / prod, 4)
        lines += [f"dev / prod = {dev / prod:.3f}"]
    if "prod" in reports:
        units = reports["prod"].units()
        data["prod_units"] = units
        lines += ["", "## Prod per unit of work", "", "| work | 1x | 2x | 4x |", "|---|---:|---:|---:|",
                  "| orders a month | " + " | ".join(f"{v:,}" for v in units["orders_per_month"]) + " |",
                  "| API requests a month | " + " | ".join(f"{v:,}" for v in units["api_requests_per_month"]) + " |",
                  "| monthly total | " + " | ".join(f"${v:,.2f}" for v in units["total_usd"]) + " |",
                  "| per 1,000 orders | " + " | ".join(f"${v:,.2f}" for v in units["per_1000_orders_usd"]) + " |",
                  "| per million API requests | " + " | ".join(f"${v:,.2f}" for v in units["per_million_requests_usd"])
                  + " |", "",
                  f"Fixed: ${units['fixed_usd']:,.2f} a month; doubling the work adds "
                  f"${units['marginal_per_1000_orders_usd_1x_to_2x']:,.2f} per extra 1,000 orders "
                  f"(${units['marginal_per_million_requests_usd_1x_to_2x']:,.2f} per extra million requests).", "",
                  "| resource type | 1x | 2x | 4x | kind |", "|---|---:|---:|---:|---|"]
        lines += [f"| {t} | " + " | ".join(f"${v:,.2f}" for v in row["usd"]) + f" | {row['kind']} |"
                  for t, row in units["by_type"].items()]
    lines += ["", "## Savings and their evidence", ""]
    for n, r in reports.items():
        lines.append(f"### {n}")
        for key, fig in r.strategies().items():
            missing = "; ".join(fig.get("missing", []))
            state = f"${fig['saving_usd']:,.2f}" if fig["priced"] else f"not priced: {missing}"
            lines.append(f"- {key}: {state}" + (f" (evidence: {len(fig['evidence'])} resource(s), e.g. "
                                                f"{fig['evidence'][0]})" if fig["evidence"] else ""))
        lines.append("")
    return "\n".join(lines) + "\n", data


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.reports.cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="dev", help=f"one of {', '.join(NAMES)}")
    parser.add_argument("--out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--assembly", type=Path, help="price this existing cloud assembly (no synth)")
    parser.add_argument("--all", action="store_true", help="every environment and seed-literal, plus a summary")
    args = parser.parse_args(argv)
    names = list(NAMES) if args.all else [args.env]
    for n in names:
        if n not in NAMES:
            print(f"config error: env={n!r} is invalid; allowed: {', '.join(NAMES)}", file=sys.stderr)
            return 2
    try:
        reports = {n: run(n, args.out, None if args.all else args.assembly) for n in names}
    except (UnpricedResourceError, UnpricedOptionError, price_table.MissingPriceError, ConfigError) as err:
        print(f"cost: {err}", file=sys.stderr)
        return 1
    if args.all:
        for n, r in reports.items():
            md, _ = write(r, args.out / "cost" / n)
            print(f"{n}: ${r.total:,.2f}/month -> {md}")
        text, data = summary(reports)
        (args.out / "cost" / "summary.md").write_text(text)
        (args.out / "cost" / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
        print(f"summary -> {args.out / 'cost' / 'summary.md'}")
        return 0
    report = reports[names[0]]
    md, js = write(report, args.out)
    print(f"{report.name}: ${report.total:,.2f}/month  ({md}, {js})")
    for stack, total in report.by_stack().items():
        print(f"  {stack:28s} ${total:>10,.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
