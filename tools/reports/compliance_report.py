"""`make compliance`: per environment and nag pack, a Markdown report an auditor can read, with the CSV and JSON
behind it, under cdk.out/compliance/. Each environment is synthesized (all packs) into its own assembly first."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from config.environments import ENVIRONMENTS, load
from policies.nag import PACKS
from policies.report import Finding, read_findings
from stacks.platform import build_app

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "cdk.out" / "compliance"


def synthesize(env: str) -> Path:
    assembly = OUT / env / "assembly"
    app, _ = build_app(load(env), outdir=str(assembly))
    app.synth()
    return assembly / "validation-report.json"


def write_pack(env: str, pack: str, findings: list[Finding]) -> Path:
    folder = OUT / env
    folder.mkdir(parents=True, exist_ok=True)
    slug = pack.replace(".", "-").lower()
    rows = sorted(findings, key=lambda f: (f.acknowledged, f.rule, f.path))
    (folder / f"{slug}.json").write_text(json.dumps([asdict(f) for f in rows], indent=2) + "\n")
    with (folder / f"{slug}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["status", "rule", "resource", "acknowledged_at", "reason"])
        for f in rows:
            writer.writerow(["acknowledged" if f.acknowledged else "OPEN", f.rule, f.path, f.acknowledged_at or "",
                             f.reason or ""])
    open_ = [f for f in rows if not f.acknowledged]
    acked = [f for f in rows if f.acknowledged]
    per_rule = Counter(f.rule.split("[")[0] for f in rows)
    lines = [
        f"# {pack}: {env}",
        "",
        f"Synthesized templates of `{env}` checked by cdk-nag's {pack} pack.",
        "",
        f"- unacknowledged findings: **{len(open_)}**",
        f"- acknowledged findings: {len(acked)} ({len({f.path for f in acked})} resources)",
        "",
        "## Findings",
        "",
    ]
    lines += ["None." if not open_ else "| rule | resource | description |\n|---|---|---|"]
    lines += [f"| `{f.rule}` | `{f.path}` | {f.description} |" for f in open_]
    lines += ["", "## Acknowledgements", "", "| finding | resource | reason |", "|---|---|---|"]
    lines += [f"| `{f.rule}` | `{f.path}` | {f.reason} |" for f in acked]
    lines += ["", "## Counts per rule", "", "| rule | findings |", "|---|---|"]
    lines += [f"| `{rule}` | {count} |" for rule, count in sorted(per_rule.items())]
    path = folder / f"{slug}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str]) -> int:
    envs = argv or list(ENVIRONMENTS)
    open_total = 0
    for env in envs:
        findings = read_findings(synthesize(env))
        for pack in PACKS:
            subset = [f for f in findings if f.pack == pack]
            path = write_pack(env, pack, subset)
            open_count = sum(1 for f in subset if not f.acknowledged)
            open_total += open_count
            print(f"{env:<8} {pack:<16} open {open_count:>3}  acknowledged {len(subset) - open_count:>3}  "
                  f"{path.relative_to(ROOT)}")
    return 1 if open_total else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
