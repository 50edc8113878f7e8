"""What every service reads from its environment, by the contract's names (contract/environment.py).

A service's settings are this base plus properties for what only it reads; ``load`` reads every name the contract
derives for the service at start-up, so a missing one stops the process with one line naming it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from contract import CONTRACT, Destination, DestinationKind, Service, env_var
from contract.environment import TABLE_NAME, required

from common.config import optional_int, require_or_exit


@dataclass(frozen=True)
class ServiceSettings:
    service: Service
    environ: Mapping[str, str]  # every variable the contract derives for the service, all set
    sqs_wait_seconds: int

    @classmethod
    def load(cls, service: Service) -> Self:
        return cls(service=service, environ=require_or_exit(required(CONTRACT, service)),
                   sqs_wait_seconds=optional_int("SQS_WAIT_SECONDS", 20))

    @property
    def jwks_url(self) -> str:
        return self.environ["COGNITO_JWKS_URL"]

    @property
    def issuer(self) -> str:
        return self.environ["COGNITO_ISSUER"]

    @property
    def client_id(self) -> str:
        return self.environ["COGNITO_CLIENT_ID"]

    @property
    def table(self) -> str:
        return self.environ[TABLE_NAME]

    @property
    def destinations(self) -> dict[Destination, str]:
        """The topics the service publishes to and the queues it sends commands to: logical -> physical name."""
        out = {Destination(DestinationKind.TOPIC, t.name): self.environ[env_var("topic", t.name)]
               for t in CONTRACT.topics_published_by(self.service)}
        out.update({Destination(DestinationKind.QUEUE, q.name): self.environ[env_var("queue", q.name)]
                    for q in CONTRACT.queues_produced_by(self.service)})
        return out

    def integer(self, name: str) -> int:
        """A required integer setting; a value that is not one stops the process with one line."""
        raw = self.environ[name]
        try:
            return int(raw)
        except ValueError:
            print(f"configuration error: {name} must be an integer, got {raw!r}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
