"""Transactional outbox and processed-event dedupe for PostgreSQL-backed services (psycopg 3).

The outbox row is inserted with the same connection, inside the same transaction, as the change that causes it.
The relay takes pending rows with FOR UPDATE SKIP LOCKED, so several relay replicas share the backlog without
publishing the same row twice concurrently; a row is marked published in the transaction that locked it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from common.envelope import Envelope

OUTBOX_DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    id           uuid PRIMARY KEY,
    destination  text NOT NULL,
    type         text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (created_at) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS processed_events (
    event_id     text PRIMARY KEY,
    event_type   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
"""
PUBLISHED_RETENTION = "7 days"


def outbox_insert(conn: psycopg.Connection, envelope: Envelope, destination: str) -> None:
    """`destination` is the env var naming the topic ARN / queue URL (e.g. TOPIC_ARN_ORDER_EVENTS)."""
    envelope.validate()
    conn.execute(
        "INSERT INTO outbox (id, destination, type, payload) VALUES (%s, %s, %s, %s)",
        (envelope.id, destination, envelope.type, Jsonb(envelope.to_dict())),
    )


def claim_event(conn: psycopg.Connection, envelope: Envelope) -> bool:
    """Record the event as processed inside the caller's transaction; False if it was processed already."""
    cur = conn.execute(
        "INSERT INTO processed_events (event_id, event_type) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (envelope.id, envelope.type),
    )
    return cur.fetchone() is not None


def pending_count(pool: ConnectionPool) -> int:
    """Outbox rows not yet published (the OutboxBacklog metric)."""
    with pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()
    return int(row[0]) if row else 0


def make_relay(pool: ConnectionPool, publish: Callable[[str, str, str], None], batch: int = 50) -> Callable[[], int]:
    last_cleanup = 0.0

    def relay_once() -> int:
        nonlocal last_cleanup
        failure: Exception | None = None
        done: list[str] = []
        with pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT id::text, destination, type, payload FROM outbox WHERE published_at IS NULL "
                "ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (batch,),
            ).fetchall()
            for event_id, destination, event_type, payload in rows:
                try:
                    publish(destination, event_type, json.dumps(payload, separators=(",", ":"), sort_keys=True))
                except Exception as exc:  # keep what was published so far; retry the rest later
                    failure = exc
                    break
                done.append(event_id)
            if done:
                conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s::uuid[])", (done,))
        if failure is not None:
            raise failure
        if not rows and time.monotonic() - last_cleanup > 3600:
            last_cleanup = time.monotonic()
            with pool.connection() as conn:
                conn.execute("DELETE FROM outbox WHERE published_at < now() - %s::interval", (PUBLISHED_RETENTION,))
        return len(done)

    return relay_once
