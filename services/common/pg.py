"""Transactional outbox and processed-event dedupe for PostgreSQL-backed services (psycopg 3).

The outbox row is inserted with the same connection, inside the same transaction, as the change that causes it.
The writing process publishes it right after the commit (:class:`OutboxFlusher`); the relay sweeps up what is left
(a process that died before publishing, AWS unreachable for long). Both take pending rows with FOR UPDATE SKIP
LOCKED, so they share the work without publishing the same row twice concurrently; a row is marked published in the
transaction that locked it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from common.envelope import Envelope
from common.publisher import Publish, Undeliverable, dead_lettered, destination_of, publish_all

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
# Rows the relay can never publish (destination gone from the contract, payload failing its schema), moved out of
# the outbox with the reason so that the rows behind them go on. Outbox destinations were environment variable
# names before (TOPIC_ARN_ORDER_EVENTS); they become the contract's logical names (common/publisher.py reads both).
OUTBOX_DEAD_LETTERS_DDL = """
CREATE TABLE IF NOT EXISTS outbox_dead_letters (
    id               uuid PRIMARY KEY,
    destination      text NOT NULL,
    type             text NOT NULL,
    payload          jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason           text NOT NULL
);
UPDATE outbox SET destination = 'topic/' || replace(lower(substr(destination, 11)), '_', '-')
    WHERE destination LIKE 'TOPIC\\_ARN\\_%' AND published_at IS NULL;
UPDATE outbox SET destination = 'queue/' || replace(lower(substr(destination, 11)), '_', '-')
    WHERE destination LIKE 'QUEUE\\_URL\\_%' AND published_at IS NULL;
"""
OUTBOX_INSERT = "INSERT INTO outbox (id, destination, type, payload) VALUES "
PUBLISHED_RETENTION = "7 days"
log = logging.getLogger("outbox")


def outbox_insert(conn: psycopg.Connection, envelope: Envelope) -> None:
    """An outbox row for the destination the contract gives the envelope's type (``topic/order-events``)."""
    sql, params = outbox_values([envelope])
    conn.execute(sql, params)


def outbox_values(envelopes: list[Envelope]) -> tuple[str, list[object]]:
    """One multi-row INSERT of several outbox rows (one round trip instead of one per row): its SQL and parameters."""
    params: list[object] = []
    for envelope in envelopes:
        envelope.validate()
        params += [envelope.id, destination_of(envelope.type), str(envelope.type), Jsonb(envelope.to_dict())]
    return OUTBOX_INSERT + ", ".join(["(%s, %s, %s, %s)"] * len(envelopes)), params


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


def _publish_rows(conn: psycopg.Connection, publish: Publish, where: str,
                  params: tuple[object, ...], limit: int | None = None, *, validated: bool = False) -> int:
    """Publish the pending rows ``where`` selects, locked (SKIP LOCKED: another publisher has the rest), in batches
    (Publisher.publish_many); mark those published. A publish failure keeps what was published and raises; a row
    that can never be published (Undeliverable) moves to outbox_dead_letters with the reason, and the others go on."""
    failure: Exception | None = None
    done: list[str] = []
    dead: list[tuple[Undeliverable, str, str, str]] = []
    with conn.transaction():
        # `where` is one of this module's own fixed fragments; values are parameters.
        rows = conn.execute(
            "SELECT id::text, destination, type, payload FROM outbox WHERE published_at IS NULL AND " + where +  # noqa: S608
            " ORDER BY created_at" + (" LIMIT %s" if limit else "") + " FOR UPDATE SKIP LOCKED",
            (*params, limit) if limit else params).fetchall()
        outcomes = publish_all(publish, [(destination, event_type, json.dumps(payload, separators=(",", ":"),
                                                                              sort_keys=True))
                                         for _, destination, event_type, payload in rows], validated=validated)
        for (event_id, destination, event_type, _), outcome in zip(rows, outcomes, strict=True):
            if outcome is None:
                done.append(event_id)
            elif isinstance(outcome, Undeliverable):
                dead.append((outcome, event_id, event_type, destination))
            elif failure is None:  # kept pending: retried later
                failure = outcome
        if done:
            conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s::uuid[])", (done,))
        for undeliverable, event_id, _, _ in dead:
            conn.execute("WITH moved AS (DELETE FROM outbox WHERE id = %s::uuid RETURNING *) "
                         "INSERT INTO outbox_dead_letters (id, destination, type, payload, created_at, reason) "
                         "SELECT id, destination, type, payload, created_at, %s FROM moved",
                         (event_id, undeliverable.reason[:1000]))
    for undeliverable, event_id, event_type, destination in dead:  # reported once moved
        dead_lettered(undeliverable, event_id, event_type, destination)
    if failure is not None:
        raise failure
    return len(done)


def make_relay(pool: ConnectionPool, publish: Publish, batch: int = 50) -> Callable[[], int]:
    """One sweep of the outbox: publish up to ``batch`` pending rows (what no writer published after its commit)."""
    last_cleanup = 0.0

    def relay_once() -> int:
        nonlocal last_cleanup
        with pool.connection() as conn:
            published = _publish_rows(conn, publish, "TRUE", (), limit=batch)
            if published == 0 and time.monotonic() - last_cleanup > 3600:
                last_cleanup = time.monotonic()
                conn.execute("DELETE FROM outbox WHERE published_at < now() - %s::interval", (PUBLISHED_RETENTION,))
        return published

    return relay_once


class OutboxFlusher:
    """Publishes the outbox rows a transaction wrote right after it commits, from a background thread of the
    writing process, so events leave without waiting for the relay and without slowing the request that wrote them.

    Rows it cannot publish (AWS unreachable) are retried with backoff for ``give_up_after`` seconds, then left to the
    relay's sweep, which also covers rows of a process that died before publishing them. Call it with the ids of
    the rows (``OrderService(after_commit=flusher)``); ``close`` publishes what is queued before returning.
    """

    def __init__(self, pool: ConnectionPool, publish: Publish, *,
                 give_up_after: float = 300.0, max_backoff: float = 10.0) -> None:
        self._pool = pool
        self._publish = publish
        self._give_up_after = give_up_after
        self._max_backoff = max_backoff
        self._queue: queue.Queue[list[str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.published = 0

    def __call__(self, ids: list[str]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-flusher", daemon=True)
                self._thread.start()
        self._queue.put(list(ids))

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        pending: list[str] = []
        failing_since: float | None = None
        backoff = 0.5
        while True:
            try:
                item = self._queue.get(timeout=backoff if pending else None)
            except queue.Empty:
                item = []
            if item is None:  # closing: one last attempt at what is pending
                if pending:
                    self._flush(pending)
                return
            pending.extend(item)
            while not self._queue.empty():  # take what else is queued: one transaction for all of it
                more = self._queue.get_nowait()
                if more is None:
                    self._queue.put(None)
                    break
                pending.extend(more)
            if self._flush(pending):
                pending, failing_since, backoff = [], None, 0.5
                continue
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since > self._give_up_after:
                log.warning("outbox rows left to the relay's sweep", extra={"rows": len(pending)})
                pending, failing_since, backoff = [], None, 0.5
            else:
                backoff = min(backoff * 2, self._max_backoff)

    def _flush(self, ids: list[str]) -> bool:
        try:
            with self._pool.connection() as conn:
                # Rows this process validated when it wrote them (outbox_values), with the schemas it still has:
                # the schema check at publish is for rows an older version wrote, which the relay's sweep takes.
                self.published += _publish_rows(conn, self._publish, "id = ANY(%s::uuid[])", (ids,), validated=True)
            return True
        except Exception as exc:
            log.info("could not publish after commit; will retry", extra={"rows": len(ids), "error": repr(exc)})
            return False
