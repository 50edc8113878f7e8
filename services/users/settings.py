"""Environment contract of the users service (API and worker read the same variables)."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import optional_int, require_or_exit
from common.env_contract import REQUIRED

TOPIC = "TOPIC_ARN_USER_EVENTS"
ORDER_EVENTS_QUEUE = "QUEUE_URL_USERS_ORDER_EVENTS"
EMAIL_EVENTS_QUEUE = "QUEUE_URL_USERS_EMAIL_EVENTS"
# The names, declared once for the service, the Services stack and the local platform (common/env_contract.py).
REQUIRED_ENV: tuple[str, ...] = REQUIRED["users"]


@dataclass(frozen=True)
class Settings:
    table: str
    topic_arn: str
    jwks_url: str
    issuer: str
    client_id: str
    order_events_queue_url: str
    email_events_queue_url: str
    email_sender: str
    email_sender_name: str
    email_configuration_set: str
    sqs_wait_seconds: int


def load() -> Settings:
    env = require_or_exit(REQUIRED_ENV)
    return Settings(
        table=env["TABLE_NAME"],
        topic_arn=env[TOPIC],
        jwks_url=env["COGNITO_JWKS_URL"],
        issuer=env["COGNITO_ISSUER"],
        client_id=env["COGNITO_CLIENT_ID"],
        order_events_queue_url=env[ORDER_EVENTS_QUEUE],
        email_events_queue_url=env[EMAIL_EVENTS_QUEUE],
        email_sender=env["EMAIL_SENDER"],
        email_sender_name=env["EMAIL_SENDER_NAME"],
        email_configuration_set=env["EMAIL_CONFIGURATION_SET"],
        sqs_wait_seconds=optional_int("SQS_WAIT_SECONDS", 20),
    )
