"""Environment of the orders service (API and worker read the same variables)."""

from __future__ import annotations

import json

from common import aws
from common.config import optional_int
from common.settings import IntVar, ServiceSettings, Var
from contract import CONTRACT, Service
from contract.environment import DB_SECRET_ARN, SERVICE_CLIENT_SECRET_ARN, service_url_env, token_url_env
from contract.platform import ORDERS_SETTINGS

SERVICE = Service.ORDERS
# Deadlines of the open order states, the sweeper that enforces them and the pool (config.environment.OrdersConfig).
PENDING_DEADLINE, PAYMENT_DEADLINE, SWEEP_INTERVAL, POOL_MAX_IDLE = ORDERS_SETTINGS
# Calls to products' internal routes: a client-credentials token from the pool's token endpoint (full URL) for
# orders' own app client, whose {"client_id", "client_secret"} is in the Secrets Manager secret, with this scope.
(PRODUCTS_CALL,) = CONTRACT.service(SERVICE).calls
(PRODUCTS_SCOPE,) = PRODUCTS_CALL.qualified_scopes
(PAYMENT_WEBHOOK_SECRET,) = CONTRACT.service(SERVICE).secrets


class Settings(ServiceSettings):
    db_secret_arn = Var(DB_SECRET_ARN)
    products_token_url = Var(token_url_env(PRODUCTS_CALL.service))
    service_client_secret_arn = Var(SERVICE_CLIENT_SECRET_ARN)
    # The secret the payment provider signs its webhook requests with (a generated string).
    payment_webhook_secret_arn = Var(PAYMENT_WEBHOOK_SECRET.env)
    db_pool_max_idle_seconds = IntVar(POOL_MAX_IDLE)
    pending_deadline_seconds = IntVar(PENDING_DEADLINE)
    payment_deadline_seconds = IntVar(PAYMENT_DEADLINE)
    sweep_interval_seconds = IntVar(SWEEP_INTERVAL)

    @property
    def products_url(self) -> str:
        return self.environ[service_url_env(PRODUCTS_CALL.service)].rstrip("/")

    @property
    def db_pool_max(self) -> int:
        return optional_int("DB_POOL_MAX", 10)

    def conninfo(self) -> str:
        """Connection string from the Secrets Manager secret (the JSON document RDS generates)."""
        raw = aws.client("secretsmanager").get_secret_value(SecretId=self.db_secret_arn)["SecretString"]
        return psycopg_conninfo(json.loads(raw))


def psycopg_conninfo(secret: dict[str, object]) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(
        host=str(secret["host"]), port=str(secret.get("port", 5432)), user=str(secret["username"]),
        password=str(secret["password"]), dbname=str(secret.get("dbname", "postgres")),
        connect_timeout="5", application_name="orders",
    )


def load() -> Settings:
    return Settings.load(SERVICE)
