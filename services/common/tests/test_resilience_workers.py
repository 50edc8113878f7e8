"""Paused workers during payments, and two inventory workers contending: nothing is dead-lettered, stock adds up
exactly, no worker exits."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from common.tests.resilience import (
    INV,
    ORD,
    assert_workers_never_exited,
    dlq_counts,
    log_length,
    log_lines,
    paused,
    pay,
    place,
    queue_load,
    statuses,
)
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession, stock, wait_until


def test_paused_workers_during_payments_dead_letter_nothing(platform: LocalPlatform, api: Api,
                                                            new_user: Callable[[], UserSession],
                                                            make_product: Callable[..., str]) -> None:
    pid = make_product(stock=20, price_cents=300)
    users = [new_user() for _ in range(4)]
    before = dlq_counts(platform)
    mark = log_length(platform, "orders-worker")

    def deferrals() -> dict[str, int]:
        """The highest receive count at which orders deferred each payment (RetryLater: no reservation yet)."""
        seen: dict[str, int] = {}
        for line in log_lines(platform, "orders-worker", mark):
            if line.get("message") == "handler failed; message will be retried" and \
                    line.get("event_type") == "PaymentConfirmed":
                seen[str(line["event_id"])] = max(seen.get(str(line["event_id"]), 0), int(line["receive_count"]))
        return seen

    with paused(platform, "inventory-worker"):  # payments arrive before the reservation outcomes
        orders = [(u, place(api, u, [{"product_id": pid, "quantity": 1}])) for u in users]
        payments = [pay(platform, api, u, oid, total_cents=300) for u, oid in orders]
        # Until orders has received each payment three times and put it back each time (its ordering backoff),
        # rather than a fixed 30 s: repeated receives of a payment that cannot apply yet dead-letter nothing.
        wait_until(lambda: all(deferrals().get(e, 0) >= 3 for e in payments), timeout=120,
                   what="every payment deferred three times while inventory is paused")
        assert set(statuses(api, orders)) == {"PENDING"}
    wait_until(lambda: set(statuses(api, orders)) == {"CONFIRMED"}, timeout=120, what="payments applied after pause")
    more = [(u, place(api, u, [{"product_id": pid, "quantity": 1}])) for u in users]
    wait_until(lambda: set(statuses(api, more)) == {"RESERVED"}, what="reserved")
    payments_queue = platform.resources.queue_urls["orders-payment-events"]
    with paused(platform, "orders-worker"):  # with payments in flight
        for u, oid in more:
            pay(platform, api, u, oid, total_cents=300)
        # Until every payment waits in orders' queue (rather than a fixed 15 s): SNS has delivered them all while
        # the worker cannot take them.
        wait_until(lambda: queue_load(platform, payments_queue) >= len(more), timeout=60,
                   what="the payments queued while orders' worker is paused")
    wait_until(lambda: set(statuses(api, more)) == {"CONFIRMED"}, timeout=90, what="payments after orders pause")
    assert dlq_counts(platform) == before
    assert_workers_never_exited(platform)


def test_two_inventory_workers_keep_stock_exact(platform: LocalPlatform, api: Api, admin: dict[str, str],
                                                new_user: Callable[[], UserSession],
                                                make_product: Callable[..., str]) -> None:
    """Contention: 90 orders over 3 small stocks, reserved by two inventory workers at once (staging and prod run
    two or three). With moto's transactions isolated (tools/local/moto_server.py), stock must add up exactly."""
    second = platform.start_worker(INV, "inventory-worker-2")
    try:
        pids = [make_product(stock=10, price_cents=100) for _ in range(3)]
        users = [new_user() for _ in range(6)]
        rng = random.Random(11)
        plans = [(users[i % len(users)], [{"product_id": p, "quantity": rng.randint(1, 3)}
                                           for p in rng.sample(pids, rng.randint(1, 2))]) for i in range(90)]

        def go(plan: tuple[UserSession, list[dict[str, Any]]]) -> tuple[UserSession, str, list[dict[str, Any]]]:
            u, lines = plan
            with httpx.Client(timeout=60) as c:
                r = c.post(api.url(ORD, "/orders"), headers=u.order_headers(), json={"lines": lines})
            assert r.status_code == 201, r.text
            return u, str(r.json()["order_id"]), lines

        with ThreadPoolExecutor(max_workers=20) as pool:
            placed = list(pool.map(go, plans))
        wait_until(lambda: "PENDING" not in statuses(api, [(u, o) for u, o, _ in placed]), timeout=120,
                   what="all 90 orders settled")
        final = statuses(api, [(u, o) for u, o, _ in placed])
        for pid in pids:
            held = sum(ln["quantity"] for (_, _, lines), st in zip(placed, final, strict=True) if st == "RESERVED"
                       for ln in lines if ln["product_id"] == pid)
            assert stock(api, admin, pid) == {"product_id": pid, "available": 10 - held, "reserved": held}
        applied = {name: sum(1 for line in log_lines(platform, name) if line.get("message") == "event applied"
                             and line.get("queue") == "inventory-reservations")
                   for name in ("inventory-worker", second)}
        assert all(n > 0 for n in applied.values()), applied  # both took part
    finally:
        platform.stop_pod(second)
