"""The service contract: what the services and the infrastructure agree on, declared once (see platform.py).

Pure Python without dependencies and with relative imports only: every image carries it (``services/`` is their
build context, ``/app/contract``), and the CDK app, the tools and the tests import the same package as
``contract`` (``services/`` is on their path: pyproject's pytest and mypy settings, ``config/__init__.py``).
"""

from .environment import EnvironmentContractError, Ref, RefKind, env_var
from .handlers import HandlerRegistrationError, handler_map
from .model import (
    EVENT_TYPE_ATTRIBUTE,
    Access,
    Call,
    Contract,
    ContractError,
    Destination,
    DestinationKind,
    Event,
    Queue,
    Route,
    Secret,
    Service,
    ServiceSpec,
    StoreKind,
    Subscription,
    Table,
    TableIndex,
    Topic,
)
from .platform import CONTRACT, OUTBOX_INDEX, EventType, OrderStatus

__all__ = [
    "CONTRACT",
    "EVENT_TYPE_ATTRIBUTE",
    "OUTBOX_INDEX",
    "Access",
    "Call",
    "Contract",
    "ContractError",
    "Destination",
    "DestinationKind",
    "EnvironmentContractError",
    "Event",
    "EventType",
    "HandlerRegistrationError",
    "OrderStatus",
    "Queue",
    "Ref",
    "RefKind",
    "Route",
    "Secret",
    "Service",
    "ServiceSpec",
    "StoreKind",
    "Subscription",
    "Table",
    "TableIndex",
    "Topic",
    "env_var",
    "handler_map",
]
