"""Environment contract of the orders service (API and worker read the same variables)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from common import aws
from common.config import optional_int, require_or_exit
from common.env_contract import ORDERS, REQUIRED

TOPIC = "TOPIC_ARN_ORDER_EVENTS"
PAYMENT_TOPIC = "TOPIC_ARN_PAYMENT_EVENTS"  # published: what the payment provider's webhook reports
# The secret the payment provider signs its webhook requests with (a generated string in Secrets Manager).
PAYMENT_WEBHOOK_SECRET_ARN = "PAYMENT_WEBHOOK_SECRET_ARN"  # noqa: S105 - an environment variable's name
RESERVATIONS_QUEUE = "QUEUE_URL_INVENTORY_RESERVATIONS"  # produced: ReserveStock / ReleaseStock commands
INVENTORY_EVENTS_QUEUE = "QUEUE_URL_ORDERS_INVENTORY_EVENTS"
PAYMENT_EVENTS_QUEUE = "QUEUE_URL_ORDERS_PAYMENT_EVENTS"
PRODUCT_EVENTS_QUEUE = "QUEUE_URL_ORDERS_PRODUCT_EVENTS"
USER_EVENTS_QUEUE = "QUEUE_URL_ORDERS_USER_EVENTS"
QUEUES: tuple[str, ...] = (INVENTORY_EVENTS_QUEUE, PAYMENT_EVENTS_QUEUE, PRODUCT_EVENTS_QUEUE, USER_EVENTS_QUEUE)
# Calls to products' internal routes: a client-credentials token from the pool's token endpoint (full URL) for
# orders' own app client, whose {"client_id", "client_secret"} is in the Secrets Manager secret.
PRODUCTS_TOKEN_URL = "PRODUCTS_TOKEN_URL"  # noqa: S105 - an environment variable's name
SERVICE_CLIENT_SECRET_ARN = "SERVICE_CLIENT_SECRET_ARN"  # noqa: S105 - an environment variable's name
# Deadlines of the open order states, the sweeper that enforces them and the pool (config.environment.OrdersConfig).
ORDERS_ENV: tuple[str, ...] = ORDERS
PENDING_DEADLINE, PAYMENT_DEADLINE, SWEEP_INTERVAL, POOL_MAX_IDLE = ORDERS
# Scope requested for those calls (config/topology.py SERVICE_CALLS; a test checks it).
PRODUCTS_SCOPE = "products/read"
# The names, declared once for the service, the Services stack and the local platform (common/env_contract.py).
REQUIRED_ENV: tuple[str, ...] = REQUIRED["orders"]


@dataclass(frozen=True)
class Settings:
    db_secret_arn: str
    products_url: str
    products_token_url: str
    service_client_secret_arn: str
    payment_webhook_secret_arn: str
    destinations: dict[str, str]  # env var name -> topic ARN / queue URL (published to)
    queue_urls: dict[str, str]  # env var name -> queue URL (consumed)
    jwks_url: str
    issuer: str
    client_id: str
    sqs_wait_seconds: int
    db_pool_max: int
    db_pool_max_idle_seconds: int
    pending_deadline_seconds: int
    payment_deadline_seconds: int
    sweep_interval_seconds: int

    def conninfo(self) -> str:
        """Connection string from the Secrets Manager secret (the JSON document RDS generates)."""
        raw = aws.client("secretsmanager").get_secret_value(SecretId=self.db_secret_arn)["SecretString"]
        s = json.loads(raw)
        return psycopg_conninfo(s)


def psycopg_conninfo(secret: dict[str, object]) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(
        host=str(secret["host"]), port=str(secret.get("port", 5432)), user=str(secret["username"]),
        password=str(secret["password"]), dbname=str(secret.get("dbname", "postgres")),
        connect_timeout="5", application_name="orders",
    )


def load() -> Settings:
    env = require_or_exit(REQUIRED_ENV)
    return Settings(
        db_secret_arn=env["DB_SECRET_ARN"],
        products_url=env["PRODUCTS_URL"].rstrip("/"),
        products_token_url=env[PRODUCTS_TOKEN_URL],
        service_client_secret_arn=env[SERVICE_CLIENT_SECRET_ARN],
        payment_webhook_secret_arn=env[PAYMENT_WEBHOOK_SECRET_ARN],
        destinations={name: env[name] for name in (TOPIC, RESERVATIONS_QUEUE, PAYMENT_TOPIC)},
        queue_urls={name: env[name] for name in QUEUES},
        jwks_url=env["COGNITO_JWKS_URL"],
        issuer=env["COGNITO_ISSUER"],
        client_id=env["COGNITO_CLIENT_ID"],
        sqs_wait_seconds=optional_int("SQS_WAIT_SECONDS", 20),
        db_pool_max=optional_int("DB_POOL_MAX", 10),
        db_pool_max_idle_seconds=optional_int(POOL_MAX_IDLE, 60),
        pending_deadline_seconds=optional_int(PENDING_DEADLINE, 900),
        payment_deadline_seconds=optional_int(PAYMENT_DEADLINE, 1800),
        sweep_interval_seconds=optional_int(SWEEP_INTERVAL, 60),
    )
