"""Nothing waits forever: the sweeper cancels open orders past their deadline, releases their stock through the
command queue and publishes OrderCancelled. The sweeper here runs in the test process over the platform's database
and AWS endpoint (its own pool, publisher and flusher), so that its deadlines can be short; deadlines of orders the
platform's own services wrote are moved into the past in the database, as time would."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from common import telemetry
from common.envelope import Envelope
from common.pg import OutboxFlusher, make_relay, pending_count
from common.publisher import Publisher

from config.topology import Service
from orders import settings as orders_settings
from orders.db import open_pool
from orders.service import Deadlines, Line, OrderService
from orders.sweeper import Sweeper
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession, stock, wait_status, wait_until

ORD = Service.ORDERS


@pytest.fixture()
def orders(platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[OrderService, Sweeper]]:
    env = platform.env_for(ORD)  # the orders pods' own (region, endpoint, credentials, topic and queue)
    for name in ("AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, env[name] if name != "AWS_ENDPOINT_URL" else platform.moto_url)
    pool = open_pool(platform.orders_dsn, max_size=3, max_idle=5)
    settings = orders_settings.Settings(service=ORD, environ=env, sqs_wait_seconds=1)
    publish = Publisher(ORD, settings.destinations).publish
    flusher = OutboxFlusher(pool, publish)
    svc = OrderService(pool, Deadlines(pending_seconds=3600, payment_seconds=1), after_commit=flusher)
    sweeper = Sweeper(svc, make_relay(pool, publish), lambda: pending_count(pool), interval=3600)
    svc.on_deadline = sweeper.expect
    yield svc, sweeper
    flusher.close()
    pool.close()


def outbox(platform: LocalPlatform, order_id: str) -> list[tuple[str, bool]]:
    with psycopg.connect(platform.orders_dsn()) as conn:
        rows = conn.execute("SELECT type, published_at IS NOT NULL FROM outbox WHERE payload->'data'->>'order_id' = %s"
                            " ORDER BY created_at, type", (order_id,)).fetchall()
    return [(str(t), bool(p)) for t, p in rows]


def test_sweep_cancels_pending_and_reserved_orders_past_their_deadline(
        platform: LocalPlatform, api: Api, admin: dict[str, str], new_user: Callable[[], UserSession],
        make_product: Callable[..., str], orders: tuple[OrderService, Sweeper],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, sweeper = orders
    emitted: list[tuple[str, float]] = []
    monkeypatch.setattr(telemetry, "emit", lambda metric, value, service, **kw: emitted.append((metric, value)))
    pid = make_product(stock=5)
    payer, stuck = new_user(), new_user()
    r = api.call("POST", ORD, "/orders", payer.order_headers(), json={"lines": [{"product_id": pid, "quantity": 2}]})
    reserved = r.json()["order_id"]
    wait_status(api, payer, reserved, "RESERVED")  # and nobody pays
    assert stock(api, admin, pid)["reserved"] == 2
    with platform.aws_down(Service.INVENTORY):  # inventory cannot read its queue: no outcome will come
        r = api.call("POST", ORD, "/orders", stuck.order_headers(), json={"lines": [{"product_id": pid,
                                                                                     "quantity": 1}]})
        pending = r.json()["order_id"]
        with psycopg.connect(platform.orders_dsn()) as conn:  # both deadlines pass
            conn.execute("UPDATE orders SET deadline_at = clock_timestamp() - interval '1 second' WHERE id = ANY(%s)",
                         ([reserved, pending],))
        sweeper.sweep()
    for user, oid, why in ((payer, reserved, "deadline passed: no payment within 1 s of reservation"),
                           (stuck, pending, "deadline passed: no reservation outcome within 3600 s")):
        order = api.call("GET", ORD, f"/orders/{oid}", user.headers).json()
        assert order["status"] == "CANCELLED" and order["reason"].startswith(why), order
        # stock released through the command queue, customer told: both published right after the commit
        def published(oid: str = oid) -> bool:
            return {("ReleaseStock", True), ("OrderCancelled", True)} <= set(outbox(platform, oid))

        wait_until(published, what="ReleaseStock and OrderCancelled published")
    assert (telemetry.ORDERS_PAST_DEADLINE_METRIC, 2) in emitted
    # whichever of ReserveStock and ReleaseStock inventory sees first, nothing stays held
    wait_until(lambda: stock(api, admin, pid) == {"product_id": pid, "available": 5, "reserved": 0}, timeout=60,
               what="stock released")
    sweeper.sweep()  # a second sweep finds nothing more to do
    assert outbox(platform, reserved).count(("OrderCancelled", True)) == 1


def test_sweeper_wakes_at_a_deadline_it_learns_of_without_polling(
        platform: LocalPlatform, make_product: Callable[..., str], orders: tuple[OrderService, Sweeper]) -> None:
    """With a sweep interval of an hour, a reservation committed in this process (payment deadline 1 s) wakes the
    sweeper at that deadline: the order is cancelled within seconds, without a periodic poll of the database."""
    svc, sweeper = orders
    pid = make_product(stock=3)
    order, _ = svc.place(f"customer-{uuid.uuid4().hex[:6]}", str(uuid.uuid4()), "h", [Line(pid, 1, 1000, 1)], "EUR")
    stop = threading.Event()
    thread = threading.Thread(target=sweeper.run, args=(stop,), name="sweeper", daemon=True)
    thread.start()
    try:
        wait_until(lambda: sweeper.sweeps >= 1, what="the sweep at start")
        event = Envelope(type="StockReserved", source="inventory",
                         data={"order_id": order["order_id"], "lines": [{"product_id": pid, "quantity": 1}]})
        svc.on_stock_reserved(event)  # RESERVED, payment due in 1 s: the sweeper is told

        def status() -> Any:
            with psycopg.connect(platform.orders_dsn()) as conn:
                row = conn.execute("SELECT status FROM orders WHERE id = %s", (order["order_id"],)).fetchone()
            return row[0] if row else None

        wait_until(lambda: status() == "CANCELLED", timeout=15, what="expired at its deadline")
        assert sweeper.sweeps == 2  # the start, then the deadline: no polling in between
    finally:
        stop.set()
        thread.join(10)
