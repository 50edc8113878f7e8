"""Consumers read the versions of an event the contract keeps (its schema, and each older <Type>.v<N>.json) and
refuse others with the reason, which the consumer dead-letters the message with."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common import envelope
from common.envelope import Envelope, InvalidEnvelope, accepted_versions, parse, published_version

DATA = {"order_id": "o1", "customer_id": "c1", "lines": [{"product_id": "p1", "quantity": 1, "unit_price_cents": 5}],
        "total_cents": 5, "currency": "EUR"}


def _clear() -> None:
    for f in (envelope._validator, published_version, accepted_versions):
        f.cache_clear()


@pytest.fixture
def transition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """OrderPlaced at version 2 (a new required field), version 1 kept for the transition."""
    schemas = tmp_path / "schemas"
    shutil.copytree(envelope.SCHEMA_DIR, schemas)
    v1 = json.loads((schemas / "OrderPlaced.json").read_text())
    (schemas / "OrderPlaced.v1.json").write_text(json.dumps(v1))
    v2: dict[str, Any] = {**v1, "$id": "urn:ecommerce:events:OrderPlaced:2",
                          "required": [*v1["required"], "channel"],
                          "properties": {**v1["properties"], "channel": {"enum": ["web", "app"]}}}
    (schemas / "OrderPlaced.json").write_text(json.dumps(v2))
    monkeypatch.setattr(envelope, "SCHEMA_DIR", schemas)
    _clear()
    yield schemas
    monkeypatch.undo()
    _clear()


def message(version: int, data: dict[str, Any]) -> str:
    return json.dumps({"id": "m1", "type": "OrderPlaced", "version": version, "time": "2024-01-01T00:00:00Z",
                       "source": "orders", "correlation_id": "c", "data": data})


def test_today_every_type_is_published_and_read_at_version_1() -> None:
    assert all(published_version(t) == 1 and accepted_versions(t) == (1,) for t in envelope.EVENT_TYPES)
    assert Envelope(type="OrderPlaced", data=DATA, source="orders").to_dict()["version"] == 1
    with pytest.raises(InvalidEnvelope, match=r"OrderPlaced: version 2 is not one this consumer reads \(1\)"):
        parse(message(2, DATA))


def test_during_a_transition_both_versions_are_read_and_the_new_one_published(transition: Path) -> None:
    assert accepted_versions("OrderPlaced") == (1, 2)
    assert parse(message(1, DATA)).version == 1  # a message already queued, read with the v1 schema
    assert parse(message(2, {**DATA, "channel": "web"})).version == 2
    with pytest.raises(InvalidEnvelope, match=r"OrderPlaced: .*channel"):
        parse(message(2, DATA))  # v2 validated against v2's schema
    assert Envelope(type="OrderPlaced", data={**DATA, "channel": "app"}, source="orders").validate().version == 2
    with pytest.raises(InvalidEnvelope, match=r"version 3 is not one this consumer reads \(1, 2\)"):
        parse(message(3, DATA))
