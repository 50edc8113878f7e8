"""A load test the Services stack runs on request (`make load ENV=...`, tools/ops/load_job.py): synthesized with
``-c load=<run id>:<users>:<seconds>[:allow-prod]``, the stack gains the load generator's Job for that run; the next
deploy without it removes the Job again. Parsed and checked here, so a bad request fails synth in one line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.environment import ConfigError, EnvironmentConfig

MAX_USERS = 10_000
MAX_SECONDS = 3 * 3600


@dataclass(frozen=True)
class LoadTestRun:
    run_id: str
    users: int
    seconds: int
    allow_prod: bool = False

    def context_value(self) -> str:
        return f"{self.run_id}:{self.users}:{self.seconds}" + (":allow-prod" if self.allow_prod else "")


def parse(value: object, config: EnvironmentConfig) -> LoadTestRun | None:
    """``None`` (no load test requested) or the run the context value names, for ``config``'s environment."""
    if value in (None, ""):
        return None
    match = re.fullmatch(r"([a-z0-9-]{1,40}):(\d{1,5}):(\d{1,5})(:allow-prod)?", str(value))
    if not match:
        raise ConfigError("load", value, "<run id>:<users>:<seconds>[:allow-prod], e.g. 20261128-1200:50:600")
    run = LoadTestRun(match[1], int(match[2]), int(match[3]), bool(match[4]))
    if not 1 <= run.users <= MAX_USERS:
        raise ConfigError("load.users", run.users, f"1 to {MAX_USERS}")
    if not 10 <= run.seconds <= MAX_SECONDS:
        raise ConfigError("load.seconds", run.seconds, f"10 to {MAX_SECONDS}")
    if config.name == "prod" and not run.allow_prod:
        raise ConfigError("load", value, "a prod load test only with :allow-prod (make load ALLOW_PROD=yes)")
    if not any(p.dedicated_to == LOAD_GENERATOR for p in config.cluster.node_pools):
        raise ConfigError(f"{config.name}.cluster.node_pools", [p.name for p in config.cluster.node_pools],
                          f"a pool dedicated_to={LOAD_GENERATOR!r} for the load generator to run on")
    return run


LOAD_GENERATOR = "load-generator"
