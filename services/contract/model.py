"""The shapes of the service contract: services, their stores and calls, topics, queues, events, routes.

Pure data with no dependencies (every image carries this package, and the CDK app reads the same files): what a
service publishes, consumes and calls is declared once here, and the environment, IAM statements, network rules,
Cognito clients, subscriptions and worker handler maps are derived from it (see :class:`Contract`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

__all__ = ["EVENT_TYPE_ATTRIBUTE", "Access", "Call", "Contract", "ContractError", "Destination", "DestinationKind",
           "Event", "Queue", "Route", "Secret", "Service", "ServiceSpec", "StoreKind", "Subscription", "Table",
           "TableIndex", "Topic"]


class Service(StrEnum):
    PRODUCTS = "products"
    ORDERS = "orders"
    USERS = "users"
    INVENTORY = "inventory"


class StoreKind(StrEnum):
    DYNAMODB = "dynamodb"  # a table of its own (single-table design), outbox records in the table
    POSTGRES = "postgres"  # a PostgreSQL database (Aurora), credentials in a Secrets Manager secret


class Access(StrEnum):
    """Who may call a route through API Gateway."""

    # No token: catalog reads, sign-up / sign-in which by nature precede a token. The storefront's API key still
    # applies.
    PUBLIC = "public"
    USER = "user"  # a valid Cognito user-pool token
    ADMIN = "admin"  # a valid token whose user is in the pool's admin group (checked again by the service)
    # A third party's server calling back (the payment provider's webhook): no user, no token, and no API key either
    # (the provider sends none, and the storefront's key would put its calls in the storefront's quota). Each request
    # is authenticated by its HMAC signature, which the service checks; fields the sender adds are ignored, not refused.
    SIGNED = "signed"


@dataclass(frozen=True)
class Event:
    """One event or command type: its name (the envelope's ``type``, the platform's StrEnum member) and the JSON
    Schema ``<type>.json`` its data must match. ``body_name``: for an event an AWS service publishes in its own
    format, the value of the topic's ``body_type_field`` that names it (SES: ``Bounce``)."""

    type: str
    description: str
    body_name: str | None = None


@dataclass(frozen=True)
class Topic:
    """An SNS topic carrying one domain's events."""

    name: str
    publisher: Service | None
    event_types: tuple[str, ...]
    description: str
    # For a topic an AWS service publishes to in its own format (SES event publishing): the field of the message
    # body that names the event, which subscriptions filter on. None: the platform's envelope, typed by the `type`
    # message attribute (EVENT_TYPE_ATTRIBUTE).
    body_type_field: str | None = None

    @property
    def construct_id(self) -> str:
        """``product-events`` -> ``ProductEventsTopic``: the construct (and logical id) of the topic."""
        return _pascal(self.name) + "Topic"


@dataclass(frozen=True)
class Subscription:
    """SNS -> SQS fan-out, filtered on the envelope's ``type`` message attribute."""

    topic: str
    event_types: tuple[str, ...]


@dataclass(frozen=True)
class Queue:
    """An SQS queue read by exactly one service, with its DLQ.

    A queue is either fed by SNS subscriptions (``subscriptions``) or is a point-to-point command queue that a
    producing service sends ``commands`` to directly (``producer``).
    """

    name: str
    consumer: Service
    producer: Service | None = None
    subscriptions: tuple[Subscription, ...] = ()
    description: str = ""
    commands: tuple[str, ...] = ()

    @property
    def construct_id(self) -> str:
        """``orders-payment-events`` -> ``OrdersPaymentEventsQueue``: the construct (and logical ids) of the queue."""
        return _pascal(self.name) + "Queue"

    @property
    def event_types(self) -> tuple[str, ...]:
        """Every type a message of this queue may have: its commands, then its subscriptions' events."""
        return (*self.commands, *(t for s in self.subscriptions for t in s.event_types))


@dataclass(frozen=True)
class TableIndex:
    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class Table:
    """A DynamoDB table owned by one service (single-table design: ``pk``/``sk`` string keys)."""

    service: Service
    partition_key: str
    sort_key: str | None
    indexes: tuple[TableIndex, ...] = ()
    access_patterns: tuple[str, ...] = field(default=())

    @property
    def construct_id(self) -> str:
        """``ProductsTable``: the construct (and logical ids) of the service's table."""
        return _pascal(self.service.value) + "Table"


@dataclass(frozen=True)
class Call:
    """A synchronous call of another service's internal routes, with a client-credentials token carrying ``scopes``
    of the callee's resource server. ``purpose``: why (it names the network rules that admit the call)."""

    service: Service
    scopes: tuple[str, ...]
    purpose: str

    @property
    def qualified_scopes(self) -> tuple[str, ...]:
        return tuple(f"{self.service.value}/{s}" for s in self.scopes)


@dataclass(frozen=True)
class Secret:
    """A secret a service reads beyond its store's credentials: a logical name the platform maps to a Secrets
    Manager secret, and the environment variable carrying its ARN."""

    name: str
    env: str
    description: str


@dataclass(frozen=True)
class ServiceSpec:
    """One service: where it keeps its state, whom it calls, which scopes it offers to callers, what else it reads.

    ``settings``: environment variables the platform's configuration renders for this service alone (their values
    come from ``config.environment``); ``sends_email``: the service emails customers through SES (its sender
    identity and configuration set reach it as environment); ``metrics``: custom metrics of its own beyond every
    service's (contract/telemetry.py), each alarmed and charted on its dashboard."""

    service: Service
    store: StoreKind
    calls: tuple[Call, ...] = ()
    scopes: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    secrets: tuple[Secret, ...] = ()
    sends_email: bool = False
    metrics: tuple[str, ...] = ()

    @property
    def own_security_group(self) -> bool:
        """Pods of a PostgreSQL-backed service get a security group of their own (security groups for pods), which
        the database admits: no other pod reaches the database."""
        return self.store is StoreKind.POSTGRES


@dataclass(frozen=True)
class Route:
    service: Service
    method: str
    path: str
    access: Access


class DestinationKind(StrEnum):
    TOPIC = "topic"
    QUEUE = "queue"


@dataclass(frozen=True)
class Destination:
    """Where an outbox record goes: a topic or a queue of the contract, by logical name (``topic/order-events``)."""

    kind: DestinationKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> Destination:
        kind, sep, name = text.partition("/")
        if not sep or kind not in {k.value for k in DestinationKind} or not name:
            raise ValueError(f"not a destination: {text!r}")
        return cls(DestinationKind(kind), name)


class ContractError(ValueError):
    """The contract contradicts itself (an event type without a topic, a queue of an unknown topic, ...)."""


T = TypeVar("T")


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _find(items: Iterable[T], attribute: str, value: object) -> T:
    """The item whose ``attribute`` is ``value``; KeyError naming both otherwise."""
    for item in items:
        if getattr(item, attribute) == value:
            return item
    raise KeyError(f"no {attribute} {value!r} in the contract")


def _one(items: Iterable[object], what: str) -> None:
    seen: set[object] = set()
    for item in items:
        if item in seen:
            raise ContractError(f"{what} {item!r} is declared twice")
        seen.add(item)


@dataclass(frozen=True)
class Contract:
    """Everything the infrastructure and the services agree on, checked for consistency by :meth:`validate`.

    The platform's own is :data:`contract.CONTRACT`; a test builds a changed copy (``dataclasses.replace``) and
    synthesizes the app with it (``stacks.platform.build_app(config, contract=...)``)."""

    services: tuple[ServiceSpec, ...]
    events: tuple[Event, ...]
    topics: tuple[Topic, ...]
    queues: tuple[Queue, ...]
    tables: tuple[Table, ...]
    routes: tuple[Route, ...]
    # The directory of the events' JSON Schemas (``<type>.json``; relative: to this package's parent, services/).
    schema_dir: str = "common/schemas"

    # --- lookups ------------------------------------------------------------------------------------------------
    @property
    def service_names(self) -> tuple[Service, ...]:
        return tuple(s.service for s in self.services)

    def service(self, service: Service) -> ServiceSpec:
        return _find(self.services, "service", service)

    def event(self, event_type: str) -> Event:
        return _find(self.events, "type", event_type)

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(e.type for e in self.events)

    def topic(self, name: str) -> Topic:
        return _find(self.topics, "name", name)

    def queue(self, name: str) -> Queue:
        return _find(self.queues, "name", name)

    def queues_consumed_by(self, service: Service) -> tuple[Queue, ...]:
        return tuple(q for q in self.queues if q.consumer == service)

    def queues_produced_by(self, service: Service) -> tuple[Queue, ...]:
        return tuple(q for q in self.queues if q.producer == service)

    def topics_published_by(self, service: Service) -> tuple[Topic, ...]:
        return tuple(t for t in self.topics if t.publisher == service)

    def table_of(self, service: Service) -> Table | None:
        return next((t for t in self.tables if t.service == service), None)

    def callers_of(self, service: Service) -> tuple[Service, ...]:
        """The services that call ``service``'s internal routes (``ServiceSpec.calls``)."""
        return tuple(s.service for s in self.services if any(c.service == service for c in s.calls))

    def resource_server_scopes(self) -> dict[Service, tuple[str, ...]]:
        """Per service offering internal routes, its resource server's scopes (``read``)."""
        return {s.service: s.scopes for s in self.services if s.scopes}

    def service_calls(self) -> dict[Service, tuple[str, ...]]:
        """Per calling service, the scopes its client-credentials tokens carry (``products/read``)."""
        return {s.service: tuple(q for c in s.calls for q in c.qualified_scopes) for s in self.services if s.calls}

    def consumed_types(self, service: Service) -> dict[str, tuple[str, ...]]:
        """Per queue the service reads: the event types its worker must handle, no more, no fewer."""
        return {q.name: q.event_types for q in self.queues_consumed_by(service)}

    def published_types(self, service: Service) -> tuple[str, ...]:
        """The event types a service writes to its outbox: its topics' events and its command queues' commands."""
        return (*(t for topic in self.topics_published_by(service) for t in topic.event_types),
                *(c for q in self.queues_produced_by(service) for c in q.commands))

    def destination_of(self, event_type: str) -> Destination:
        """Where the outbox sends an event of this type: the topic that carries it, or the queue of a command."""
        for t in self.topics:
            if event_type in t.event_types:
                return Destination(DestinationKind.TOPIC, t.name)
        for q in self.queues:
            if event_type in q.commands:
                return Destination(DestinationKind.QUEUE, q.name)
        raise KeyError(f"event type {event_type!r} has no topic or command queue in the contract")

    def has_destination(self, destination: Destination) -> bool:
        names = {t.name for t in self.topics} if destination.kind is DestinationKind.TOPIC else {
            q.name for q in self.queues}
        return destination.name in names

    def filter_policy(self, subscription: Subscription) -> dict[str, list[str]]:
        """The SNS filter policy for a subscription, in the scope :meth:`filter_policy_scope` names: the `type`
        message attribute of the platform's envelope, or the body field naming the event of an AWS service's
        messages (each event's ``body_name`` there)."""
        topic = self.topic(subscription.topic)
        if topic.body_type_field:
            names = [self.event(t).body_name or t for t in subscription.event_types]
            return {topic.body_type_field: sorted(names)}
        return {EVENT_TYPE_ATTRIBUTE: sorted(subscription.event_types)}

    def filter_policy_scope(self, subscription: Subscription) -> str:
        """SNS's FilterPolicyScope for :meth:`filter_policy`: ``MessageAttributes`` or ``MessageBody``."""
        return "MessageBody" if self.topic(subscription.topic).body_type_field else "MessageAttributes"

    # --- consistency --------------------------------------------------------------------------------------------
    def validate(self, schema_root: str | None = None) -> Contract:
        """Raise ContractError naming the first contradiction; ``schema_root``: where ``schema_dir`` is relative to
        (services/), to check that every event type has its schema file."""
        _one(self.service_names, "service")
        _one(self.event_types, "event type")
        _one((t.name for t in self.topics), "topic")
        _one((q.name for q in self.queues), "queue")
        _one((t.service for t in self.tables), "table of service")
        declared = set(self.event_types)
        services = set(self.service_names)
        for t in self.topics:
            for e in t.event_types:
                if e not in declared:
                    raise ContractError(f"topic {t.name}: event type {e} is not declared")
        for q in self.queues:
            if q.consumer not in services:
                raise ContractError(f"queue {q.name}: consumer {q.consumer} is not a service of the contract")
            if q.commands and q.producer is None:
                raise ContractError(f"queue {q.name}: commands without a producer")
            for c in q.commands:
                if c not in declared:
                    raise ContractError(f"queue {q.name}: command {c} is not declared")
            for sub in q.subscriptions:
                carried = self.topic(sub.topic).event_types
                for e in sub.event_types:
                    if e not in carried:
                        raise ContractError(f"queue {q.name}: topic {sub.topic} does not carry {e}")
        for e in self.event_types:
            homes = [t.name for t in self.topics if e in t.event_types] + [
                q.name for q in self.queues if e in q.commands]
            if len(homes) != 1:
                raise ContractError(f"event type {e}: carried by {len(homes)} topics/queues ({', '.join(homes)}); "
                                    "exactly one expected")
        for s in self.services:
            if s.store is StoreKind.DYNAMODB and self.table_of(s.service) is None:
                raise ContractError(f"service {s.service}: DynamoDB store without a table")
            for call in s.calls:
                offered = self.service(call.service).scopes
                for scope in call.scopes:
                    if scope not in offered:
                        raise ContractError(f"service {s.service}: calls {call.service} with scope {scope}, "
                                            "which it does not offer")
        if schema_root is not None:
            from pathlib import Path

            for e in self.event_types:
                if not (Path(schema_root) / self.schema_dir / f"{e}.json").is_file():
                    raise ContractError(f"event type {e}: no schema {self.schema_dir}/{e}.json")
        return self


# The message attribute naming an envelope's event type; SNS subscriptions filter on it.
EVENT_TYPE_ATTRIBUTE = "type"
