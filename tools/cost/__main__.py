"""`python -m tools.cost ENV` (dev, staging, prod or seed-literal): synthesize ENV, write cost.md and cost.json.

    python -m tools.cost prod                    # -> cdk.out/cost.md, cdk.out/cost.json
    python -m tools.cost prod --assembly cdk.out # price an existing assembly instead of synthesizing
    python -m tools.cost --all                   # every env + seed-literal -> cdk.out/cost/<env>/, summary.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from config.environment import ConfigError
from tools.cost import prices as price_table
from tools.cost.report import CostReport, price_assembly, write
from tools.cost.rules import UnpricedOptionError, UnpricedResourceError
from tools.cost.synth import NAMES, synthesize, usage_of


def run(name: str, out: Path, assembly: Path | None = None) -> CostReport:
    outdir = assembly or synthesize(name, out / "cost" / name / "assembly")
    return price_assembly(name, outdir, usage_of(name), price_table.load())


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
        data["prod_over_seed_literal"] = round(prod / seed, 4)
        lines += ["", f"prod / seed-literal = {prod / seed:.3f} (saving {1 - prod / seed:.1%} on the same usage)"]
    if prod and seed:
        # The seed has no WAF, no customer managed keys and a default-tier (Essentials) user pool: those are
        # security additions, not resource-management strategies, so the like-for-like ratio leaves them out.
        extra = ("AWS::Cognito::UserPool", "AWS::WAFv2::WebACL", "AWS::KMS::Key")
        p_like = sum(v for k, v in reports["prod"].by_type().items() if k not in extra)
        s_like = sum(v for k, v in reports["seed-literal"].by_type().items() if k not in extra)
        data["like_for_like"] = {"excluded_types": list(extra), "prod_usd": round(p_like, 2),
                                 "seed_literal_usd": round(s_like, 2), "ratio": round(p_like / s_like, 4)}
        lines += [f"like for like (without {', '.join(extra)}): prod ${p_like:,.2f} / seed-literal "
                  f"${s_like:,.2f} = {p_like / s_like:.3f}"]
    if prod and dev:
        data["dev_over_prod"] = round(dev / prod, 4)
        lines += [f"dev / prod = {dev / prod:.3f}"]
    lines += ["", "## Strategies", ""]
    for n, r in reports.items():
        lines.append(f"### {n}")
        for key, fig in r.strategies().items():
            lines.append(f"- {key}: " + ", ".join(f"{k}={v}" for k, v in fig.items() if k != "how"))
        lines.append("")
    return "\n".join(lines) + "\n", data


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__,
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
