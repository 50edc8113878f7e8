"""Envelope and JSON Schemas: every event type has a schema; invalid messages are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from common.envelope import EVENT_TYPES, SCHEMA_DIR, Envelope, InvalidEnvelope, parse
from tools.local.poison import valid_data

SAMPLES: dict[str, dict[str, Any]] = {
    "ProductCreated": {"product_id": "p1", "name": "Mug", "price_cents": 1200, "currency": "EUR",
                       "status": "ACTIVE", "product_version": 1},
    "ProductUpdated": {"product_id": "p1", "name": "Mug", "price_cents": 1300, "currency": "EUR",
                       "status": "DISCONTINUED", "product_version": 2},
    "OrderPlaced": {"order_id": "o1", "customer_id": "c1", "total_cents": 2400, "currency": "EUR",
                    "lines": [{"product_id": "p1", "quantity": 2, "unit_price_cents": 1200}]},
    "OrderConfirmed": {"order_id": "o1", "customer_id": "c1", "total_cents": 2400, "currency": "EUR"},
    "OrderCancelled": {"order_id": "o1", "customer_id": "c1", "reason": "cancelled by customer", "status": "CANCELLED"},
    "StockReserved": {"order_id": "o1", "lines": [{"product_id": "p1", "quantity": 2}]},
    "StockRejected": {"order_id": "o1", "reason": "insufficient stock"},
    "InventoryUpdated": {"product_id": "p1", "available": 3, "reserved": 2, "reason": "adjust"},
    "UserRegistered": {"user_id": "u1", "email": "a@example.com", "name": "A"},
    "UserPreferencesChanged": {"user_id": "u1", "version": 2, "language": "es-MX", "currency": "MXN",
                               "notifications": {"email": {"order_updates": False, "marketing": True}}},
    "EmailBounced": {"addresses": ["a@example.com"], "bounce_type": "Permanent", "bounce_sub_type": "General",
                     "feedback_id": "f1", "ses_message_id": "m1"},
    "EmailComplained": {"addresses": ["a@example.com"], "complaint_feedback_type": "abuse", "feedback_id": "f1",
                        "ses_message_id": "m1"},
    "PaymentConfirmed": {"order_id": "o1", "payment_id": "pay1", "amount_cents": 2400, "currency": "EUR",
                         "provider": "payment-provider", "method_type": "card", "occurred_at": "2026-11-27T10:00:00Z"},
    "PaymentFailed": {"order_id": "o1", "payment_id": "pay1", "amount_cents": 2400, "currency": "EUR",
                      "reason": "card declined", "method_type": "wallet"},
    "ReserveStock": {"order_id": "o1", "lines": [{"product_id": "p1", "quantity": 2}]},
    "ReleaseStock": {"order_id": "o1", "lines": [{"product_id": "p1", "quantity": 2}], "reason": "cancelled"},
}


def sample(event_type: str) -> dict[str, Any]:
    """The hand-written sample above, or for a type without one the smallest data its schema accepts."""
    return SAMPLES.get(event_type) or valid_data(event_type, "sample-1")


def test_a_schema_file_per_event_type() -> None:
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted([*EVENT_TYPES, "envelope"])
    assert set(SAMPLES) <= set(EVENT_TYPES)


def test_order_cancelled_without_its_status_is_still_valid() -> None:
    """Events written before OrderCancelled carried its status stay readable (the notifier reads them as
    CANCELLED)."""
    old = {k: v for k, v in SAMPLES["OrderCancelled"].items() if k != "status"}
    assert parse(Envelope(type="OrderCancelled", source="orders", data=old).to_json()).data == old
    with pytest.raises(InvalidEnvelope):
        Envelope(type="OrderCancelled", source="orders", data={**old, "status": "CONFIRMED"}).validate()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_valid_sample_round_trips(event_type: str) -> None:
    env = Envelope(type=event_type, source="test", data=sample(event_type)).validate()
    back = parse(env.to_json())
    assert back == env


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_missing_data_field_is_refused(event_type: str) -> None:
    data = dict(sample(event_type))
    data.pop(next(iter(data)))
    with pytest.raises(InvalidEnvelope):
        Envelope(type=event_type, source="test", data=data).validate()


@pytest.mark.parametrize("body", [
    "not json", "[]", json.dumps({"type": "ReserveStock"}),
    json.dumps({"id": "1", "type": "Nope", "version": 1, "time": "2024-01-01T00:00:00Z", "source": "x",
                "correlation_id": "c", "data": {}}),
    json.dumps({"id": "1", "type": "ReserveStock", "version": 2, "time": "2024-01-01T00:00:00Z", "source": "x",
                "correlation_id": "c", "data": SAMPLES["ReserveStock"]}),
    json.dumps({"id": "1", "type": "ReserveStock", "version": 1, "time": "2024-01-01T00:00:00Z", "source": "x",
                "correlation_id": "c", "data": {"order_id": "o", "lines": [{"product_id": "p", "quantity": 0}]}}),
])
def test_invalid_messages_are_refused(body: str) -> None:
    with pytest.raises(InvalidEnvelope):
        parse(body)
