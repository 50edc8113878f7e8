"""What every service reads from its environment, by the contract's names (contract/environment.py).

A service's settings are this base plus :class:`Var` / :class:`IntVar` attributes for what only it reads; ``load``
reads every name the contract derives for the service at start-up, so a missing one stops the process with one line
naming it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from contract import CONTRACT, Destination, DestinationKind, Service, env_var
from contract.environment import TABLE_NAME, required

from common.config import optional_int, require_or_exit


class Var:
    """A required variable of the service's environment, as text: ``issuer = Var("COGNITO_ISSUER")``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, settings: Any, owner: type | None = None) -> str:
        return str(settings.environ[self.name])


class IntVar(Var):
    """A required integer variable; a value that is not one stops the process with one line."""

    def __get__(self, settings: Any, owner: type | None = None) -> int:  # type: ignore[override]
        raw = str(settings.environ[self.name])
        try:
            return int(raw)
        except ValueError:
            print(f"configuration error: {self.name} must be an integer, got {raw!r}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None


@dataclass(frozen=True)
class ServiceSettings:
    service: Service
    environ: Mapping[str, str]  # every variable the contract derives for the service, all set
    sqs_wait_seconds: int

    jwks_url = Var("COGNITO_JWKS_URL")
    issuer = Var("COGNITO_ISSUER")
    client_id = Var("COGNITO_CLIENT_ID")
    cors_origin = Var("CORS_ALLOWED_ORIGIN")
    table = Var(TABLE_NAME)

    @classmethod
    def load(cls, service: Service) -> Self:
        return cls(service=service, environ=require_or_exit(required(CONTRACT, service)),
                   sqs_wait_seconds=optional_int("SQS_WAIT_SECONDS", 20))

    @property
    def destinations(self) -> dict[Destination, str]:
        """The topics the service publishes to and the queues it sends commands to: logical -> physical name."""
        out = {Destination(DestinationKind.TOPIC, t.name): self.environ[env_var("topic", t.name)]
               for t in CONTRACT.topics_published_by(self.service)}
        out.update({Destination(DestinationKind.QUEUE, q.name): self.environ[env_var("queue", q.name)]
                    for q in CONTRACT.queues_produced_by(self.service)})
        return out
