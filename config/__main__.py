"""`python -m config ENV`: validate one environment's config; a user error prints one line and exits 2."""

from __future__ import annotations

import sys

from config.environment import ConfigError
from config.environments import load


def main(argv: list[str]) -> int:
    try:
        cfg = load(argv[0] if argv else None)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"config ok: {cfg.name} ({cfg.account}/{cfg.region})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
