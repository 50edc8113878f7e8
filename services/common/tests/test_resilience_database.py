"""A 20 s PostgreSQL outage: the APIs answer 503, the workers back off instead of failing every message, nothing
is dead-lettered, every order ends where it should."""

from __future__ import annotations

import time
from collections.abc import Callable

from common.tests.resilience import (
    INV,
    ORD,
    assert_workers_never_exited,
    dlq_counts,
    log_length,
    log_lines,
    pay,
    place,
    queue_load,
    statuses,
)
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession, wait_until


def test_database_outage_of_20s_backpressures_and_dead_letters_nothing(
        platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    pids = [make_product(stock=20, price_cents=250) for _ in range(2)]
    users = [new_user() for _ in range(3)]
    reserved = [(u, place(api, u, [{"product_id": pids[0], "quantity": 1}])) for u in users]
    wait_until(lambda: set(statuses(api, reserved)) == {"RESERVED"}, what="orders reserved before the outage")
    before = dlq_counts(platform)
    mark = log_length(platform, "orders-worker")
    with platform.aws_down(INV):  # hold the reservations back so that their outcomes arrive during the outage
        pending = [(u, place(api, u, [{"product_id": pids[1], "quantity": 2}])) for u in users]
        reservations = platform.resources.queue_urls["inventory-reservations"]
        wait_until(lambda: queue_load(platform, reservations) >= len(pending),  # orders' after-commit flush
                   what="the orders' ReserveStock queued for inventory")
    with platform.db_down():
        started = time.monotonic()
        for u, oid in reserved:  # payments arrive while orders cannot read its database
            pay(platform, api, u, oid, total_cents=250)
        r = api.call("POST", ORD, "/orders", users[0].order_headers(), json={"lines": [
            {"product_id": pids[0], "quantity": 1}]})
        assert r.status_code == 503 and r.json()["error"] == "unavailable"  # not a 500
        while time.monotonic() - started < 20:
            platform.check_processes()
            time.sleep(1)
    wait_until(lambda: set(statuses(api, reserved)) == {"CONFIRMED"}, timeout=90, what="payments applied")
    wait_until(lambda: set(statuses(api, pending)) == {"RESERVED"}, timeout=90, what="outcomes applied")
    assert dlq_counts(platform) == before
    lines = log_lines(platform, "orders-worker", mark)
    assert any(line.get("message") == "dependency unavailable; receives paused" for line in lines)
    retried = [line for line in lines if line.get("message") == "handler failed; message will be retried"]
    # Backpressure: a consumer that finds the database down stops receiving instead of failing every message it
    # can get: a handful of failed attempts over 20 s, not one per message per receive.
    assert len(retried) <= 12, len(retried)
    assert_workers_never_exited(platform)
