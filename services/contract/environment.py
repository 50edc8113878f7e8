"""Each service's environment, derived from the contract: the names it reads and where each value comes from.

:func:`entries` is the one derivation: the CDK app's Services stack renders it into each Deployment
(:func:`render`, resolving every :class:`Ref` to the construct that owns the resource); the local platform runs
the pods with the environment of those rendered manifests and checks them against it (:func:`check`); the
services' settings read the same names (:func:`required`). A name missing on either side fails with one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .model import Contract, Service, StoreKind
from .telemetry import TELEMETRY_ENV

# Every service: the region for boto3, the Cognito user pool whose tokens its callers present, and the one origin
# whose pages may read its answers across origins (the storefront's: CORS_ALLOWED_ORIGIN).
COMMON: tuple[str, ...] = ("AWS_REGION", "COGNITO_ISSUER", "COGNITO_JWKS_URL", "COGNITO_CLIENT_ID",
                           "CORS_ALLOWED_ORIGIN")
# Every consumer: how it retries before dead-lettering (config.environment.MessagingConfig; common/consumer.py).
CONSUMER: tuple[str, ...] = ("CONSUMER_RETRY_BUDGET_SECONDS", "CONSUMER_BACKOFF_MAX_SECONDS",
                             "CONSUMER_ORDERING_BACKOFF_MAX_SECONDS")
# A service that emails (ServiceSpec.sends_email): the SES sender address and display name, its configuration set.
EMAIL: tuple[str, ...] = ("EMAIL_SENDER", "EMAIL_SENDER_NAME", "EMAIL_CONFIGURATION_SET")
# Tuning with defaults in code, never rendered by the stack (the local platform shortens SQS waits for tests).
TUNING: tuple[str, ...] = ("SQS_WAIT_SECONDS", "DB_POOL_MAX", "LOG_LEVEL")
TABLE_NAME = "TABLE_NAME"
DB_SECRET_ARN = "DB_SECRET_ARN"  # noqa: S105 - an environment variable's name
SERVICE_CLIENT_IDS = "SERVICE_CLIENT_IDS"  # comma-separated app client ids allowed to call the internal routes
SERVICE_CLIENT_SECRET_ARN = "SERVICE_CLIENT_SECRET_ARN"  # noqa: S105 - an environment variable's name
# The port every service's pods listen on (its Kubernetes Service's too).
CONTAINER_PORT = 8080

_PREFIXES = {"queue": "QUEUE_URL_", "dlq": "DLQ_URL_", "topic": "TOPIC_ARN_", "table": "TABLE_NAME_"}


def env_var(kind: str, name: str) -> str:
    """Environment variable through which a resource's physical name reaches a service.

    ``env_var("queue", "orders-payment-events") == "QUEUE_URL_ORDERS_PAYMENT_EVENTS"``."""
    return _PREFIXES[kind] + name.upper().replace("-", "_")


def service_url_env(callee: Service) -> str:
    return f"{callee.value.upper()}_URL"


def token_url_env(callee: Service) -> str:
    return f"{callee.value.upper()}_TOKEN_URL"


def service_url(callee: Service) -> str:
    """The callee's Kubernetes Service, in its namespace, as the caller's pods reach it."""
    return f"http://{callee.value}.{callee.value}.svc.cluster.local:{CONTAINER_PORT}"


class RefKind(StrEnum):
    REGION = "region"
    ISSUER = "issuer"
    JWKS_URL = "jwks-url"
    WEB_CLIENT_ID = "web-client-id"
    WEB_ORIGIN = "web-origin"  # the storefront's origin (https://<its domain>), the one the API's CORS allows
    TABLE = "table"  # key: service
    DB_SECRET = "db-secret"  # noqa: S105 - key: service
    TOPIC = "topic"  # key: topic name
    QUEUE = "queue"  # key: queue name
    DLQ = "dlq"  # key: queue name
    SERVICE_URL = "service-url"  # key: callee
    TOKEN_URL = "token-url"  # noqa: S105 - key: callee (the pool's token endpoint)
    CLIENT_SECRET = "client-secret"  # noqa: S105 - key: calling service: its app client's id and secret
    CALLER_CLIENT_IDS = "caller-client-ids"  # key: callee: comma-separated app client ids of its callers
    SECRET = "secret"  # noqa: S105 - key: Secret.name
    SETTING = "setting"  # key: the variable's name; value from config.environment
    EMAIL = "email"  # key: the variable's name; from the email identity and the configuration set


@dataclass(frozen=True)
class Ref:
    """Where a variable's value comes from: resolved by the CDK app to a token of the construct that owns it."""

    kind: RefKind
    key: str = ""


def entries(contract: Contract, service: Service) -> dict[str, Ref]:
    """The service's environment (without telemetry): variable name -> the value's source."""
    spec = contract.service(service)
    out: dict[str, Ref] = {
        "AWS_REGION": Ref(RefKind.REGION),
        "COGNITO_ISSUER": Ref(RefKind.ISSUER),
        "COGNITO_JWKS_URL": Ref(RefKind.JWKS_URL),
        "COGNITO_CLIENT_ID": Ref(RefKind.WEB_CLIENT_ID),
        "CORS_ALLOWED_ORIGIN": Ref(RefKind.WEB_ORIGIN),
    }
    if spec.store is StoreKind.DYNAMODB:
        out[TABLE_NAME] = Ref(RefKind.TABLE, service.value)
    else:
        out[DB_SECRET_ARN] = Ref(RefKind.DB_SECRET, service.value)
    for topic in contract.topics_published_by(service):
        out[env_var("topic", topic.name)] = Ref(RefKind.TOPIC, topic.name)
    consumed = contract.queues_consumed_by(service)
    for queue in (*consumed, *contract.queues_produced_by(service)):
        out[env_var("queue", queue.name)] = Ref(RefKind.QUEUE, queue.name)
    for queue in consumed:
        out[env_var("dlq", queue.name)] = Ref(RefKind.DLQ, queue.name)
    if consumed:
        out.update({name: Ref(RefKind.SETTING, name) for name in CONSUMER})
    for call in spec.calls:
        out[service_url_env(call.service)] = Ref(RefKind.SERVICE_URL, call.service.value)
        out[token_url_env(call.service)] = Ref(RefKind.TOKEN_URL, call.service.value)
    if spec.calls:
        out[SERVICE_CLIENT_SECRET_ARN] = Ref(RefKind.CLIENT_SECRET, service.value)
    if spec.scopes:
        out[SERVICE_CLIENT_IDS] = Ref(RefKind.CALLER_CLIENT_IDS, service.value)
    out.update({name: Ref(RefKind.SETTING, name) for name in spec.settings})
    out.update({s.env: Ref(RefKind.SECRET, s.name) for s in spec.secrets})
    if spec.sends_email:
        out.update({name: Ref(RefKind.EMAIL, name) for name in EMAIL})
    return out


def required(contract: Contract, service: Service) -> tuple[str, ...]:
    """The names a service reads at start-up and refuses to start without."""
    return tuple(entries(contract, service))


class EnvironmentContractError(ValueError):
    """A service's rendered environment differs from the contract's: one line naming the variable."""


def render(contract: Contract, service: Service, resolve: Callable[[Ref], str]) -> dict[str, str]:
    """The service's environment with each value resolved by ``resolve``."""
    return {name: resolve(ref) for name, ref in entries(contract, service).items()}


def check(contract: Contract, service: Service, rendered: set[str] | frozenset[str], *,
          telemetry: bool) -> str | None:
    """One line naming the first variable the rendered environment lacks or has in excess; None when it matches.
    ``telemetry``: the platform renders the telemetry variables (all of them, or none)."""
    expected = set(required(contract, service)) | (set(TELEMETRY_ENV) if telemetry else set())
    for name in sorted(expected - rendered):
        return f"{service}: environment variable {name} is read by the service but not rendered"
    for name in sorted(rendered - expected):
        return f"{service}: environment variable {name} is rendered but not derived from the contract"
    return None
