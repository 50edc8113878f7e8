"""Poison messages for every topic and queue of the service contract, as a hostile or broken publisher would send
them (used by the services' resilience tests and `make chaos`).

Each carries the `type` message attribute of an event its destination routes, so SNS filter policies deliver it to
the consumer queues, and a marker (in its text, and in every id it carries) so that a dead letter can be traced back
to the poison it came from, including events a consumer derived from one (a StockRejected for a forged order).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from config.topology import CONTRACT, EVENT_TYPE_ATTRIBUTE, QUEUES, TOPICS, Queue

KINDS = ("nested", "oversized", "wrong-type", "schema-invalid", "nul", "surrogate", "not-json")
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "services" / CONTRACT.schema_dir
# Strings tried, in order, for a string field of a schema: the marker first (ids and free text carry it).
_STRINGS = ("{marker}", "EUR", "en", "poison@example.com", "2025-01-01T00:00:00Z")
_PLACEHOLDER = "poison-00000000-0000-4000-8000-000000000000"
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
    """The types a queue carries: its commands, or its subscriptions' events (the contract's Queue.event_types)."""
    return queue.event_types


def reached_queues(p: Poison) -> tuple[str, ...]:
    """The consumer queues the poison lands on (SNS filter policies on `type`, or the queue itself)."""
    if p.target == "queue":
        return (p.name,)
    return tuple(q.name for q in QUEUES for s in q.subscriptions if s.topic == p.name and p.event_type in s.event_types)


@cache
def _schema(event_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{event_type}.json").read_text())
    return schema


def _sample(schema: dict[str, Any], marker: str) -> Any:
    """The smallest instance of a (sub)schema of the events' JSON Schema subset: required properties only, the
    lower bounds of numbers and arrays, the first enum value, and for a string the first of _STRINGS it accepts."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _sample(props[name], marker) for name in schema.get("required", [])}
    if kind == "array":
        return [_sample(schema["items"], marker) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    checker = Draft202012Validator(schema, format_checker=FormatChecker())
    for candidate in (c.format(marker=marker) for c in _STRINGS):
        if checker.is_valid(candidate):
            return candidate
    raise ValueError(f"no sample string for {schema}")


def _put(value: Any, ident: str) -> Any:
    if isinstance(value, dict):
        return {k: _put(v, ident) for k, v in value.items()}
    if isinstance(value, list):
        return [_put(v, ident) for v in value]
    return ident if value == _PLACEHOLDER else value


def valid_data(event_type: str, ident: str) -> dict[str, Any]:
    """Data of ``event_type`` valid against its schema (services/common/schemas) where its ids and free text are
    ``ident``: the marker, possibly with NUL or a lone surrogate appended (then no longer valid)."""
    data: dict[str, Any] = _put(_sample(_schema(event_type), _PLACEHOLDER), ident)
    return data


def envelope(event_type: str, data: dict[str, Any], marker: str) -> dict[str, Any]:
    return {"id": marker, "type": event_type, "version": 1, "time": "2025-01-01T00:00:00Z", "source": "poison",
            "correlation_id": marker, "data": data}


def foreign_type(accepted: tuple[str, ...]) -> str:
    """A valid event type none of the destination's consumers handles (it must be dead-lettered, not applied)."""
    known = sorted({t for topic in TOPICS if topic.body_type_field is None for t in topic.event_types}
                   | {t for q in QUEUES for t in q.commands})
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
