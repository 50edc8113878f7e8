"""End-to-end check of the seed's three workflows (`make e2e`): bring the local platform up with the local edge in
front of it, run each workflow over HTTP through the edge with the API key (tools/workflows.py), check the final
states, tear down. Exit status 0 only if all three passed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.local_edge.assembly import synthesize
from tools.local_platform import LOCAL_ENVIRONMENT, LocalPlatform
from tools.workflows import WORKFLOWS, Client, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.e2e", description=__doc__)
    parser.add_argument("--assembly", type=Path, default=None,
                        help="cloud assembly whose Dev-Edge template the local edge enforces (default: synthesize dev)")
    args = parser.parse_args(argv)
    assembly = args.assembly or synthesize(LOCAL_ENVIRONMENT)
    with LocalPlatform(free_ports=True, edge_assembly=assembly) as platform:
        print(f"through the local edge at {platform.edge_url}", flush=True)

        def show_logs(name: str) -> None:
            for proc in ("edge", "orders-worker", "inventory-worker", "orders-api"):
                print(f"--- {proc} log tail ---\n{platform.log_tail(proc)}", flush=True)

        failures = run_all(Client(platform), on_failure=show_logs)
    print(f"{len(WORKFLOWS) - failures}/{len(WORKFLOWS)} workflows passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
