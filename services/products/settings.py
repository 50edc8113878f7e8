"""Environment contract of the products service (API and worker read the same variables)."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import optional_int, require_or_exit
from common.env_contract import REQUIRED

TOPIC = "TOPIC_ARN_PRODUCT_EVENTS"
INVENTORY_EVENTS_QUEUE = "QUEUE_URL_PRODUCTS_INVENTORY_EVENTS"  # consumed: InventoryUpdated -> availability
SERVICE_CLIENT_IDS = "SERVICE_CLIENT_IDS"  # comma-separated app client ids allowed to call the internal routes
# Resource-server scope guarding the internal routes (config/topology.py RESOURCE_SERVER_SCOPES; a test checks it).
READ_SCOPE = "products/read"
# The names, declared once for the service, the Services stack and the local platform (common/env_contract.py).
REQUIRED_ENV: tuple[str, ...] = REQUIRED["products"]


@dataclass(frozen=True)
class Settings:
    table: str
    topic_arn: str
    jwks_url: str
    issuer: str
    client_id: str
    service_client_ids: frozenset[str]
    sqs_wait_seconds: int


def parse_client_ids(raw: str) -> frozenset[str]:
    return frozenset(c.strip() for c in raw.split(",") if c.strip())


def load() -> Settings:
    env = require_or_exit(REQUIRED_ENV)
    return Settings(
        table=env["TABLE_NAME"],
        topic_arn=env[TOPIC],
        jwks_url=env["COGNITO_JWKS_URL"],
        issuer=env["COGNITO_ISSUER"],
        client_id=env["COGNITO_CLIENT_ID"],
        service_client_ids=parse_client_ids(env[SERVICE_CLIENT_IDS]),
        sqs_wait_seconds=optional_int("SQS_WAIT_SECONDS", 20),
    )
