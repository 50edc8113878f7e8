"""Orders in PostgreSQL: schema migrations (applied at startup, idempotent) and the pool.

The pool keeps no connection it does not use: it starts empty (``min_size=0``) and closes connections idle for
``max_idle`` seconds, so nothing holds the database open between bursts of work (dev's Aurora Serverless v2 pauses at
0 ACU only when no connection is open). Its password comes from the Secrets Manager secret and is read again when the
server refuses it: after a rotation, new connections use the new password while the open ones stay as they are.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from common.pg import OUTBOX_DDL, OUTBOX_DEAD_LETTERS_DDL
from psycopg_pool import ConnectionPool

log = logging.getLogger("orders.db")

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
CREATE TABLE orders (
    id          uuid PRIMARY KEY,
    customer_id text NOT NULL,
    status      text NOT NULL CHECK (status IN ('PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'CANCELLED')),
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    currency    char(3) NOT NULL,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC, id DESC);
CREATE TABLE order_lines (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity > 0),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
    product_version  integer NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX order_lines_by_product ON order_lines (product_id);
CREATE TABLE idempotency_keys (
    customer_id  text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    order_id     uuid NOT NULL REFERENCES orders (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, key)
);
CREATE TABLE customers (
    id            text PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now()
);
""" + OUTBOX_DDL),
    # Deadlines of the open states (OrderService.expire). Orders open before this migration get an hour from now.
    (2, """
ALTER TABLE orders ADD COLUMN deadline_at timestamptz;
UPDATE orders SET deadline_at = clock_timestamp() + interval '1 hour' WHERE status IN ('PENDING', 'RESERVED');
CREATE INDEX orders_open_by_deadline ON orders (deadline_at) WHERE status IN ('PENDING', 'RESERVED');
"""),
    # Changes of open orders (PUT /orders/{id}): the shipping address, and the revision of the lines, which names
    # the reservation inventory holds for them (each revision has its own; reservation outcomes carry it).
    (3, """
ALTER TABLE orders ADD COLUMN shipping_address text;
ALTER TABLE orders ADD COLUMN revision integer NOT NULL DEFAULT 0 CHECK (revision >= 0);
"""),
    # Payments: what the payment provider reported for an order. No card number, expiry, CVC or cardholder name: the
    # provider holds those and this database never sees them (docs/security.md, "Payment data"). The webhook's
    # accepted event ids (replays are refused) and the requests it refused, with why.
    (4, """
CREATE TABLE payments (
    id                 uuid PRIMARY KEY,
    order_id           uuid NOT NULL REFERENCES orders (id),
    provider           text NOT NULL,
    provider_reference text NOT NULL,
    method_type        text NOT NULL
                       CHECK (method_type IN ('card', 'bank_transfer', 'wallet', 'direct_debit', 'other', 'unknown')),
    amount_cents       bigint NOT NULL CHECK (amount_cents >= 0),
    currency           char(3) NOT NULL,
    status             text NOT NULL CHECK (status IN ('CONFIRMED', 'FAILED')),
    failure_reason     text,
    occurred_at        timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (provider, provider_reference, status)
);
CREATE INDEX payments_by_order ON payments (order_id, occurred_at);
CREATE TABLE payment_webhook_events (
    event_id    text PRIMARY KEY,
    order_id    text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE payment_webhook_rejections (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    error       text NOT NULL,
    message     text NOT NULL,
    event_id    text,
    order_id    text,
    body_sha256 text NOT NULL
);
"""),
    # The read model of products (OrderService.read_products): the price, currency and status an order needs, fed by
    # ProductCreated/ProductUpdated (orders-product-events) and by the synchronous call to products when a product is
    # not here yet. A row only moves to a newer product version. updated_at: when this database learned that version.
    (5, """
CREATE TABLE product_read_model (
    product_id  text PRIMARY KEY,
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    currency    char(3) NOT NULL,
    status      text NOT NULL CHECK (status IN ('ACTIVE', 'DISCONTINUED')),
    version     integer NOT NULL CHECK (version >= 1),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""),
    # Outbox rows name their destination by the contract's logical name; rows that can never be published are
    # moved aside with the reason (common/pg.py).
    (6, OUTBOX_DEAD_LETTERS_DDL),
)


def migrate(pool: ConnectionPool) -> None:
    """Apply missing migrations; an advisory lock serialises replicas starting at the same time."""
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7201)")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                     "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, sql in MIGRATIONS:
            if version in applied:
                continue
            conn.execute(sql)  # static DDL text, no parameters
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            log.info("migration applied", extra={"version": version})


def password_refused(exc: psycopg.OperationalError) -> bool:
    """The server refused the credentials (SQLSTATE 28P01, which libpq reports as text on connect)."""
    text = str(exc)
    return exc.sqlstate in ("28P01", "28000") or "password authentication failed" in text


class SecretConninfo:
    """The connection string built from the database secret by ``load``, cached; :meth:`refresh` reads the secret
    again (at most once per ``min_interval`` seconds, so a wrong password does not hammer Secrets Manager)."""

    def __init__(self, load: Callable[[], str], min_interval: float = 1.0) -> None:
        self._load = load
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._value: str | None = None
        self._loaded_at = 0.0
        self.reads = 0

    def __call__(self) -> str:
        with self._lock:
            if self._value is None:
                self._read()
            assert self._value is not None
            return self._value

    def refresh(self) -> str:
        with self._lock:
            if self._value is None or time.monotonic() - self._loaded_at >= self._min_interval:
                self._read()
            assert self._value is not None
            return self._value

    def _read(self) -> None:
        self._value = self._load()
        self._loaded_at = time.monotonic()
        self.reads += 1


def _connection_class(conninfo: SecretConninfo) -> type[psycopg.Connection[Any]]:
    class SecretConnection(psycopg.Connection[Any]):
        """Connects with the cached password; when the server refuses it, reads the secret again and retries once."""

        @classmethod
        def connect(cls, conninfo_str: str = "", **kwargs: Any) -> Any:  # type: ignore[override]
            try:
                return super().connect(conninfo_str, **kwargs)
            except psycopg.OperationalError as exc:
                if not password_refused(exc):
                    raise
                fresh = conninfo.refresh()
                log.warning("database refused the password; secret read again", extra={
                    "changed": fresh != conninfo_str})
                if fresh == conninfo_str:
                    raise
                return super().connect(fresh, **kwargs)

    return SecretConnection


def open_pool(conninfo: Callable[[], str], max_size: int, max_idle: float = 60.0) -> ConnectionPool:
    """A pool over the connection string ``conninfo()`` returns (the secret, read through :class:`SecretConninfo`).

    ``min_size=0``: opening it connects nowhere; the first use does, and ``migrate`` uses it at once at startup.
    Autocommit: a lone read is one round trip (no BEGIN/COMMIT around it); every write and every read that needs
    one snapshot opens its transaction explicitly (``conn.transaction()``)."""
    source = conninfo if isinstance(conninfo, SecretConninfo) else SecretConninfo(conninfo)
    pool: ConnectionPool = ConnectionPool(source, connection_class=_connection_class(source), min_size=0,
                                          max_size=max_size, max_idle=max_idle, timeout=5, open=False, name="orders",
                                          kwargs={"autocommit": True})
    pool.open(wait=True, timeout=30)
    return pool
