"""Environment contract of the inventory service (API and worker read the same variables)."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import optional_int, require_or_exit
from common.env_contract import REQUIRED

TOPIC = "TOPIC_ARN_INVENTORY_EVENTS"
RESERVATIONS_QUEUE = "QUEUE_URL_INVENTORY_RESERVATIONS"
PRODUCT_EVENTS_QUEUE = "QUEUE_URL_INVENTORY_PRODUCT_EVENTS"
# The names, declared once for the service, the Services stack and the local platform (common/env_contract.py).
REQUIRED_ENV: tuple[str, ...] = REQUIRED["inventory"]


@dataclass(frozen=True)
class Settings:
    table: str
    topic_arn: str
    reservations_queue_url: str
    product_events_queue_url: str
    jwks_url: str
    issuer: str
    client_id: str
    sqs_wait_seconds: int


def load() -> Settings:
    env = require_or_exit(REQUIRED_ENV)
    return Settings(
        table=env["TABLE_NAME"],
        topic_arn=env[TOPIC],
        reservations_queue_url=env[RESERVATIONS_QUEUE],
        product_events_queue_url=env[PRODUCT_EVENTS_QUEUE],
        jwks_url=env["COGNITO_JWKS_URL"],
        issuer=env["COGNITO_ISSUER"],
        client_id=env["COGNITO_CLIENT_ID"],
        sqs_wait_seconds=optional_int("SQS_WAIT_SECONDS", 20),
    )
