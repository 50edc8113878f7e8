"""AWS blips while a backlog drains: nothing is dead-lettered, stock adds up, no worker exits."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from common.tests.resilience import (
    INV,
    ORD,
    assert_workers_never_exited,
    dlq_counts,
    drained,
    place,
    queue_load,
    statuses,
)
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession, stock, wait_until


def test_aws_blips_during_a_backlog_dead_letter_nothing(platform: LocalPlatform, api: Api, admin: dict[str, str],
                                                        new_user: Callable[[], UserSession],
                                                        make_product: Callable[..., str]) -> None:
    pids = [make_product(stock=15) for _ in range(2)]
    users = [new_user() for _ in range(4)]
    before = dlq_counts(platform)
    rng = random.Random(7)
    orders: list[tuple[UserSession, str]] = []
    with platform.aws_down(INV):  # inventory cannot read its queue: a backlog of reservations builds up
        for i in range(24):
            u = users[i % len(users)]
            orders.append((u, place(api, u, [{"product_id": rng.choice(pids), "quantity": rng.randint(1, 2)}])))
        wait_until(lambda: queue_load(platform, platform.resources.queue_urls["inventory-reservations"]) >= 24,
                   what="the backlog")
    for _ in range(3):  # the backlog drains through AWS blips of both services
        time.sleep(1.0)
        with platform.aws_down(INV), platform.aws_down(ORD):
            time.sleep(4)
    wait_until(lambda: "PENDING" not in statuses(api, orders), timeout=120, what="every order settled")
    wait_until(lambda: drained(platform), timeout=60, what="queues drained")
    final = statuses(api, orders)
    assert set(final) <= {"RESERVED", "REJECTED"}
    for pid in pids:
        s = stock(api, admin, pid)
        assert s["available"] + s["reserved"] == 15 and s["available"] >= 0
    assert dlq_counts(platform) == before
    assert_workers_never_exited(platform)
