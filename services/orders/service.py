"""Order state machine and its persistence: PENDING -> RESERVED -> CONFIRMED, or REJECTED / CANCELLED.

Each state change commits together with its outbox rows (events to the order-events topic, commands to the
inventory-reservations queue) and, for consumed events, with the processed-event record (at most once per event id).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from common.envelope import Envelope
from common.pg import claim_event, outbox_insert
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from orders.settings import RESERVATIONS_QUEUE, TOPIC

SOURCE = "orders"
OPEN_STATES = ("PENDING", "RESERVED")
_SELECT_ORDER = ("SELECT id::text AS order_id, customer_id, status, total_cents, currency, reason, created_at, "
                 "updated_at FROM orders WHERE id = %s")
_SELECT_ORDER_FOR_UPDATE = _SELECT_ORDER + " FOR UPDATE"
log = logging.getLogger("orders.service")


class OrderNotFound(LookupError):
    pass


class InvalidTransition(RuntimeError):
    def __init__(self, status: str) -> None:
        super().__init__(f"order is {status}")
        self.status = status


class IdempotencyMismatch(RuntimeError):
    """The Idempotency-Key was used before with a different request body."""


class RetryLater(RuntimeError):
    """The event cannot be applied yet (e.g. payment before the reservation outcome); SQS redelivers it."""


@dataclass(frozen=True)
class Line:
    product_id: str
    quantity: int
    unit_price_cents: int
    product_version: int


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class OrderService:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    # --- reads -------------------------------------------------------------------------------------------------
    def _load(self, conn: psycopg.Connection, order_id: str, lock: bool = False) -> dict[str, Any] | None:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_SELECT_ORDER_FOR_UPDATE if lock else _SELECT_ORDER, (order_id,))
            order = cur.fetchone()
            if order is None:
                return None
            cur.execute("SELECT product_id, quantity, unit_price_cents FROM order_lines WHERE order_id = %s "
                        "ORDER BY product_id", (order_id,))
            order["lines"] = cur.fetchall()
        return order

    def get(self, order_id: str, customer_id: str) -> dict[str, Any]:
        with self.pool.connection() as conn:
            order = self._load(conn, order_id)
        if order is None or order["customer_id"] != customer_id:
            raise OrderNotFound(order_id)  # another customer's order is indistinguishable from a missing one
        return order

    def list_for(self, customer_id: str, limit: int, before: tuple[datetime, str] | None) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            if before is None:
                rows = conn.execute("SELECT id::text FROM orders WHERE customer_id = %s "
                                    "ORDER BY created_at DESC, id DESC LIMIT %s", (customer_id, limit)).fetchall()
            else:
                rows = conn.execute("SELECT id::text FROM orders WHERE customer_id = %s AND (created_at, id) < (%s, %s)"
                                    " ORDER BY created_at DESC, id DESC LIMIT %s",
                                    (customer_id, before[0], before[1], limit)).fetchall()
            return [o for (oid,) in rows if (o := self._load(conn, oid)) is not None]

    def find_by_key(self, customer_id: str, key: str, body_hash: str) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT order_id::text, request_hash FROM idempotency_keys WHERE customer_id = %s "
                               "AND key = %s", (customer_id, key)).fetchone()
            if row is None:
                return None
            if row[1] != body_hash:
                raise IdempotencyMismatch(key)
            return self._load(conn, row[0])

    # --- commands from the API ---------------------------------------------------------------------------------
    def place(self, customer_id: str, key: str, body_hash: str, lines: list[Line], currency: str
              ) -> tuple[dict[str, Any], bool]:
        """Create the order, or return the one created earlier with this Idempotency-Key: (order, created)."""
        order_id = str(uuid.uuid4())
        total = sum(line.quantity * line.unit_price_cents for line in lines)
        with self.pool.connection() as conn:
            with conn.transaction():
                conn.execute("INSERT INTO orders (id, customer_id, status, total_cents, currency) "
                             "VALUES (%s, %s, 'PENDING', %s, %s)", (order_id, customer_id, total, currency))
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents, product_version)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        [(order_id, ln.product_id, ln.quantity, ln.unit_price_cents, ln.product_version)
                         for ln in lines])
                # A concurrent request with the same key blocks here until the first commits, then inserts nothing.
                won = conn.execute("INSERT INTO idempotency_keys (customer_id, key, request_hash, order_id) "
                                   "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                                   (customer_id, key, body_hash, order_id)).fetchone()
                if won is None:
                    raise _LostRace
                stock_lines = [{"product_id": ln.product_id, "quantity": ln.quantity} for ln in lines]
                outbox_insert(conn, Envelope(type="OrderPlaced", source=SOURCE, data={
                    "order_id": order_id, "customer_id": customer_id, "total_cents": total, "currency": currency,
                    "lines": [{"product_id": ln.product_id, "quantity": ln.quantity,
                               "unit_price_cents": ln.unit_price_cents} for ln in lines]}), TOPIC)
                outbox_insert(conn, Envelope(type="ReserveStock", source=SOURCE,
                                             data={"order_id": order_id, "lines": stock_lines}), RESERVATIONS_QUEUE)
            order = self._load(conn, order_id)
        assert order is not None
        return order, True

    def place_idempotent(self, customer_id: str, key: str, body_hash: str, lines: list[Line], currency: str
                         ) -> tuple[dict[str, Any], bool]:
        try:
            return self.place(customer_id, key, body_hash, lines, currency)
        except _LostRace:
            existing = self.find_by_key(customer_id, key, body_hash)
            assert existing is not None
            return existing, False

    def cancel(self, order_id: str, customer_id: str) -> dict[str, Any]:
        with self.pool.connection() as conn:
            with conn.transaction():
                order = self._load(conn, order_id, lock=True)
                if order is None or order["customer_id"] != customer_id:
                    raise OrderNotFound(order_id)
                if order["status"] == "CANCELLED":
                    return order  # cancelling twice is not an error
                if order["status"] not in OPEN_STATES:
                    raise InvalidTransition(order["status"])
                self._close(conn, order, "CANCELLED", "cancelled by customer")
            result = self._load(conn, order_id)
        assert result is not None
        return result

    def _close(self, conn: psycopg.Connection, order: dict[str, Any], status: str, reason: str) -> None:
        """PENDING/RESERVED -> CANCELLED/REJECTED: release whatever inventory holds and tell subscribers."""
        conn.execute("UPDATE orders SET status = %s, reason = %s, updated_at = clock_timestamp() WHERE id = %s",
                     (status, reason, order["order_id"]))
        stock_lines = [{"product_id": ln["product_id"], "quantity": ln["quantity"]} for ln in order["lines"]]
        outbox_insert(conn, Envelope(type="ReleaseStock", source=SOURCE,
                                     data={"order_id": order["order_id"], "lines": stock_lines, "reason": reason}),
                      RESERVATIONS_QUEUE)
        outbox_insert(conn, Envelope(type="OrderCancelled", source=SOURCE, data={
            "order_id": order["order_id"], "customer_id": order["customer_id"], "reason": reason,
            "status": status}), TOPIC)

    # --- consumed events ---------------------------------------------------------------------------------------
    def on_stock_reserved(self, event: Envelope) -> None:
        with self.pool.connection() as conn, conn.transaction():
            if not claim_event(conn, event):
                return
            order = self._load(conn, event.data["order_id"], lock=True)
            if order is None:
                raise RetryLater(f"order {event.data['order_id']} unknown")
            if order["status"] == "PENDING":
                conn.execute("UPDATE orders SET status = 'RESERVED', updated_at = clock_timestamp() WHERE id = %s",
                             (order["order_id"],))
            elif order["status"] in ("CANCELLED", "REJECTED"):
                # Closed while the reservation was in flight: give the stock back.
                outbox_insert(conn, Envelope(type="ReleaseStock", source=SOURCE, data={
                    "order_id": order["order_id"], "lines": event.data["lines"],
                    "reason": f"order {order['status'].lower()} before reservation completed"}), RESERVATIONS_QUEUE)

    def on_stock_rejected(self, event: Envelope) -> None:
        with self.pool.connection() as conn, conn.transaction():
            if not claim_event(conn, event):
                return
            order = self._load(conn, event.data["order_id"], lock=True)
            if order is None:
                raise RetryLater(f"order {event.data['order_id']} unknown")
            if order["status"] == "PENDING":
                reason = f"stock rejected: {event.data['reason']}"
                conn.execute("UPDATE orders SET status = 'REJECTED', reason = %s, updated_at = clock_timestamp() "
                             "WHERE id = %s", (reason, order["order_id"]))
                outbox_insert(conn, Envelope(type="OrderCancelled", source=SOURCE, data={
                    "order_id": order["order_id"], "customer_id": order["customer_id"], "reason": reason,
                    "status": "REJECTED"}), TOPIC)

    def on_payment_confirmed(self, event: Envelope) -> None:
        with self.pool.connection() as conn, conn.transaction():
            order = self._load(conn, event.data["order_id"], lock=True)
            if order is None:
                raise RetryLater(f"order {event.data['order_id']} unknown")
            if order["status"] == "PENDING":
                raise RetryLater("payment arrived before the reservation outcome")
            if not claim_event(conn, event):
                return
            if order["status"] != "RESERVED":
                log.warning("payment for an order that is not reserved; refund is the provider's job",
                            extra={"order_id": order["order_id"], "status": order["status"]})
                return
            if int(event.data["amount_cents"]) != int(order["total_cents"]) or \
                    event.data["currency"] != order["currency"]:
                raise RuntimeError("payment amount does not match the order total")  # -> DLQ for a human
            conn.execute("UPDATE orders SET status = 'CONFIRMED', updated_at = clock_timestamp() WHERE id = %s",
                         (order["order_id"],))
            outbox_insert(conn, Envelope(type="OrderConfirmed", source=SOURCE, data={
                "order_id": order["order_id"], "customer_id": order["customer_id"],
                "total_cents": int(order["total_cents"]), "currency": order["currency"]}), TOPIC)

    def on_product_updated(self, event: Envelope) -> None:
        d = event.data
        with self.pool.connection() as conn, conn.transaction():
            if not claim_event(conn, event):
                return
            ids = [r[0] for r in conn.execute(
                "SELECT o.id::text FROM orders o JOIN order_lines l ON l.order_id = o.id "
                "WHERE l.product_id = %s AND o.status IN ('PENDING', 'RESERVED') ORDER BY o.id FOR UPDATE OF o",
                (d["product_id"],)).fetchall()]
            for oid in ids:
                order = self._load(conn, oid)
                assert order is not None
                if d["status"] == "DISCONTINUED":
                    self._close(conn, order, "REJECTED", f"product {d['product_id']} was discontinued")
                    continue
                # Reprice; product_version guards against an older update delivered after a newer one.
                cur = conn.execute(
                    "UPDATE order_lines SET unit_price_cents = %s, product_version = %s "
                    "WHERE order_id = %s AND product_id = %s AND product_version < %s",
                    (d["price_cents"], d["product_version"], oid, d["product_id"], d["product_version"]))
                if cur.rowcount:
                    conn.execute("UPDATE orders SET total_cents = (SELECT sum(quantity * unit_price_cents) "
                                 "FROM order_lines WHERE order_id = %s), updated_at = clock_timestamp() "
                                 "WHERE id = %s", (oid, oid))
            log.info("product update applied", extra={"product_id": d["product_id"], "orders": len(ids)})

    def on_user_registered(self, event: Envelope) -> None:
        d = event.data
        with self.pool.connection() as conn, conn.transaction():
            if not claim_event(conn, event):
                return
            conn.execute("INSERT INTO customers (id, email, name) VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE "
                         "SET email = EXCLUDED.email, name = EXCLUDED.name", (d["user_id"], d["email"], d["name"]))


class _LostRace(Exception):
    """Another request with the same Idempotency-Key committed first."""
