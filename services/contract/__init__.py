"""The service contract: what the services and the infrastructure agree on, declared once (see platform.py).

Pure Python without dependencies and with relative imports only: every image carries it (``services/`` is their
build context, ``/app/contract``), and the CDK app, the tools and the tests import the same package as
``contract`` (``services/`` is on their path: the venv's ``.pth`` from ``make setup``; pyproject's pytest and
mypy settings).
"""

from .environment import EnvironmentContractError, Ref, RefKind, env_var
from .handlers import HandlerRegistrationError, handler_map
from .model import *  # noqa: F403 - the shapes of the contract
from .model import __all__ as _MODEL_NAMES
from .platform import CONTRACT, OUTBOX_INDEX, EventType, OrderStatus

__all__ = [*_MODEL_NAMES, "CONTRACT", "OUTBOX_INDEX", "EnvironmentContractError", "EventType",
           "HandlerRegistrationError", "OrderStatus", "Ref", "RefKind", "env_var", "handler_map"]
