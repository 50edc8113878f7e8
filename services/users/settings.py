"""Environment contract of the users service (API and worker read the same variables)."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import require_or_exit
from common.env_contract import REQUIRED

TOPIC = "TOPIC_ARN_USER_EVENTS"
# The names, declared once for the service, the Services stack and the local platform (common/env_contract.py).
REQUIRED_ENV: tuple[str, ...] = REQUIRED["users"]


@dataclass(frozen=True)
class Settings:
    table: str
    topic_arn: str
    jwks_url: str
    issuer: str
    client_id: str


def load() -> Settings:
    env = require_or_exit(REQUIRED_ENV)
    return Settings(
        table=env["TABLE_NAME"],
        topic_arn=env[TOPIC],
        jwks_url=env["COGNITO_JWKS_URL"],
        issuer=env["COGNITO_ISSUER"],
        client_id=env["COGNITO_CLIENT_ID"],
    )
