"""`python -m tools.reports.cost.diff --base REF` (`make cost-diff BASE=REF`): what a change does to each environment's
bill, and whether every environment stays within its budget.

Synthesizes ``REF`` (a temporary ``git worktree``, its own ``app.py``, offline) and the working tree for every
environment, prices both sides with the working tree's rules and price table (so a delta is what the templates'
change costs) and each side's own usage assumptions (so a change of the assumptions shows too), and writes
``cdk.out/cost-diff.md`` and ``cdk.out/cost-diff.json``: per environment the totals, the delta and the budget; per
stack the delta; the lines that changed, largest first. Exits 1 when an environment's head total exceeds the monthly
budget its config sets (``monthly_budget_usd``): :func:`budget_gate` is a function of the priced totals and the
configs alone, so it is tested without synthesizing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

from config.environment import EnvironmentConfig, UsageAssumptions
from config.environments import ENVIRONMENTS
from tools.reports.cost import prices as price_table
from tools.reports.cost.report import CostReport, price_assembly
from tools.reports.cost.rules import Line
from tools.reports.cost.synth import synthesize
from tools.reports.diff_report import worktree

ROOT = Path(__file__).resolve().parents[3]
MAX_LINES_PER_ENV = 25
# Reads the base's usage assumptions with the base's own config code.
_USAGE_OF_BASE = ("import json, sys; from config.environments import load; from config.environment import as_dict; "
                  "print(json.dumps(as_dict(load(sys.argv[1]).usage)))")


@dataclass(frozen=True)
class OverBudget:
    env: str
    total_usd: float
    budget_usd: float

    def __str__(self) -> str:
        return (f"{self.env}: ${self.total_usd:,.2f} a month is over its budget of ${self.budget_usd:,.2f} "
                f"(config {self.env}.monthly_budget_usd) by ${self.total_usd - self.budget_usd:,.2f}")


def budget_gate(totals: Mapping[str, float], configs: Mapping[str, EnvironmentConfig]) -> list[OverBudget]:
    """Every environment whose priced monthly total exceeds the budget its config sets."""
    return [OverBudget(env, total, configs[env].monthly_budget_usd) for env, total in sorted(totals.items())
            if round(total, 2) > configs[env].monthly_budget_usd]


@dataclass(frozen=True)
class LineChange:
    stack: str
    logical_id: str
    item: str
    base_usd: float
    head_usd: float

    @property
    def delta(self) -> float:
        return self.head_usd - self.base_usd


def _key(line: Line) -> tuple[str, str, tuple[str, ...], str]:
    """The same line on both sides: its resource, its prices and what it is (the item's label before its details,
    with figures taken out), whatever the figures in its description."""
    label = line.item.split(":")[0] if ":" in line.item else re.sub(r"\d[\d,.]*", "#", line.item)
    return line.stack, line.logical_id, line.price_keys, str(line.extras.get("role", label))


def line_changes(base: list[Line], head: list[Line]) -> list[LineChange]:
    """Lines added, removed or repriced (by a cent or more), largest change first."""
    old: dict[tuple[str, str, tuple[str, ...], str], tuple[str, float]] = {}
    new: dict[tuple[str, str, tuple[str, ...], str], tuple[str, float]] = {}
    for side, lines in ((old, base), (new, head)):
        for x in lines:
            item, usd = side.get(_key(x), (x.item, 0.0))
            side[_key(x)] = (x.item, usd + x.monthly_usd)
    out = []
    for key in set(old) | set(new):
        item = new.get(key, old.get(key, ("", 0.0)))[0]
        change = LineChange(key[0], key[1], item, old.get(key, ("", 0.0))[1], new.get(key, ("", 0.0))[1])
        if abs(change.delta) >= 0.005:
            out.append(change)
    return sorted(out, key=lambda c: (-abs(c.delta), c.stack, c.logical_id, c.item))


@dataclass
class EnvDiff:
    env: str
    base: CostReport | None
    head: CostReport
    budget_usd: float
    note: str = ""

    @property
    def base_total(self) -> float:
        return self.base.total if self.base else 0.0

    @property
    def delta(self) -> float:
        return self.head.total - self.base_total

    def stacks(self) -> dict[str, tuple[float, float]]:
        old = self.base.by_stack() if self.base else {}
        new = self.head.by_stack()
        return {s: (old.get(s, 0.0), new.get(s, 0.0)) for s in sorted(set(old) | set(new))}

    def changes(self) -> list[LineChange]:
        return line_changes(self.base.lines if self.base else [], self.head.lines)


def _usd(x: float, signed: bool = False) -> str:
    return f"{'+' if signed and x > 0 else '-' if x < 0 else ''}${abs(x):,.2f}"


def render(diffs: list[EnvDiff], *, base: str, head: str, over: list[OverBudget], today: date) -> str:
    table = price_table.load()
    lines = [f"## Cost diff: `{base}` → `{head}`", "",
             f"Monthly estimate per environment (`make cost-diff`), offline: both sides priced with the head's rules "
             f"and price table (list prices as of {table.as_of.isoformat()}), each side with its own usage "
             "assumptions.", ""]
    if over:
        lines += ["### :x: Over budget", "", *[f"- {o}" for o in over], "",
                  "Lower the cost, or raise the budget in `config/environments.py` with the reason in the same "
                  "pull request.", ""]
    lines += ["| environment | base | head | delta | budget | |", "|---|---:|---:|---:|---:|---|"]
    for d in diffs:
        state = ":x: over" if any(o.env == d.env for o in over) else ":white_check_mark: within"
        lines.append(f"| {d.env} | {_usd(d.base_total) if d.base else 'n/a'} | {_usd(d.head.total)} | "
                     f"{_usd(d.delta, signed=True)} | {_usd(d.budget_usd)} | {state} |")
    lines.append("")
    for d in diffs:
        changed = d.changes()
        lines += [f"### {d.env}: {_usd(d.delta, signed=True)} a month", ""]
        if d.note:
            lines += [d.note, ""]
        if not changed:
            lines += ["No line changed.", ""]
            continue
        lines += ["| stack | base | head | delta |", "|---|---:|---:|---:|"]
        lines += [f"| {s} | {_usd(a)} | {_usd(b)} | {_usd(b - a, signed=True)} |"
                  for s, (a, b) in d.stacks().items() if abs(b - a) >= 0.005]
        lines += ["", "| stack | resource | line | base | head | delta |", "|---|---|---|---:|---:|---:|"]
        lines += [f"| {c.stack} | `{c.logical_id}` | {c.item} | {_usd(c.base_usd)} | {_usd(c.head_usd)} | "
                  f"{_usd(c.delta, signed=True)} |" for c in changed[:MAX_LINES_PER_ENV]]
        if len(changed) > MAX_LINES_PER_ENV:
            rest = sum(c.delta for c in changed[MAX_LINES_PER_ENV:])
            lines.append(f"| | | {len(changed) - MAX_LINES_PER_ENV} more line(s) | | | {_usd(rest, signed=True)} |")
        lines.append("")
    stale = price_table.staleness_note(table, today)
    if stale:
        lines += [f":warning: {stale}", ""]
    return "\n".join(lines) + "\n"


def _synth_base(checkout: Path, env: str, out: Path) -> subprocess.Popen[str]:
    """The base's own entry point, as the CDK CLI runs it (output directory and context through the environment)."""
    environ = {**os.environ, "CDK_OUTDIR": str(out), "CDK_CONTEXT_JSON": json.dumps({"env": env}),
               "AWS_EC2_METADATA_DISABLED": "true"}
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "app.py"], cwd=checkout, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _usage_of_base(checkout: Path, env: str) -> UsageAssumptions | None:
    proc = subprocess.run([sys.executable, "-c", _USAGE_OF_BASE, env], cwd=checkout,  # noqa: S603 - fixed argv
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout)
    names = {f.name for f in fields(UsageAssumptions)}
    return UsageAssumptions(**data) if set(data) == names else None


def run(repo: Path, base_ref: str, out_md: Path, work: Path, today: date) -> tuple[list[EnvDiff], list[OverBudget]]:
    prices = price_table.load()
    configs = {name: ENVIRONMENTS[name].validate() for name in ENVIRONMENTS}
    diffs: list[EnvDiff] = []
    with worktree(repo, base_ref) as (checkout, sha):
        procs = {env: _synth_base(checkout, env, work / "base" / env) for env in configs}
        heads = {env: synthesize(env, work / "head" / env) for env in configs}
        for env, proc in procs.items():
            output, _ = proc.communicate()
            head = price_assembly(env, heads[env], configs[env].usage, prices, today)
            if proc.returncode != 0:
                note = f"The base did not synthesize for {env}: {output.strip().splitlines()[-1:]}"
                diffs.append(EnvDiff(env, None, head, configs[env].monthly_budget_usd, note))
                continue
            usage = _usage_of_base(checkout, env)
            note = "" if usage is not None else ("The base's usage assumptions could not be read with the head's "
                                                 "fields: the base is priced with the head's.")
            base = price_assembly(env, work / "base" / env, usage or configs[env].usage, prices, today)
            diffs.append(EnvDiff(env, base, head, configs[env].monthly_budget_usd, note))
        base_desc = f"{base_ref} ({sha[:12]})"
    over = budget_gate({d.env: d.head.total for d in diffs}, configs)
    head_desc = _head_description(repo)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(render(diffs, base=base_desc, head=head_desc, over=over, today=today))
    out_md.with_suffix(".json").write_text(json.dumps({
        "base": base_desc, "head": head_desc, "prices_as_of": prices.as_of.isoformat(),
        "environments": {d.env: {
            "base_usd": round(d.base_total, 2) if d.base else None, "head_usd": round(d.head.total, 2),
            "delta_usd": round(d.delta, 2), "budget_usd": d.budget_usd,
            "over_budget": any(o.env == d.env for o in over), "note": d.note,
            "stacks": {s: {"base_usd": round(a, 2), "head_usd": round(b, 2)} for s, (a, b) in d.stacks().items()},
            "lines": [{"stack": c.stack, "logical_id": c.logical_id, "item": c.item, "base_usd": round(c.base_usd, 2),
                       "head_usd": round(c.head_usd, 2), "delta_usd": round(c.delta, 2)} for c in d.changes()],
        } for d in diffs},
    }, indent=2) + "\n")
    return diffs, over


def _head_description(repo: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,  # noqa: S603,S607
                              check=False).stdout.strip()

    sha = git("rev-parse", "--short=12", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return (sha or "working tree") + (" + uncommitted changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.reports.cost.diff", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref to compare against, e.g. origin/main or HEAD~1")
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose working tree is the head")
    parser.add_argument("--out", type=Path, default=None, help="Markdown report (default REPO/cdk.out/cost-diff.md)")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    with tempfile.TemporaryDirectory(prefix="cost-diff.") as tmp:
        diffs, over = run(repo, args.base, (args.out or repo / "cdk.out" / "cost-diff.md").resolve(), Path(tmp),
                          date.today())
    for d in diffs:
        print(f"{d.env}: {'n/a' if d.base is None else f'${d.base_total:,.2f}'} -> ${d.head.total:,.2f} "
              f"({_usd(d.delta, signed=True)}), budget ${d.budget_usd:,.2f}")
    print(f"cost-diff -> {args.out or repo / 'cdk.out' / 'cost-diff.md'}")
    for o in over:
        print(f"cost-diff: {o}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
