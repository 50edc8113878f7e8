"""Orders in PostgreSQL: schema migrations (applied at startup, idempotent) and the pool."""

from __future__ import annotations

import logging

from common.pg import OUTBOX_DDL
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


def open_pool(conninfo: str, max_size: int) -> ConnectionPool:
    pool = ConnectionPool(conninfo, min_size=1, max_size=max_size, timeout=5, open=False, name="orders")
    pool.open(wait=True, timeout=30)
    return pool
