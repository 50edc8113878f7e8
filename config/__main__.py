"""`python -m config ENV`: validate one environment's config; a user error prints one line and exits 2.

`python -m config --write-context` rewrites cdk.context.json from the configs' explicit availability zones, so that
synth never looks zones up in an account (tests check the committed file matches).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from config.environment import ConfigError
from config.environments import ENVIRONMENTS, load

CONTEXT_FILE = Path(__file__).resolve().parent.parent / "cdk.context.json"


def expected_context() -> dict[str, list[str]]:
    return {f"availability-zones:account={c.account}:region={c.region}": list(c.network.availability_zones)
            for c in ENVIRONMENTS.values()}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write-context"]:
        CONTEXT_FILE.write_text(json.dumps(expected_context(), indent=2) + "\n")
        print(f"wrote {CONTEXT_FILE.name}")
        return 0
    try:
        cfg = load(argv[0] if argv else None)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"config ok: {cfg.name} ({cfg.account}/{cfg.region})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
