"""Poison messages for every topic and queue of config/topology.py, as a hostile or broken publisher would send them
(used by the services' resilience tests and `make chaos`).

Each carries the `type` message attribute of an event its destination routes, so SNS filter policies deliver it to
the consumer queues, and a marker (in its text, and in every id it carries) so that a dead letter can be traced back
to the poison it came from, including events a consumer derived from one (a StockRejected for a forged order).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from config.topology import EVENT_TYPE_ATTRIBUTE, QUEUES, TOPICS, Queue

KINDS = ("nested", "oversized", "wrong-type", "schema-invalid", "nul", "surrogate", "not-json")
# Command queues have no subscription; what they accept is what their producer sends.
COMMANDS: dict[str, tuple[str, ...]] = {"inventory-reservations": ("ReserveStock", "ReleaseStock")}
OVERSIZED_BYTES = 240 * 1024  # near SQS's 256 KiB limit: the DLQ copy must still fit with its reason


@dataclass(frozen=True)
class Poison:
    kind: str
    target: str  # "topic" or "queue"
    name: str  # topic or queue name (logical)
    event_type: str  # the `type` attribute it carries
    body: str
    marker: str

    @property
    def attributes(self) -> dict[str, dict[str, str]]:
        return {EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": self.event_type}}


def accepted_types(queue: Queue) -> tuple[str, ...]:
    return COMMANDS.get(queue.name) or tuple(t for s in queue.subscriptions for t in s.event_types)


def reached_queues(p: Poison) -> tuple[str, ...]:
    """The consumer queues the poison lands on (SNS filter policies on `type`, or the queue itself)."""
    if p.target == "queue":
        return (p.name,)
    return tuple(q.name for q in QUEUES for s in q.subscriptions if s.topic == p.name and p.event_type in s.event_types)


def valid_data(event_type: str, ident: str) -> dict[str, Any]:
    """Schema-valid data of ``event_type`` whose ids are ``ident`` (the marker, possibly with NUL appended)."""
    line: dict[str, Any] = {"product_id": ident, "quantity": 1}
    samples: dict[str, dict[str, Any]] = {
        "ProductCreated": {"product_id": ident, "name": ident, "price_cents": 100, "currency": "EUR",
                           "status": "ACTIVE", "product_version": 1},
        "ProductUpdated": {"product_id": ident, "name": ident, "price_cents": 100, "currency": "EUR",
                           "status": "ACTIVE", "product_version": 2},
        "OrderPlaced": {"order_id": ident, "customer_id": ident, "total_cents": 100, "currency": "EUR",
                        "lines": [{**line, "unit_price_cents": 100}]},
        "OrderConfirmed": {"order_id": ident, "customer_id": ident, "total_cents": 100, "currency": "EUR"},
        "OrderCancelled": {"order_id": ident, "customer_id": ident, "reason": ident},
        "StockReserved": {"order_id": ident, "lines": [line]},
        "StockRejected": {"order_id": ident, "reason": ident},
        "InventoryUpdated": {"product_id": ident, "available": 1, "reserved": 0, "reason": ident},
        "UserRegistered": {"user_id": ident, "email": "poison@example.com", "name": ident},
        "UserPreferencesChanged": {"user_id": ident, "version": 1, "language": "en", "currency": "EUR",
                                   "notifications": {"email": {"order_updates": True, "marketing": False}}},
        # SES's own events (email-events): as an envelope they are poison on the users-email-events queue anyway.
        "Bounce": {"feedback_id": ident, "ses_message_id": ident, "addresses": ["poison@example.com"]},
        "Complaint": {"feedback_id": ident, "ses_message_id": ident, "addresses": ["poison@example.com"]},
        "PaymentConfirmed": {"order_id": ident, "payment_id": ident, "amount_cents": 100, "currency": "EUR"},
        "PaymentFailed": {"order_id": ident, "payment_id": ident, "amount_cents": 100, "currency": "EUR",
                          "reason": ident},
        "ReserveStock": {"order_id": ident, "lines": [line]},
        "ReleaseStock": {"order_id": ident, "lines": [line], "reason": ident},
    }
    return samples[event_type]


def envelope(event_type: str, data: dict[str, Any], marker: str) -> dict[str, Any]:
    return {"id": marker, "type": event_type, "version": 1, "time": "2025-01-01T00:00:00Z", "source": "poison",
            "correlation_id": marker, "data": data}


def foreign_type(accepted: tuple[str, ...]) -> str:
    """A valid event type none of the destination's consumers handles (it must be dead-lettered, not applied)."""
    known = sorted({t for topic in TOPICS if topic.body_type_field is None for t in topic.event_types}
                   | {t for types in COMMANDS.values() for t in types})
    return next(t for t in known if t not in accepted)


def body(kind: str, event_type: str, marker: str, accepted: tuple[str, ...] = ()) -> str:
    if kind == "nested":  # 20 KB of brackets: RecursionError in json.loads
        return "[" * 10_000 + json.dumps(marker) + "]" * 10_000
    if kind == "oversized":
        doc = envelope(event_type, {**valid_data(event_type, marker), "pad": ""}, marker)
        room = OVERSIZED_BYTES - len(json.dumps(doc))
        doc["data"]["pad"] = "x" * room
        return json.dumps(doc)
    if kind == "wrong-type":  # a valid envelope of a type nobody consumes from here
        other = foreign_type(accepted or (event_type,))
        return json.dumps(envelope(other, valid_data(other, marker), marker))
    if kind == "schema-invalid":
        return json.dumps(envelope(event_type, {"order_id": 5, "unexpected": marker}, marker))
    if kind == "nul":  # valid JSON and schema, but PostgreSQL text cannot hold U+0000
        return json.dumps(envelope(event_type, valid_data(event_type, marker + "\u0000"), marker))
    if kind == "surrogate":  # a lone surrogate: no UTF-8 encoding exists for it
        return json.dumps(envelope(event_type, valid_data(event_type, marker + "\ud800"), marker))
    if kind == "not-json":
        return f"<poison {marker}>"
    raise ValueError(kind)


def poison_set(kinds: tuple[str, ...] = KINDS, prefix: str = "poison") -> Iterator[Poison]:
    """Every kind onto every topic (once per event type it carries) and onto every queue (once per type it takes)."""
    for kind in kinds:
        for topic in TOPICS:
            if topic.body_type_field is not None:
                # Fed by an AWS service (SES) under a topic policy no one else passes, and filtered on the body: a
                # non-JSON body never matches. Poison reaches its consumer through the queue itself (below).
                continue
            reached = tuple(t for q in QUEUES for s in q.subscriptions if s.topic == topic.name for t in s.event_types)
            for event_type in topic.event_types:
                marker = f"{prefix}-{uuid.uuid4()}"
                yield Poison(kind, "topic", topic.name, event_type, body(kind, event_type, marker, reached), marker)
        for queue in QUEUES:
            for event_type in accepted_types(queue):
                marker = f"{prefix}-{uuid.uuid4()}"
                yield Poison(kind, "queue", queue.name, event_type,
                             body(kind, event_type, marker, accepted_types(queue)), marker)


def send(p: Poison, sns: Any, sqs: Any, topic_arns: dict[str, str], queue_urls: dict[str, str]) -> None:
    if p.target == "topic":
        sns.publish(TopicArn=topic_arns[p.name], Message=p.body, MessageAttributes=p.attributes)
    else:
        sqs.send_message(QueueUrl=queue_urls[p.name], MessageBody=p.body, MessageAttributes=p.attributes)


def traces_to_poison(body_text: str, markers: set[str], prefix: str = "poison") -> bool:
    """Whether a dead letter is poison or was derived from poison: it contains a marker, or its envelope refers to
    an id that starts with the poison prefix (a consumer's own event about a forged order)."""
    if any(m in body_text for m in markers):
        return True
    try:
        doc = json.loads(body_text)
    except Exception:
        return False
    data = doc.get("data") if isinstance(doc, dict) else None
    return isinstance(data, dict) and any(isinstance(v, str) and v.startswith(prefix) for v in data.values())
