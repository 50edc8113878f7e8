"""What each service reads from its environment, by name: the one declaration of a service's configuration.

The services' settings load these names (``common.config.require``); the CDK app's Services stack checks the
environment it renders into each Deployment against them at synth, and the local platform checks the environment
it reads from the synthesized manifests at start-up; a name missing on either side, or rendered but never read,
fails with one line naming it. Pure data: the CDK app loads this file without the services' dependencies.
"""

from __future__ import annotations

# Every service: the region for boto3 and the Cognito user pool whose tokens its callers present.
COMMON: tuple[str, ...] = ("AWS_REGION", "COGNITO_ISSUER", "COGNITO_JWKS_URL", "COGNITO_CLIENT_ID")
# Read by the shared code when present (common/telemetry.py, common/tracing.py): where telemetry goes. The
# Services stack renders them where the platform has an observability agent.
TELEMETRY: tuple[str, ...] = ("PLATFORM_ENVIRONMENT", "EMF_AGENT_ENDPOINT", "OTEL_SERVICE_NAME",
                              "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES",
                              "OTEL_TRACES_SAMPLER_ARG")
# Every consumer: how it retries before dead-lettering (config.environment.MessagingConfig; common/consumer.py).
# It also reads the URL of each consumed queue's DLQ (DLQ_URL_<QUEUE>): it dead-letters what it can never apply.
CONSUMER: tuple[str, ...] = ("CONSUMER_RETRY_BUDGET_SECONDS", "CONSUMER_BACKOFF_MAX_SECONDS",
                             "CONSUMER_ORDERING_BACKOFF_MAX_SECONDS")
# Orders: the deadlines of its open states, its sweeper's interval and its pool's idle time (config OrdersConfig).
ORDERS: tuple[str, ...] = ("ORDER_PENDING_DEADLINE_SECONDS", "ORDER_PAYMENT_DEADLINE_SECONDS",
                           "ORDER_SWEEP_INTERVAL_SECONDS", "DB_POOL_MAX_IDLE_SECONDS")
# The notifier (users worker): the SES sender address and display name, and the configuration set it sends with.
EMAIL: tuple[str, ...] = ("EMAIL_SENDER", "EMAIL_SENDER_NAME", "EMAIL_CONFIGURATION_SET")
# Tuning with defaults in code, never rendered by the stack (the local platform shortens SQS waits for tests).
TUNING: tuple[str, ...] = ("SQS_WAIT_SECONDS", "DB_POOL_MAX", "LOG_LEVEL")

REQUIRED: dict[str, tuple[str, ...]] = {
    "products": (*COMMON, "TABLE_NAME", "TOPIC_ARN_PRODUCT_EVENTS", "SERVICE_CLIENT_IDS",
                 "QUEUE_URL_PRODUCTS_INVENTORY_EVENTS", "DLQ_URL_PRODUCTS_INVENTORY_EVENTS", *CONSUMER),
    "orders": (*COMMON, "DB_SECRET_ARN", "PRODUCTS_URL", "PRODUCTS_TOKEN_URL", "SERVICE_CLIENT_SECRET_ARN",
               "TOPIC_ARN_ORDER_EVENTS", "QUEUE_URL_INVENTORY_RESERVATIONS", "QUEUE_URL_ORDERS_INVENTORY_EVENTS",
               "QUEUE_URL_ORDERS_PAYMENT_EVENTS", "QUEUE_URL_ORDERS_PRODUCT_EVENTS", "QUEUE_URL_ORDERS_USER_EVENTS",
               "DLQ_URL_ORDERS_INVENTORY_EVENTS", "DLQ_URL_ORDERS_PAYMENT_EVENTS", "DLQ_URL_ORDERS_PRODUCT_EVENTS",
               "DLQ_URL_ORDERS_USER_EVENTS", *CONSUMER, *ORDERS, "TOPIC_ARN_PAYMENT_EVENTS",
               "PAYMENT_WEBHOOK_SECRET_ARN"),
    "users": (*COMMON, "TABLE_NAME", "TOPIC_ARN_USER_EVENTS", "QUEUE_URL_USERS_ORDER_EVENTS",
              "QUEUE_URL_USERS_EMAIL_EVENTS", "DLQ_URL_USERS_ORDER_EVENTS", "DLQ_URL_USERS_EMAIL_EVENTS",
              *CONSUMER, *EMAIL),
    "inventory": (*COMMON, "TABLE_NAME", "TOPIC_ARN_INVENTORY_EVENTS", "QUEUE_URL_INVENTORY_RESERVATIONS",
                  "QUEUE_URL_INVENTORY_PRODUCT_EVENTS", "DLQ_URL_INVENTORY_RESERVATIONS",
                  "DLQ_URL_INVENTORY_PRODUCT_EVENTS", *CONSUMER),
}


def check(service: str, rendered: set[str] | frozenset[str], *, telemetry: bool) -> str | None:
    """One line naming the first variable the rendered environment lacks or has in excess; None when it matches.
    ``telemetry``: the platform renders the telemetry variables (all of them, or none)."""
    required = set(REQUIRED[service]) | (set(TELEMETRY) if telemetry else set())
    for name in sorted(required - rendered):
        return f"{service}: environment variable {name} is read by the service but not rendered"
    for name in sorted(rendered - required):
        return f"{service}: environment variable {name} is rendered but not declared in services/common/env_contract.py"
    return None
