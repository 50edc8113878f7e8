"""End-to-end check of the seed's workflows (`make e2e`): bring the local platform up with the local edge in
front of it, run each workflow over HTTP through the edge with the API key (tools/local/workflows.py), check the final
states, check every AWS call the services made against their synthesized roles (tools/local/access_proof), tear down.
Exit status 0 only if every workflow passed and no call was denied.

    python -m tools.local.e2e [--mode containers|processes] [--assembly cdk.out]

``--mode containers`` runs the services' Deployments in Docker from the images `make images` built from the
assembly's staged assets (`make e2e`, part of `make test`); ``processes`` runs the same commands and environment as
local processes (fast, for development)."""

from __future__ import annotations

import argparse
import sys
import time

from tools.local.local_platform import LocalPlatform, add_mode_arguments
from tools.local.workflows import WORKFLOWS, Client, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.e2e", description=__doc__)
    add_mode_arguments(parser)
    args = parser.parse_args(argv)
    started_all = time.monotonic()
    with LocalPlatform(free_ports=True, mode=args.mode, assembly=args.assembly, name_prefix="e2e") as platform:
        print(f"platform up in {time.monotonic() - started_all:.1f} s\n{platform.describe()}", flush=True)
        print(f"through the local edge at {platform.edge_url}", flush=True)

        def show_logs(name: str) -> None:
            for proc in ("edge", "orders-worker", "inventory-worker", "orders-api", "users-worker"):
                print(f"--- {proc} log tail ---\n{platform.log_tail(proc)}", flush=True)

        failures = run_all(Client(platform), on_failure=show_logs)
        # Every AWS call the services made, against the roles the Services stack gives them.
        proof = platform.access_proof()
        denied = proof.problems()
        print("\n".join(denied) or f"access: all {len(proof.decisions)} AWS calls of the services allowed by their "
              "synthesized roles", flush=True)
        failures += bool(denied)
    print(f"{len(WORKFLOWS) - failures}/{len(WORKFLOWS)} workflows passed ({args.mode}, "
          f"{time.monotonic() - started_all:.1f} s in all, start and teardown included)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
