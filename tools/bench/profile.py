"""Sampling profiles of the benchmark's processes (`make bench-services PROFILE=1`), with py-spy.

py-spy samples a running process from outside (no code of the service changes, no tracer in the process), at
``RATE`` samples a second, without pausing it (``--nonblocking``), and only the thread holding the GIL (``--gil``):
a thread waiting on a socket, a lock or the event loop's select is not sampled, so a profile's samples are where the
process ran Python (C code that releases the GIL, such as libpq's network waits, is not counted). Each process gets a
collapsed-stack file (``<name>.txt``: one ``frame;frame;... count`` line per distinct stack, py-spy's ``raw``
format, readable by flamegraph.pl and speedscope) and a summary: the functions holding the most samples, inclusive
(the function and what it called) and self, as shares of the process's samples.

    python -m tools.bench.profile cdk.out/bench/profile/orders-api.txt [--top 25] [--focus NAME]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

RATE = 250


@dataclass
class Recording:
    name: str
    path: Path
    proc: subprocess.Popen[bytes]


class Profiler:
    """py-spy recorders attached to running processes until :meth:`stop`."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.recordings: list[Recording] = []
        self.py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    def attach(self, name: str, pid: int) -> None:
        self.outdir.mkdir(parents=True, exist_ok=True)
        path = self.outdir / f"{name}.txt"
        log = (self.outdir / f"{name}.py-spy.log").open("wb")
        # argv: the venv's py-spy with our own arguments
        argv = [self.py_spy, "record", "--pid", str(pid), "--rate", str(RATE), "--nonblocking", "--gil",
                "--format", "raw", "--function", "--output", str(path)]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self.recordings.append(Recording(name, path, proc))

    def stop(self) -> list[Path]:
        """Stop every recorder (SIGINT: py-spy writes its file) and return the files written."""
        for r in self.recordings:
            if r.proc.poll() is None:
                r.proc.send_signal(signal.SIGINT)
        written = []
        for r in self.recordings:
            try:
                r.proc.wait(60)
            except subprocess.TimeoutExpired:
                r.proc.kill()
            if r.path.exists():
                written.append(r.path)
        return written


def read(path: Path) -> list[tuple[list[str], int]]:
    """The stacks of a collapsed-stack file, outermost frame first, with their sample counts."""
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def summarize(path: Path, top: int = 25, focus: str | None = None) -> list[str]:
    """Lines: the ``top`` functions by inclusive and by self share of the samples (of the stacks through ``focus``,
    a substring of a frame, when given)."""
    stacks = read(path)
    if focus:
        stacks = [(s, n) for s, n in stacks if any(focus in f for f in s)]
    total = sum(n for _, n in stacks)
    if not total:
        return [f"{path.name}: no samples"]
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, n in stacks:
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    out = [f"{path.stem}: {total} samples at {RATE}/s" + (f" through {focus!r}" if focus else "")]
    out.append("  inclusive:")
    out += [f"    {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    out.append("  self:")
    out += [f"    {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--focus", help="only the stacks through a frame containing this text")
    args = parser.parse_args(argv)
    for path in args.files:
        print("\n".join(summarize(path, args.top, args.focus)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
