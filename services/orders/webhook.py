"""The payment provider's webhook: who may report a payment, and what a report becomes.

A request is the provider's when its ``Webhook-Signature`` is ``v1=<hex HMAC-SHA256>`` of ``"<timestamp>.<raw body>"``
under the secret the provider and the platform share (a generated string in Secrets Manager, created by the Data
stack; the provider is given it when the integration is set up). The comparison is constant-time
(:func:`hmac.compare_digest`). ``Webhook-Timestamp`` (Unix seconds, inside the signed text) must be within
``TOLERANCE_SECONDS`` of this server's clock, so a captured request stops working minutes later; within that window
the event id, accepted once only (``payment_webhook_events``), refuses the replay.

Accepted: the outcome is written to the outbox (PaymentConfirmed or PaymentFailed, payment-events topic) in the same
transaction that records the event id; the orders worker records the payment and confirms the order from it.
Refused: the reason is recorded in ``payment_webhook_rejections`` (never the body itself: it may be forged or
hostile; its SHA-256 identifies it) and the caller gets a 4xx JSON body naming the problem.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from common.envelope import Envelope
from common.pg import outbox_insert
from contract import EventType
from contract.limits import WEBHOOK_TIMESTAMP_DIGITS

from orders.db import SecretConninfo
from orders.models import PaymentWebhookIn

SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300  # how old (or how far ahead) a signed timestamp may be
SECRET_REFRESH_SECONDS = 60  # a rotated secret is read again at most this often when a signature does not verify
SOURCE = "orders"
# ASCII digits only: str.isdigit() also takes "²" or "٣", which int() then refuses or reads as another number.
_UNIX_SECONDS = re.compile(f"[0-9]{{1,{WEBHOOK_TIMESTAMP_DIGITS.value}}}")


class Rejection(Exception):
    """Why a request was refused: an HTTP status, a stable error code and a message for the provider."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of ``Webhook-Signature`` for this timestamp and body (what the provider computes)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={mac}"


def signing_secret(load: Callable[[], str]) -> SecretConninfo:
    """The shared secret, read by ``load`` and cached; read again (at most once per ``SECRET_REFRESH_SECONDS``)
    when a signature does not verify, so a rotation reaches running pods without letting bad signatures make a
    Secrets Manager call each (the same cache as the database password's)."""
    return SecretConninfo(load, min_interval=SECRET_REFRESH_SECONDS)


def verify(secret: SecretConninfo, timestamp: str, provided: str, body: bytes, now: float) -> None:
    """Raise :class:`Rejection` unless ``provided`` signs ``timestamp`` and ``body`` and the timestamp is recent."""
    if _UNIX_SECONDS.fullmatch(timestamp) is None:
        raise Rejection(401, "bad_timestamp", "Webhook-Timestamp must be the signing time in Unix seconds")
    current = secret()
    if not hmac.compare_digest(signature(current, timestamp, body).encode(), provided.encode()):
        fresh = secret.refresh()  # the secret may have been rotated since it was read
        if fresh == current or not hmac.compare_digest(signature(fresh, timestamp, body).encode(),
                                                       provided.encode()):
            raise Rejection(401, "bad_signature", "Webhook-Signature does not match the body and timestamp")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise Rejection(401, "stale_timestamp", f"Webhook-Timestamp is more than {TOLERANCE_SECONDS} s from now")


def envelope(report: PaymentWebhookIn) -> Envelope:
    """The event a verified report becomes."""
    data: dict[str, Any] = {
        "order_id": report.order_id, "payment_id": report.payment_id, "amount_cents": report.amount_cents,
        "currency": report.currency, "provider": "payment-provider", "method_type": report.method_type,
        "occurred_at": datetime.fromtimestamp(report.occurred_at, UTC).isoformat().replace("+00:00", "Z"),
    }
    if report.type == "payment.succeeded":
        return Envelope(type=EventType.PAYMENT_CONFIRMED, source=SOURCE, data=data)
    return Envelope(type=EventType.PAYMENT_FAILED, source=SOURCE,
                    data={**data, "reason": report.failure_reason or "declined by the payment provider"})


def accept(conn: psycopg.Connection[Any], report: PaymentWebhookIn) -> Envelope:
    """In the caller's transaction: check the report against the order and record its event id, then put its event
    in the outbox. Raises :class:`Rejection` (nothing written) for a replay, an unknown order or a wrong amount."""
    try:
        order_id: UUID | None = UUID(report.order_id)
    except ValueError:
        order_id = None  # not even an order id's shape
    row = None if order_id is None else conn.execute(
        "SELECT total_cents, currency FROM orders WHERE id = %s FOR SHARE", (order_id,)).fetchone()
    if row is None:
        raise Rejection(422, "unknown_order", f"order_id {report.order_id} is not an order of this shop")
    if report.type == "payment.succeeded" and (int(row[0]) != report.amount_cents or row[1] != report.currency):
        raise Rejection(422, "amount_mismatch", f"amount_cents/currency {report.amount_cents} {report.currency} "
                                                f"differ from the order's total {row[0]} {row[1]}")
    first = conn.execute("INSERT INTO payment_webhook_events (event_id, order_id) VALUES (%s, %s) "
                         "ON CONFLICT DO NOTHING RETURNING 1", (report.event_id, report.order_id)).fetchone()
    if first is None:
        raise Rejection(409, "replayed_event", f"event_id {report.event_id} was accepted before; it is applied once")
    env = envelope(report)
    outbox_insert(conn, env)
    return env


def record_rejection(conn: psycopg.Connection[Any], rejection: Rejection, body: bytes,
                     report: PaymentWebhookIn | None) -> None:
    conn.execute("INSERT INTO payment_webhook_rejections (error, message, event_id, order_id, body_sha256) "
                 "VALUES (%s, %s, %s, %s, %s)",
                 (rejection.error, rejection.message[:500], report.event_id if report else None,
                  report.order_id if report else None, hashlib.sha256(body).hexdigest()))
