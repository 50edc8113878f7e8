"""End-to-end check of the seed's three workflows (`make e2e`): bring the local platform up, run each workflow over
HTTP, check the final states, tear down. Exit status 0 only if all three passed.

    python -m tools.e2e [--mode containers|processes] [--assembly cdk.out]

``--mode containers`` runs the services' Deployments in Docker from the images `make images` built from the
assembly's staged assets (`make e2e MODE=containers`, part of `make test`); ``processes`` (default) runs the same
commands and environment as local processes."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

from tools.local_platform import LocalPlatform, add_mode_arguments
from tools.workflows import WORKFLOWS, Client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.e2e", description=__doc__)
    add_mode_arguments(parser)
    args = parser.parse_args(argv)
    failures = 0
    started_all = time.monotonic()
    with LocalPlatform(free_ports=True, mode=args.mode, assembly=args.assembly, name_prefix="e2e") as platform:
        print(f"platform up in {time.monotonic() - started_all:.1f} s\n{platform.describe()}", flush=True)
        client = Client(platform)
        for name, workflow in WORKFLOWS.items():
            started = time.monotonic()
            try:
                result = workflow(client)
            except Exception:
                failures += 1
                print(f"FAIL {name} ({time.monotonic() - started:.1f}s)\n{traceback.format_exc()}", flush=True)
                for proc in ("orders-worker", "inventory-worker", "orders-api"):
                    print(f"--- {proc} log tail ---\n{platform.log_tail(proc)}", flush=True)
            else:
                print(f"PASS {name} ({time.monotonic() - started:.1f}s) {json.dumps(result)}", flush=True)
    print(f"{len(WORKFLOWS) - failures}/{len(WORKFLOWS)} workflows passed ({args.mode}, "
          f"{time.monotonic() - started_all:.1f} s in all, start and teardown included)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
