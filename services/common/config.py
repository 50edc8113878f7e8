"""Configuration comes from environment variables only (rendered by CDK into each Deployment, or by the local platform).

A missing required variable stops the process at startup with one line naming it, instead of a stack trace later.
The image's build context is `services/` only, so the names are spelled out in each service (not imported from
config/topology.py); a test checks that they match `topology.env_var(...)` for the service's topics and queues.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping

# Read by every service: region for boto3 and the Cognito user pool its callers' JWTs come from.
COMMON_ENV: tuple[str, ...] = ("AWS_REGION", "COGNITO_ISSUER", "COGNITO_JWKS_URL", "COGNITO_CLIENT_ID")


class ConfigError(RuntimeError):
    """A required environment variable is missing or empty."""


def require(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise ConfigError(f"missing required environment variable(s): {', '.join(missing)}")
    return {n: env[n] for n in names}


def require_or_exit(names: Iterable[str]) -> dict[str, str]:
    """`require` for process entrypoints: one clear line on stderr and exit status 2."""
    try:
        return require(names)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def optional_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        print(f"configuration error: {name} must be an integer, got {raw!r}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
