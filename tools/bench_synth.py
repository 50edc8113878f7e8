"""`make bench-synth`: wall seconds of `cdk synth` per environment beside an empty CDK app through the same CLI on
the same machine (the floor: Node, jsii and Python start-up), and the ratio of each to the floor. Prints figures
only; nothing here asserts a time."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"
RUNS = 3
EMPTY_APP = """import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
"""


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603 - fixed argv
    return time.perf_counter() - start


def median_of(args: list[str], cwd: Path) -> float:
    return statistics.median(timed(args, cwd) for _ in range(RUNS))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty"
        empty.mkdir()
        (empty / "app.py").write_text(EMPTY_APP)
        (empty / "cdk.json").write_text(f'{{"app": "{sys.executable} app.py"}}\n')
        floor = median_of([str(CDK), "synth", "--quiet", "--output", str(Path(tmp) / "empty.out")], empty)
        print(f"{'app':<12}{'seconds (median of ' + str(RUNS) + ')':>26}{'x floor':>10}")
        print(f"{'empty app':<12}{floor:>26.2f}{1.0:>10.2f}")
        for env in ("dev", "staging", "prod"):
            out = Path(tmp) / f"{env}.out"
            seconds = median_of([str(CDK), "synth", "--quiet", "-c", f"env={env}", "--output", str(out)], ROOT)
            print(f"{env:<12}{seconds:>26.2f}{seconds / floor:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
