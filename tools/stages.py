"""Run make targets as the stages of one job, print each stage's time, then the total (`make test`, `make check`).

    python -m tools.stages NAME TARGET [TARGET ...]

Each stage is ``make --no-print-directory TARGET`` run to completion, one after another; the first that fails stops
the job (its status is the job's). A stage ``A+B`` runs targets A and B side by side (e.g. mypy, single-threaded,
beside the tests' parallel workers) and fails if either does. A stage's line gives its wall time and the CPU it and
its children used (user and system, from the rusage of reaped children: processes the stage waited for, PostgreSQL
and the services included; what a Docker daemon does for a build or a container is the daemon's, not counted), and
the machine's load average when it ended, since on a shared machine wall time says as much about the neighbours as
about the job. The summary is also written to ``cdk.out/stages-NAME.txt``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    job, targets = args[0], args[1:]
    lines: list[str] = []
    started, cpu_started = time.monotonic(), _children_cpu()
    status = 0
    for target in targets:
        print(f"=== {job}: {target} ===", flush=True)
        t0, c0 = time.monotonic(), _children_cpu()
        # argv: make with the Makefile's own targets
        procs = [subprocess.Popen(["make", "--no-print-directory", part], cwd=ROOT)  # noqa: S603, S607
                 for part in target.split("+")]
        status = max(p.wait() for p in procs)
        wall, cpu = time.monotonic() - t0, _children_cpu() - c0
        line = (f"{target:22} {_clock(wall):>6} wall {cpu:8.1f} s CPU   load {os.getloadavg()[0]:.1f}"
                + ("" if status == 0 else f"   FAILED ({status})"))
        lines.append(line)
        print(f"=== {job}: {line} ===", flush=True)
        if status != 0:
            break
    wall, cpu = time.monotonic() - started, _children_cpu() - cpu_started
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    summary = [f"{job}: stage, wall time (m:ss), CPU of the stage and its children, 1-minute load at its end",
               *lines, f"{'total':22} {_clock(wall):>6} wall {cpu:8.1f} s CPU   load {load} (1, 5, 15 min), "
                       f"{os.cpu_count()} CPUs" + ("" if status == 0 else "   FAILED")]
    print("\n".join(summary), flush=True)
    out = ROOT / "cdk.out"
    out.mkdir(exist_ok=True)
    (out / f"stages-{job}.txt").write_text("\n".join(summary) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
