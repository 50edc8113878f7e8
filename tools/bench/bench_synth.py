"""`make bench-synth`: wall seconds of `cdk synth` per environment beside an empty CDK app through the same CLI on
the same machine, and the ratio of each to that floor; prints the figures and writes cdk.out/bench/synth.json
(``<env>_vs_floor``). Nothing here asserts a time.

The floor is what every synth of this project pays whatever it holds, with the same validation settings:
  - the same CLI (node_modules' pinned cdk) and interpreter, `cdk synth --quiet`;
  - the same feature flags and context (this project's cdk.json context and cdk.context.json);
  - the same validation: the three cdk-nag packs and CloudFormation's template validation, added by
    ``policies.nag.apply_packs`` as the project's app adds them;
  - one stack holding no resource.
The environments are synthesized as `make synth` does (`cdk synth --quiet -c env=<env>`), every check included.
Runs alternate (floor, dev, staging, prod, floor, ...) so a slow moment of a shared machine hits each alike; each
figure is the median of its runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
OUT = ROOT / "cdk.out" / "bench"
RUNS = 3
ENVIRONMENTS = ("dev", "staging", "prod")
EMPTY_APP = """import json
from pathlib import Path

import aws_cdk as cdk

from policies.nag import apply_packs

root = Path({root!r})
context = {{**json.loads((root / "cdk.json").read_text())["context"],
           **json.loads((root / "cdk.context.json").read_text())}}
app = cdk.App(context=context)
apply_packs(app)
cdk.Stack(app, "Empty")
app.synth()
"""


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603 - fixed argv
                   env=env)
    return time.perf_counter() - start


def main() -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty"
        empty.mkdir()
        (empty / "app.py").write_text(EMPTY_APP.format(root=str(ROOT)))
        (empty / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}) + "\n")
        commands: dict[str, tuple[list[str], Path]] = {
            "floor": ([str(CDK), "synth", "--quiet", "--output", str(Path(tmp) / "empty.out")], empty)}
        for name in ENVIRONMENTS:
            commands[name] = ([str(CDK), "synth", "--quiet", "-c", f"env={name}", "--output",
                               str(Path(tmp) / f"{name}.out")], ROOT)
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(RUNS):
            for name, (args, cwd) in commands.items():
                seconds[name].append(timed(args, cwd, env))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    floor = medians["floor"]
    print(f"{'app':<12}{'seconds (median of ' + str(RUNS) + ')':>26}{'x floor':>10}")
    print(f"{'empty app':<12}{floor:>26.2f}{1.0:>10.2f}")
    report: dict[str, object] = {
        "command": "make bench-synth", "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
        "floor": "empty app: same CLI, cdk.json context, 3 nag packs and CloudFormation validation, one empty stack",
        "floor_seconds": round(floor, 3), "runs_seconds": {k: [round(v, 3) for v in vs] for k, vs in seconds.items()},
    }
    for name in ENVIRONMENTS:
        print(f"{name:<12}{medians[name]:>26.2f}{medians[name] / floor:>10.2f}")
        report[f"{name}_seconds"] = round(medians[name], 3)
        report[f"{name}_vs_floor"] = round(medians[name] / floor, 3)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "synth.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {(OUT / 'synth.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
