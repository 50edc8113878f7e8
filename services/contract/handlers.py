"""A worker's handler map, checked against the contract: every type a service consumes has a handler, and no
handler waits for a type the service does not consume. A mismatch stops the worker at start-up with one line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from .model import Contract, Service

H = TypeVar("H")


class HandlerRegistrationError(RuntimeError):
    """The worker's handlers and the contract's consumed types differ (one line naming the type)."""


def handler_map(contract: Contract, service: Service, handlers: Mapping[str, H]) -> dict[str, dict[str, H]]:
    """``handlers`` (event type -> handler) split by the queues that carry each type to ``service``: queue name ->
    {event type -> handler}. Raises HandlerRegistrationError for a consumed type without a handler, or a handler
    of a type the service does not consume."""
    consumed = contract.consumed_types(service)
    every = {t for types in consumed.values() for t in types}
    for event_type in handlers:
        if event_type not in every:
            raise HandlerRegistrationError(
                f"{service}: a handler is registered for {event_type}, which {service} does not consume "
                "(contract: no queue of it carries that type)")
    out: dict[str, dict[str, H]] = {}
    for queue, types in consumed.items():
        for event_type in types:
            if event_type not in handlers:
                raise HandlerRegistrationError(
                    f"{service}: no handler for {event_type}, consumed from queue {queue} (contract)")
        out[queue] = {t: handlers[t] for t in types}
    return out
