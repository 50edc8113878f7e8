"""Order state machine and its persistence: PENDING -> RESERVED -> CONFIRMED, or REJECTED / CANCELLED.

Each state change commits together with its outbox rows (events to the order-events topic, commands to the
inventory-reservations queue) and, for consumed events, with the processed-event record (at most once per event id).
Once the transaction has committed, the rows it wrote are handed to ``after_commit`` (the process's outbox flusher,
which publishes them at once); the relay's sweep publishes whatever a crash left behind.

Nothing waits forever: each open state has a deadline (``deadline_at``): PENDING must get its reservation outcome
within ``Deadlines.pending_seconds`` of placement, RESERVED its payment within ``Deadlines.payment_seconds`` of the
reservation. :meth:`OrderService.expire` (the worker's sweeper) cancels orders past their deadline, which releases
their stock through the command queue and tells subscribers (OrderCancelled).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from common.envelope import Envelope
from common.failures import Permanent
from common.failures import RetryLater as _RetryLater
from common.pg import claim_event, outbox_insert, outbox_values
from contract import EventType, OrderStatus
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from orders import webhook
from orders.models import PaymentWebhookIn

SOURCE = "orders"
OPEN_STATES = (OrderStatus.PENDING, OrderStatus.RESERVED)
REASON_MAX = 500  # the events' schemas bound `reason`
_SELECT_ORDER = ("SELECT id::text AS order_id, customer_id, status, total_cents, currency, reason, created_at, "
                 "updated_at, shipping_address, revision FROM orders WHERE id = %s")
_SELECT_ORDER_FOR_UPDATE = _SELECT_ORDER + " FOR UPDATE"
# POST /orders' transaction (OrderService.place; tools/bench/bench_services.py runs the same statements in pgbench).
PLACE_ORDER = ("INSERT INTO orders (id, customer_id, status, total_cents, currency, deadline_at, shipping_address) "
               "VALUES (%s, %s, 'PENDING', %s, %s, clock_timestamp() + make_interval(secs => %s), %s) "
               "RETURNING created_at, updated_at, revision")
PLACE_LINES = "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents, product_version) VALUES "
PLACE_KEY = ("INSERT INTO idempotency_keys (customer_id, key, request_hash, order_id) "
             "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1")
FIND_KEY = "SELECT order_id::text, request_hash FROM idempotency_keys WHERE customer_id = %s AND key = %s"
# The products read model (migration 5), read in the same round trip as FIND_KEY.
READ_PRODUCTS = ("SELECT product_id, price_cents, currency, status, version FROM product_read_model "
                 "WHERE product_id = ANY(%s)")
# A row only moves to a newer version: a repeated or older event (SNS/SQS deliver twice and out of order) or a
# synchronous answer older than what an event already brought changes nothing.
REMEMBER_PRODUCTS = "INSERT INTO product_read_model (product_id, price_cents, currency, status, version) VALUES "
_REMEMBER_CONFLICT = (" ON CONFLICT (product_id) DO UPDATE SET price_cents = EXCLUDED.price_cents, "
                      "currency = EXCLUDED.currency, status = EXCLUDED.status, version = EXCLUDED.version, "
                      "updated_at = clock_timestamp() WHERE product_read_model.version < EXCLUDED.version")
log = logging.getLogger("orders.service")


class OrderNotFound(LookupError):
    pass


class InvalidTransition(RuntimeError):
    def __init__(self, status: str) -> None:
        super().__init__(f"order is {status}")
        self.status = status


class IdempotencyMismatch(RuntimeError):
    """The Idempotency-Key was used before with a different request body."""


class CurrencyChange(ValueError):
    """New lines priced in another currency than the order's."""

    def __init__(self, currency: str) -> None:
        super().__init__(f"the order is in {currency}")
        self.currency = currency


class RetryLater(_RetryLater):
    """The event cannot be applied yet (e.g. payment before the reservation outcome); SQS redelivers it."""


class UnknownOrder(Permanent):
    """An event about an order this service never wrote: orders exist before anything can refer to them, so it
    can never apply (a forged or misrouted event)."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} unknown")


@dataclass(frozen=True)
class Deadlines:
    """Seconds an order may stay PENDING (waiting for its reservation outcome) and RESERVED (waiting for payment)."""

    pending_seconds: int
    payment_seconds: int


@dataclass
class _Unit:
    """One transaction: its connection, the outbox rows and the deadlines it wrote (handed on after commit)."""

    conn: psycopg.Connection
    events: list[str] = field(default_factory=list)
    deadlines: list[datetime] = field(default_factory=list)

    def outbox(self, envelope: Envelope) -> None:
        outbox_insert(self.conn, envelope)
        self.events.append(envelope.id)


@dataclass(frozen=True)
class Line:
    product_id: str
    quantity: int
    unit_price_cents: int
    product_version: int


@dataclass(frozen=True)
class ProductPrice:
    """What an order needs of a product: its price, currency and status at ``version`` (the product's version)."""

    product_id: str
    price_cents: int
    currency: str
    status: str
    version: int

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> ProductPrice:
        """From a ProductCreated/ProductUpdated event's data."""
        return cls(str(data["product_id"]), int(data["price_cents"]), str(data["currency"]), str(data["status"]),
                   int(data["product_version"]))


def remember_products(conn: psycopg.Connection[Any], products: list[ProductPrice]) -> None:
    """Upsert ``products`` into the read model, each only if newer than the version it holds (idempotent). Rows are
    locked in product id order, so two orders learning the same products cannot deadlock."""
    if products:
        ordered = sorted(products, key=lambda p: p.product_id)
        conn.execute(REMEMBER_PRODUCTS + ", ".join(["(%s, %s, %s, %s, %s)"] * len(ordered)) + _REMEMBER_CONFLICT,
                     [v for p in ordered for v in (p.product_id, p.price_cents, p.currency, p.status, p.version)])


def _products(rows: list[tuple[Any, ...]]) -> dict[str, ProductPrice]:
    return {r[0]: ProductPrice(r[0], int(r[1]), r[2], r[3], int(r[4])) for r in rows}


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class OrderService:
    def __init__(self, pool: ConnectionPool, deadlines: Deadlines, *,
                 after_commit: Callable[[list[str]], None] | None = None,
                 on_deadline: Callable[[datetime], None] | None = None) -> None:
        self.pool = pool
        self.deadlines = deadlines
        self.after_commit = after_commit
        self.on_deadline = on_deadline

    @contextmanager
    def _unit(self, pipeline: bool = False) -> Iterator[_Unit]:
        """A transaction; after it commits, its outbox rows go to ``after_commit`` and its deadlines to
        ``on_deadline``. Nothing is handed on when it rolls back. ``pipeline``: statements are sent without waiting
        for each one's result (libpq pipeline mode); a result is waited for only where the caller reads it."""
        with self.pool.connection() as conn:
            with conn.pipeline() if pipeline else contextlib.nullcontext(), conn.transaction():
                unit = _Unit(conn)
                yield unit
        if unit.events and self.after_commit is not None:
            self.after_commit(unit.events)
        if self.on_deadline is not None:
            for at in unit.deadlines:
                self.on_deadline(at)

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
        with self.pool.connection() as conn, conn.transaction():  # the order and its lines from one snapshot
            order = self._load(conn, order_id)
        if order is None or order["customer_id"] != customer_id:
            raise OrderNotFound(order_id)  # another customer's order is indistinguishable from a missing one
        return order

    def list_for(self, customer_id: str, limit: int, before: tuple[datetime, str] | None) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.transaction():
            if before is None:
                rows = conn.execute("SELECT id::text FROM orders WHERE customer_id = %s "
                                    "ORDER BY created_at DESC, id DESC LIMIT %s", (customer_id, limit)).fetchall()
            else:
                rows = conn.execute("SELECT id::text FROM orders WHERE customer_id = %s AND (created_at, id) < (%s, %s)"
                                    " ORDER BY created_at DESC, id DESC LIMIT %s",
                                    (customer_id, before[0], before[1], limit)).fetchall()
            return [o for (oid,) in rows if (o := self._load(conn, oid)) is not None]

    def find_by_key(self, customer_id: str, key: str, body_hash: str) -> dict[str, Any] | None:
        return self.lookup(customer_id, key, body_hash, [])[0]

    def lookup(self, customer_id: str, key: str, body_hash: str,
               product_ids: list[str]) -> tuple[dict[str, Any] | None, dict[str, ProductPrice]]:
        """POST /orders' first round trip: the order placed earlier with this Idempotency-Key (None if none), and
        what the products read model knows of ``product_ids`` (see :meth:`read_products`), as one pipeline."""
        with self.pool.connection() as conn:
            with conn.pipeline():
                found = conn.execute(FIND_KEY, (customer_id, key))
                known = conn.execute(READ_PRODUCTS, (product_ids,)) if product_ids else None
            row = found.fetchone()
            if row is None:
                return None, _products(known.fetchall()) if known else {}
            if row[1] != body_hash:
                raise IdempotencyMismatch(key)
            with conn.transaction():
                return self._load(conn, row[0]), {}

    def read_products(self, product_ids: list[str]) -> dict[str, ProductPrice]:
        """The products read model's rows of ``product_ids`` (absent: unknown to it; the caller asks products).

        Staleness bound: a row is as fresh as the product events orders has consumed. A price change or a
        discontinuation reaches it within the event pipeline's latency (products' outbox relay, SNS, SQS, this
        worker: about a second when healthy; while the pipeline is down, until it catches up, the queue keeping
        every event; an event dead-lettered, until it is redriven, its DLQ alarm calling for that). An order placed
        in that window is priced at the previous version, exactly as an order whose synchronous call to products
        raced the update; the ProductUpdated then reprices or rejects it while it is still PENDING or RESERVED
        (:meth:`on_product_updated`), as it did every order before the read model."""
        with self.pool.connection() as conn:
            return _products(conn.execute(READ_PRODUCTS, (product_ids,)).fetchall())

    # --- commands from the API ---------------------------------------------------------------------------------
    def place(self, customer_id: str, key: str, body_hash: str, lines: list[Line], currency: str,
              shipping_address: str | None = None,
              learned: list[ProductPrice] | None = None) -> tuple[dict[str, Any], bool]:
        """Create the order, or return the one created earlier with this Idempotency-Key: (order, created).

        Two round trips: the transaction's statements go out as one pipeline (the order, its lines and its outbox
        rows as multi-row inserts, the reply's timestamps from RETURNING, and the ``learned`` products, those the
        read model did not know and products answered for, into the read model), then its COMMIT."""
        order_id = str(uuid.uuid4())
        total = sum(line.quantity * line.unit_price_cents for line in lines)
        stock_lines = [{"product_id": ln.product_id, "quantity": ln.quantity} for ln in lines]
        events = [
            Envelope(type=EventType.ORDER_PLACED, source=SOURCE, data={
                "order_id": order_id, "customer_id": customer_id, "total_cents": total, "currency": currency,
                "lines": [{"product_id": ln.product_id, "quantity": ln.quantity,
                           "unit_price_cents": ln.unit_price_cents} for ln in lines]}),
            Envelope(type=EventType.RESERVE_STOCK, source=SOURCE, data={"order_id": order_id, "lines": stock_lines}),
        ]
        outbox_sql, outbox_params = outbox_values(events)
        with self._unit(pipeline=True) as unit:
            conn = unit.conn
            placed = conn.execute(PLACE_ORDER, (order_id, customer_id, total, currency,
                                                self.deadlines.pending_seconds, shipping_address))
            conn.execute(place_lines_sql(len(lines)),
                         [v for ln in lines for v in (order_id, ln.product_id, ln.quantity, ln.unit_price_cents,
                                                      ln.product_version)])
            # A concurrent request with the same key blocks here until the first commits, then inserts nothing.
            won = conn.execute(PLACE_KEY, (customer_id, key, body_hash, order_id))
            conn.execute(outbox_sql, outbox_params)
            remember_products(conn, learned or [])
            if won.fetchone() is None:  # the pipeline's one wait: every statement above has run
                raise _LostRace
            created_at, updated_at, revision = placed.fetchone() or (None, None, None)
            unit.events.extend(envelope.id for envelope in events)
        order = {"order_id": order_id, "customer_id": customer_id, "status": OrderStatus.PENDING,
                 "total_cents": total,
                 "currency": currency, "reason": None, "created_at": created_at, "updated_at": updated_at,
                 "shipping_address": shipping_address, "revision": revision,
                 "lines": sorted(({"product_id": ln.product_id, "quantity": ln.quantity,
                                   "unit_price_cents": ln.unit_price_cents} for ln in lines),
                                 key=lambda ln: str(ln["product_id"]))}
        return order, True

    def place_idempotent(self, customer_id: str, key: str, body_hash: str, lines: list[Line], currency: str,
                         shipping_address: str | None = None,
                         learned: list[ProductPrice] | None = None) -> tuple[dict[str, Any], bool]:
        try:
            return self.place(customer_id, key, body_hash, lines, currency, shipping_address, learned)
        except _LostRace:
            existing = self.find_by_key(customer_id, key, body_hash)
            assert existing is not None
            return existing, False

    def cancel(self, order_id: str, customer_id: str) -> dict[str, Any]:
        with self._unit() as unit:
            order = self._load(unit.conn, order_id, lock=True)
            if order is None or order["customer_id"] != customer_id:
                raise OrderNotFound(order_id)
            if order["status"] == OrderStatus.CANCELLED:
                return order  # cancelling twice is not an error
            if order["status"] not in OPEN_STATES:
                raise InvalidTransition(order["status"])
            self._close(unit, order, OrderStatus.CANCELLED, "cancelled by customer")
        with self.pool.connection() as conn, conn.transaction():
            result = self._load(conn, order_id)
        assert result is not None
        return result

    def change(self, order_id: str, customer_id: str, key: str, body_hash: str, lines: list[Line] | None,
               currency: str | None, shipping_address: str | None,
               learned: list[ProductPrice] | None = None) -> tuple[dict[str, Any], bool]:
        """Change an open order (PENDING or RESERVED: not paid yet), or return it as it is when this Idempotency-Key
        changed it before: (order, changed). New lines are a new revision: the order is PENDING again until
        inventory reserves them, and one ReserveStock both reserves them and releases the previous revision.
        ``learned``: products the read model did not know (priced by the call to products), stored with it."""
        replayed = False
        try:
            with self._unit() as unit:
                conn = unit.conn
                remember_products(conn, learned or [])
                order = self._load(conn, order_id, lock=True)
                if order is None or order["customer_id"] != customer_id:
                    raise OrderNotFound(order_id)
                replayed = self._replayed(conn, customer_id, key, body_hash)
                if not replayed:
                    self._apply_change(unit, order, key, body_hash, lines, currency, shipping_address)
        except _LostRace:
            with self.pool.connection() as conn:  # a concurrent request with this key committed first
                replayed = self._replayed(conn, customer_id, key, body_hash)
        with self.pool.connection() as conn, conn.transaction():  # the order and its lines from one snapshot
            result = self._load(conn, order_id)
        assert result is not None
        return result, not replayed

    def _apply_change(self, unit: _Unit, order: dict[str, Any], key: str, body_hash: str, lines: list[Line] | None,
                      currency: str | None, shipping_address: str | None) -> None:
        conn, order_id = unit.conn, order["order_id"]
        if order["status"] not in OPEN_STATES:
            raise InvalidTransition(order["status"])
        if lines is not None and currency != order["currency"]:
            raise CurrencyChange(order["currency"])
        won = conn.execute("INSERT INTO idempotency_keys (customer_id, key, request_hash, order_id) "
                           "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                           (order["customer_id"], key, body_hash, order_id)).fetchone()
        if won is None:
            raise _LostRace
        if shipping_address is not None:
            conn.execute("UPDATE orders SET shipping_address = %s, updated_at = clock_timestamp() WHERE id = %s",
                         (shipping_address, order_id))
        current = {ln["product_id"]: ln["quantity"] for ln in order["lines"]}
        if lines is not None and {ln.product_id: ln.quantity for ln in lines} != current:
            self._revise(unit, order, lines)

    def _replayed(self, conn: psycopg.Connection[Any], customer_id: str, key: str, body_hash: str) -> bool:
        row = conn.execute("SELECT request_hash FROM idempotency_keys WHERE customer_id = %s AND key = %s",
                           (customer_id, key)).fetchone()
        if row is None:
            return False
        if row[0] != body_hash:
            raise IdempotencyMismatch(key)
        return True

    def _revise(self, unit: _Unit, order: dict[str, Any], lines: list[Line]) -> None:
        conn, order_id = unit.conn, order["order_id"]
        revision = int(order["revision"]) + 1
        conn.execute("DELETE FROM order_lines WHERE order_id = %s", (order_id,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents, product_version)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(order_id, ln.product_id, ln.quantity, ln.unit_price_cents, ln.product_version) for ln in lines])
        row = conn.execute(
            "UPDATE orders SET status = 'PENDING', revision = %s, total_cents = %s, updated_at = clock_timestamp(), "
            "deadline_at = clock_timestamp() + make_interval(secs => %s) WHERE id = %s RETURNING deadline_at",
            (revision, sum(ln.quantity * ln.unit_price_cents for ln in lines), self.deadlines.pending_seconds,
             order_id)).fetchone()
        assert row is not None
        unit.deadlines.append(row[0])
        unit.outbox(Envelope(type=EventType.RESERVE_STOCK, source=SOURCE, data={
            "order_id": order_id, "revision": revision,
            "lines": [{"product_id": ln.product_id, "quantity": ln.quantity} for ln in lines],
            "replaces": {"revision": int(order["revision"]),
                         "lines": [{"product_id": ln["product_id"], "quantity": ln["quantity"]}
                                   for ln in order["lines"]]}}))
        log.info("order lines changed", extra={"order_id": order_id, "revision": revision})

    def accept_payment_report(self, report: PaymentWebhookIn) -> Envelope:
        """A verified webhook report: checked against its order, its event id recorded and its event in the outbox,
        in one transaction (orders/webhook.py); raises webhook.Rejection with nothing written."""
        with self._unit() as unit:
            env = webhook.accept(unit.conn, report)
            unit.events.append(env.id)
        return env

    def record_webhook_rejection(self, rejection: webhook.Rejection, body: bytes,
                                 report: PaymentWebhookIn | None) -> None:
        with self.pool.connection() as conn:
            webhook.record_rejection(conn, rejection, body, report)

    def expire(self, limit: int = 100) -> tuple[int, datetime | None]:
        """Cancel open orders past their deadline (at most ``limit``, skipping rows other sweepers hold): their
        stock is released and OrderCancelled published. Returns (how many, the next deadline of an open order)."""
        with self._unit() as unit:
            ids = [r[0] for r in unit.conn.execute(
                "SELECT id::text FROM orders WHERE status IN ('PENDING', 'RESERVED') AND deadline_at <= "
                "clock_timestamp() ORDER BY deadline_at LIMIT %s FOR UPDATE SKIP LOCKED", (limit,)).fetchall()]
            for oid in ids:
                order = self._load(unit.conn, oid)
                assert order is not None
                if order["status"] == OrderStatus.PENDING:
                    reason = (f"deadline passed: no reservation outcome within "
                              f"{self.deadlines.pending_seconds} s of placing the order")
                else:
                    reason = f"deadline passed: no payment within {self.deadlines.payment_seconds} s of reservation"
                self._close(unit, order, OrderStatus.CANCELLED, reason)
                log.info("order expired", extra={"order_id": oid, "status": order["status"]})
            row = unit.conn.execute("SELECT min(deadline_at) FROM orders WHERE status IN ('PENDING', 'RESERVED')"
                                    ).fetchone()
        return len(ids), (row[0] if row else None)

    def _close(self, unit: _Unit, order: dict[str, Any], status: str, reason: str) -> None:
        """PENDING/RESERVED -> CANCELLED/REJECTED: release whatever inventory holds and tell subscribers."""
        unit.conn.execute("UPDATE orders SET status = %s, reason = %s, updated_at = clock_timestamp() WHERE id = %s",
                          (status, reason, order["order_id"]))
        stock_lines = [{"product_id": ln["product_id"], "quantity": ln["quantity"]} for ln in order["lines"]]
        unit.outbox(Envelope(type=EventType.RELEASE_STOCK, source=SOURCE,
                             data={"order_id": order["order_id"], "lines": stock_lines, "reason": reason[:REASON_MAX],
                                   **_revision(order["revision"])}))
        unit.outbox(Envelope(type=EventType.ORDER_CANCELLED, source=SOURCE, data={
            "order_id": order["order_id"], "customer_id": order["customer_id"], "reason": reason[:REASON_MAX],
            "status": status}))

    # --- consumed events ---------------------------------------------------------------------------------------
    def _claimed_order(self, unit: _Unit, event: Envelope) -> dict[str, Any] | None:
        """The event's order, locked, with the event recorded as processed; None if it was processed already."""
        if not claim_event(unit.conn, event):
            return None
        order = self._load(unit.conn, event.data["order_id"], lock=True)
        if order is None:
            raise UnknownOrder(event.data["order_id"])
        return order

    def on_stock_reserved(self, event: Envelope) -> None:
        with self._unit() as unit:
            order = self._claimed_order(unit, event)
            if order is None:
                return
            if int(event.data.get("revision", 0)) != order["revision"]:
                # The outcome of lines the customer has changed since: the command that reserves the new lines
                # releases this reservation (or, if it came first, made sure this one was rejected).
                log.info("outcome of a replaced revision ignored", extra={
                    "order_id": order["order_id"], "revision": event.data.get("revision", 0)})
                return
            if order["status"] == OrderStatus.PENDING:
                row = unit.conn.execute(
                    "UPDATE orders SET status = 'RESERVED', updated_at = clock_timestamp(), "
                    "deadline_at = clock_timestamp() + make_interval(secs => %s) WHERE id = %s RETURNING deadline_at",
                    (self.deadlines.payment_seconds, order["order_id"])).fetchone()
                assert row is not None
                unit.deadlines.append(row[0])
            elif order["status"] in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
                # Closed while the reservation was in flight: give the stock back.
                unit.outbox(Envelope(type=EventType.RELEASE_STOCK, source=SOURCE, data={
                    "order_id": order["order_id"], "lines": event.data["lines"],
                    "reason": f"order {order['status'].lower()} before reservation completed",
                    **_revision(order["revision"])}))

    def on_stock_rejected(self, event: Envelope) -> None:
        with self._unit() as unit:
            order = self._claimed_order(unit, event)
            if order is None:
                return
            if order["status"] == OrderStatus.PENDING and int(event.data.get("revision", 0)) == order["revision"]:
                reason = f"stock rejected: {event.data['reason']}"[:REASON_MAX]
                unit.conn.execute("UPDATE orders SET status = 'REJECTED', reason = %s, "
                                  "updated_at = clock_timestamp() WHERE id = %s", (reason, order["order_id"]))
                unit.outbox(Envelope(type=EventType.ORDER_CANCELLED, source=SOURCE, data={
                    "order_id": order["order_id"], "customer_id": order["customer_id"], "reason": reason,
                    "status": OrderStatus.REJECTED}))

    def on_payment_confirmed(self, event: Envelope) -> None:
        with self._unit() as unit:
            order = self._load(unit.conn, event.data["order_id"], lock=True)
            if order is None:
                raise UnknownOrder(event.data["order_id"])
            if order["status"] == OrderStatus.PENDING:
                raise RetryLater("payment arrived before the reservation outcome")
            if not claim_event(unit.conn, event):
                return
            if order["status"] != OrderStatus.RESERVED:
                # The money moved all the same: its record is what a refund starts from.
                record_payment(unit.conn, event, OrderStatus.CONFIRMED)
                log.warning("payment for an order that is not reserved; refund is the provider's job",
                            extra={"order_id": order["order_id"], "status": order["status"]})
                return
            if int(event.data["amount_cents"]) != int(order["total_cents"]) or \
                    event.data["currency"] != order["currency"]:
                raise Permanent("payment amount does not match the order total")  # -> DLQ for a human
            record_payment(unit.conn, event, OrderStatus.CONFIRMED)
            unit.conn.execute("UPDATE orders SET status = 'CONFIRMED', updated_at = clock_timestamp() WHERE id = %s",
                              (order["order_id"],))
            unit.outbox(Envelope(type=EventType.ORDER_CONFIRMED, source=SOURCE, data={
                "order_id": order["order_id"], "customer_id": order["customer_id"],
                "total_cents": int(order["total_cents"]), "currency": order["currency"]}))

    def on_payment_failed(self, event: Envelope) -> None:
        """A declined or failed payment is recorded; the order stays as it is (the customer may pay again until its
        payment deadline, after which the sweeper cancels it)."""
        with self._unit() as unit:
            order = self._load(unit.conn, event.data["order_id"], lock=True)
            if order is None:
                raise UnknownOrder(event.data["order_id"])
            if not claim_event(unit.conn, event):
                return
            record_payment(unit.conn, event, "FAILED")
            log.info("payment failed", extra={"order_id": order["order_id"], "status": order["status"],
                                              "reason": event.data["reason"]})

    def on_product_created(self, event: Envelope) -> None:
        """A new product enters the read model, so the first order of it needs no call to products."""
        with self._unit() as unit:
            if claim_event(unit.conn, event):
                remember_products(unit.conn, [ProductPrice.from_event(event.data)])

    def on_product_updated(self, event: Envelope) -> None:
        """The read model moves to the new version; pending orders of the product are repriced, or rejected when
        it was discontinued."""
        d = event.data
        with self._unit() as unit:
            conn = unit.conn
            if not claim_event(conn, event):
                return
            remember_products(conn, [ProductPrice.from_event(d)])
            ids = [r[0] for r in conn.execute(
                "SELECT o.id::text FROM orders o JOIN order_lines l ON l.order_id = o.id "
                "WHERE l.product_id = %s AND o.status IN ('PENDING', 'RESERVED') ORDER BY o.id FOR UPDATE OF o",
                (d["product_id"],)).fetchall()]
            for oid in ids:
                order = self._load(conn, oid)
                assert order is not None
                if d["status"] == "DISCONTINUED":
                    self._close(unit, order, OrderStatus.REJECTED, f"product {d['product_id']} was discontinued")
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
        with self._unit() as unit:
            if not claim_event(unit.conn, event):
                return
            unit.conn.execute("INSERT INTO customers (id, email, name) VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE "
                              "SET email = EXCLUDED.email, name = EXCLUDED.name", (d["user_id"], d["email"], d["name"]))


def place_lines_sql(n: int) -> str:
    """The multi-row INSERT of an order's ``n`` lines."""
    return PLACE_LINES + ", ".join(["(%s, %s, %s, %s, %s)"] * n)


class _LostRace(Exception):
    """Another request with the same Idempotency-Key committed first."""


DEFAULT_PROVIDER = "payment-provider"  # events published before they named their provider


def record_payment(conn: psycopg.Connection[Any], event: Envelope, status: str) -> bool:
    """The payment an event reports, once: the provider's reference and outcome are unique, so a redelivery (or the
    same payment reported by another event) adds nothing. True when this call recorded it."""
    d = event.data
    row = conn.execute(
        "INSERT INTO payments (id, order_id, provider, provider_reference, method_type, amount_cents, currency, "
        "status, failure_reason, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (provider, provider_reference, status) DO NOTHING RETURNING 1",
        (str(uuid.uuid4()), d["order_id"], d.get("provider", DEFAULT_PROVIDER), d["payment_id"],
         d.get("method_type", "unknown"), int(d["amount_cents"]), d["currency"], status, d.get("reason"),
         d.get("occurred_at", event.time))).fetchone()
    return row is not None


def _revision(revision: int) -> dict[str, int]:
    """The ``revision`` field of a command or event about an order's lines: absent for revision 0 (as placed), so
    those messages are what they were before orders could change."""
    return {"revision": revision} if revision else {}
