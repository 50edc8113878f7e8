"""`python -m tools.reports.preflight [--env E ...] [--assembly DIR] [--check NAME ...] [-v]` (`make preflight`).

Synthesizes every environment once (or reads ``--assembly``), runs each check on it and prints one line per check
and environment, PASS or FAIL with a short figure, then every finding naming its resource; ``-v`` adds each check's
details (utilisation per node, per-stack deploy minutes, the teardown plan). Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from config.environment import ConfigError
from config.environments import ENVIRONMENTS
from tools.assembly import AssemblyError
from tools.reports.preflight.runner import CHECKS, load_assembly, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.reports.preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", choices=list(ENVIRONMENTS),
                        help="environment (repeatable; default: all)")
    parser.add_argument("--assembly", type=Path, help="check this cloud assembly instead of synthesizing")
    parser.add_argument("--check", action="append", choices=list(CHECKS), help="run only these checks")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each check's details too")
    args = parser.parse_args(argv)
    if args.assembly and args.env and len(args.env) > 1:
        parser.error("--assembly holds one environment: give at most one --env")
    envs: list[str | None] = list(args.env or ([None] if args.assembly else list(ENVIRONMENTS)))
    results = []
    with tempfile.TemporaryDirectory(prefix="preflight.") as workdir:
        for env in envs:
            try:
                assembly, config = load_assembly(env, args.assembly, Path(workdir))
            except (ConfigError, AssemblyError) as err:
                print(err, file=sys.stderr)
                return 2
            results += run(assembly, config, args.check)
    for r in results:
        print(r.line())
    for r in results:
        if r.findings or r.acknowledged or args.verbose:
            print(f"\n{r.check} / {r.environment}:")
        for f in r.findings:
            print(f"  - {f}")
        for a in r.acknowledged:
            print(f"  - {a}")
        if args.verbose:
            for d in r.details:
                print(f"    {d}")
    failed = [r for r in results if not r.ok]
    print(f"\npreflight: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
