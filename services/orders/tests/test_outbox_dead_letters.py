"""Outbox rows that can no longer be published are dead-lettered, not retried forever in front of the rows behind
them: a destination gone from the contract, a payload that fails its current schema. Rows written before the
outbox named its destinations by the contract (``TOPIC_ARN_ORDER_EVENTS``) are still published. Against the
platform's PostgreSQL (an outbox of the test's own, in a schema of its own, with the migration's DDL) and moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from common.envelope import Envelope
from common.pg import OUTBOX_DDL, OUTBOX_DEAD_LETTERS_DDL, make_relay, pending_count
from common.publisher import Publisher
from contract import EventType, Service
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from orders import settings as orders_settings
from tools.local.local_platform import LocalPlatform

ORD = Service.ORDERS


@pytest.fixture()
def pool(platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectionPool]:
    env = platform.env_for(ORD)
    for name in ("AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("AWS_ENDPOINT_URL", platform.moto_url)
    schema = f"dead_letters_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(platform.orders_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    p = ConnectionPool(platform.orders_dsn(), min_size=1, max_size=2, open=True,
                       kwargs={"autocommit": True, "options": f"-c search_path={schema}"})
    with p.connection() as conn:
        conn.execute(OUTBOX_DDL)  # the outbox as migration 1 made it
    yield p
    p.close()
    with psycopg.connect(platform.orders_dsn(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _row(pool: ConnectionPool, destination: str, envelope: dict[str, object]) -> str:
    with pool.connection() as conn:
        conn.execute("INSERT INTO outbox (id, destination, type, payload) VALUES (%s, %s, %s, %s)",
                     (envelope["id"], destination, envelope["type"], Jsonb(envelope)))
    return str(envelope["id"])


def _placed() -> dict[str, object]:
    # OrderPlaced: no queue subscribes to it, so publishing it for real disturbs no consumer.
    return Envelope(type=EventType.ORDER_PLACED, source="orders", data={
        "order_id": str(uuid.uuid4()), "customer_id": "c-1", "total_cents": 100, "currency": "EUR",
        "lines": [{"product_id": "p-1", "quantity": 1, "unit_price_cents": 100}]}).to_dict()


def test_undeliverable_rows_are_dead_lettered_and_the_rows_behind_them_published(
        platform: LocalPlatform, pool: ConnectionPool, capsys: pytest.CaptureFixture[str]) -> None:
    with pool.connection() as conn:
        conn.execute(OUTBOX_DEAD_LETTERS_DDL)
    legacy = _row(pool, "TOPIC_ARN_ORDER_EVENTS", _placed())  # written before the contract named destinations
    retired = _row(pool, "queue/orders-retired-commands", _placed())  # a queue the contract no longer has
    tightened = _placed()
    tightened["data"] = {**tightened["data"], "unexpected": "a field the current schema refuses"}  # type: ignore[dict-item]
    invalid = _row(pool, "topic/order-events", tightened)
    current = _row(pool, "topic/order-events", _placed())
    settings = orders_settings.Settings(service=ORD, environ=platform.env_for(ORD), sqs_wait_seconds=1)

    published = make_relay(pool, Publisher(ORD, settings.destinations).publish)()

    assert published == 2
    assert pending_count(pool) == 0
    with pool.connection() as conn:
        done = {r[0] for r in conn.execute("SELECT id::text FROM outbox WHERE published_at IS NOT NULL")}
        dead: dict[str, str] = dict(conn.execute("SELECT id::text, reason FROM outbox_dead_letters").fetchall())
    assert done == {legacy, current}
    assert dead.keys() == {retired, invalid}
    assert dead[retired] == "destination 'queue/orders-retired-commands' is not in the contract"
    assert dead[invalid].startswith("payload fails its schema: OrderPlaced: (root): Additional properties")
    # One OutboxDeadLettered data point per record (EMF on stdout here: no agent), which the orders alarm watches.
    points = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "OutboxDeadLettered" in line]
    assert [(p["Service"], p["OutboxDeadLettered"]) for p in points] == [("orders", 1), ("orders", 1)]


def test_the_migration_moves_pending_rows_to_the_contracts_names(pool: ConnectionPool) -> None:
    legacy_topic = _row(pool, "TOPIC_ARN_ORDER_EVENTS", _placed())
    legacy_queue = _row(pool, "QUEUE_URL_INVENTORY_RESERVATIONS", _placed())
    with pool.connection() as conn:
        conn.execute(OUTBOX_DEAD_LETTERS_DDL)
        rows: dict[str, str] = dict(conn.execute("SELECT id::text, destination FROM outbox").fetchall())
    assert rows == {legacy_topic: "topic/order-events", legacy_queue: "queue/inventory-reservations"}
