"""The test session's synthesized assemblies: each environment synthesized once (the fixtures of tests/conftest.py
hand these out), read back as plain JSON.

Once per what: per ``make test`` or ``make check`` run when ``TEST_ASSEMBLIES`` names a directory (the Makefile
empties it at the start of the run, so every stage and every parallel worker reads the same assemblies and none is
stale); else per test run, shared by the run's pytest-xdist workers (a directory named after the run's id); else per
process. The first process that needs an environment synthesizes it under a file lock; the others wait for it and
read what it wrote.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from config.environment import EnvironmentConfig
from config.environments import load
from stacks.platform import build_app
from tools.assembly import Assembly

ROOT = Path(__file__).resolve().parent.parent
DONE = ".synthesized"  # written last: an assembly without it is an interrupted synth and is made again


@dataclass(frozen=True)
class Synthesized:
    """One environment's cloud assembly on disk, read back as plain JSON."""

    config: EnvironmentConfig
    outdir: Path

    def stack_names(self) -> list[str]:
        return sorted(Assembly(self.outdir).stacks)

    def template_json(self, part: str) -> dict[str, Any]:
        return json.loads((self.outdir / f"{self.config.stack_prefix}-{part}.template.json").read_text())

    def template(self, part: str) -> Template:
        return Template.from_json(self.template_json(part))

    def resources(self, part: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json(part)["Resources"].items() if v["Type"] == type_}

    def all_templates(self) -> dict[str, dict[str, Any]]:
        return {name: stack.template for name, stack in sorted(Assembly(self.outdir).stacks.items())}

    def termination_protection(self, part: str) -> bool:
        """The stack's termination protection as the assembly's manifest gives it to `cdk deploy`."""
        return Assembly(self.outdir).stacks[f"{self.config.stack_prefix}-{part}"].termination_protection

    def validation_report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return data


def shared_dir() -> Path | None:
    """Where this run's assemblies are shared between processes, if anywhere (see the module's docstring)."""
    if os.environ.get("TEST_ASSEMBLIES"):
        return Path(os.environ["TEST_ASSEMBLIES"]).resolve()
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    return Path(tempfile.gettempdir()) / f"cdk-test-assemblies-{run}" if run else None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@cache
def synthesize(env: str) -> Synthesized:
    config = load(env)
    shared = shared_dir()
    if shared is None:
        outdir = Path(tempfile.mkdtemp(prefix=f"cdk.out.{env}."))
        build_app(config, outdir=str(outdir))[0].synth()
        return Synthesized(config=config, outdir=outdir)
    outdir = shared / env
    with _locked(shared / f"{env}.lock"):
        if not (outdir / DONE).exists():
            build_app(config, outdir=str(outdir))[0].synth()
            (outdir / DONE).write_text(env)
    return Synthesized(config=config, outdir=outdir)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.synthesis ENV ...``: synthesize the environments into TEST_ASSEMBLIES now, one process
    each, side by side (the Makefile's test stages, before their workers start and would wait on each other's
    locks). Nothing to do without TEST_ASSEMBLIES: a test run then synthesizes for itself."""
    import subprocess
    import sys

    envs = sys.argv[1:] if argv is None else argv
    if not os.environ.get("TEST_ASSEMBLIES"):
        return 0
    # argv: this interpreter synthesizing one of our environments
    procs = [subprocess.Popen([sys.executable, "-c", f"from tests.synthesis import synthesize; synthesize({e!r})"],
                              cwd=ROOT) for e in envs]
    return max((p.wait() for p in procs), default=0)


if __name__ == "__main__":
    raise SystemExit(main())
