"""The event envelope shared by every event and command, validated against JSON Schema on publish and on consume.

Versions: the schema ``schemas/<Type>.json`` is the version publishers write (the number its ``$id`` ends with);
``schemas/<Type>.v<N>.json`` keeps an older version consumers still read during a transition (messages already in
queues and DLQs, producers not yet deployed). A message of any other version is invalid: the consumer dead-letters
it with the reason. ``make contract-check BASE=<ref>`` (tools/reports/contract_check.py) fails a change of a schema
that a consumer of the previous version cannot read, unless the version is raised with the previous one kept."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from contract import CONTRACT
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from common.logging import current_correlation_id, new_id, trace_id_var

SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMA_VERSION = 1

# Every event and command type of the contract (contract/platform.py EventType), each with its schema here.
EVENT_TYPES: tuple[str, ...] = CONTRACT.event_types


class InvalidEnvelope(ValueError):
    """A message that does not match the envelope schema or its type's data schema."""


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _check(name: str, instance: Any) -> None:
    errors = sorted(_validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        first: ValidationError = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise InvalidEnvelope(f"{name}: {where}: {first.message}")


def _schema_version(name: str) -> int:
    found = re.search(r":(\d+)$", str(json.loads((SCHEMA_DIR / f"{name}.json").read_text()).get("$id", "")))
    return int(found.group(1)) if found else SCHEMA_VERSION


@cache
def published_version(event_type: str) -> int:
    """The version of ``event_type`` publishers write: the one its current schema declares."""
    return _schema_version(event_type)


@cache
def accepted_versions(event_type: str) -> tuple[int, ...]:
    """The versions of ``event_type`` consumers read: the current one and each older one whose schema is kept."""
    older = (_schema_version(p.stem) for p in SCHEMA_DIR.glob(f"{event_type}.v*.json"))
    return tuple(sorted({published_version(event_type), *older}))


def _data_schema(event_type: str, version: int) -> str:
    return event_type if version == published_version(event_type) else f"{event_type}.v{version}"


@dataclass(frozen=True)
class Envelope:
    type: str
    data: dict[str, Any]
    source: str
    id: str = field(default_factory=new_id)
    version: int = 0  # 0: the version publishers write now (published_version)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat().replace("+00:00", "Z"))
    correlation_id: str = field(default_factory=current_correlation_id)
    trace_id: str | None = field(default_factory=trace_id_var.get)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", str(self.type))  # the wire value of an EventType
        if not self.version:
            object.__setattr__(self, "version", published_version(self.type) if self.type in EVENT_TYPES
                               else SCHEMA_VERSION)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": str(self.type),
            "version": self.version,
            "time": self.time,
            "source": self.source,
            "correlation_id": self.correlation_id,
            "trace_id": self.trace_id,
            "data": self.data,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    def validate(self) -> Envelope:
        validate(self.to_dict())
        return self


def validate(message: dict[str, Any]) -> None:
    _check("envelope", message)
    event_type, version = str(message["type"]), message["version"]
    accepted = accepted_versions(event_type)
    if version not in accepted:
        raise InvalidEnvelope(f"{event_type}: version {version} is not one this consumer reads "
                              f"({', '.join(map(str, accepted))})")
    _check(_data_schema(event_type, version), message["data"])


def parse(body: str) -> Envelope:
    """Decode and validate a message body; raises InvalidEnvelope for anything that must not be applied.

    Whatever decoding or validation raises makes the message invalid, not only the errors expected of bad JSON:
    20 KB of nested brackets raise RecursionError in the decoder, lone surrogates UnicodeError, a huge number
    ValueError; a consumer must be able to dead-letter any of them instead of dying on it."""
    try:
        raw = json.loads(body)
    except Exception as exc:
        raise InvalidEnvelope(f"not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(raw, dict):
        raise InvalidEnvelope(f"not a JSON object: {type(raw).__name__}")
    try:
        validate(raw)
    except InvalidEnvelope:
        raise
    except Exception as exc:  # e.g. RecursionError on a deeply nested `data`
        raise InvalidEnvelope(f"cannot be validated: {type(exc).__name__}: {str(exc)[:200]}") from None
    return Envelope(
        type=raw["type"],
        data=raw["data"],
        source=raw["source"],
        id=raw["id"],
        version=raw["version"],
        time=raw["time"],
        correlation_id=raw["correlation_id"],
        trace_id=raw.get("trace_id"),
    )
