"""Attacks on the running platform (issue: workers that cannot be killed from outside): poison on every topic and
queue, AWS blips during a backlog, a 20 s PostgreSQL outage, paused workers during payments, two inventory workers
contending. No worker exits; only poison reaches a DLQ; every order ends where it should."""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from config.topology import EVENT_TYPE_ATTRIBUTE, QUEUES, Service
from tools.local.local_platform import LocalPlatform
from tools.local.poison import poison_set, reached_queues, send, traces_to_poison
from tools.local.testkit import Api, UserSession, stock, wait_until

ORD, INV = Service.ORDERS, Service.INVENTORY
WORKERS = ("products-worker", "orders-worker", "users-worker", "inventory-worker")


def queue_load(platform: LocalPlatform, url: str) -> int:
    a = platform.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def dlq_counts(platform: LocalPlatform) -> dict[str, int]:
    return {q.name: queue_load(platform, platform.resources.dlq_urls[q.name]) for q in QUEUES}


def drained(platform: LocalPlatform) -> bool:
    return all(queue_load(platform, platform.resources.queue_urls[q.name]) == 0 for q in QUEUES)


def take_dead_letters(platform: LocalPlatform, queue: str) -> list[dict[str, Any]]:
    """Every message now in the queue's DLQ, removed from it."""
    sqs, url = platform.client("sqs"), platform.resources.dlq_urls[queue]
    out: list[dict[str, Any]] = []
    empty = 0
    while empty < 2:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60,
                                    MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages", [])
        empty = 0 if batch else empty + 1
        for m in batch:
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def assert_workers_never_exited(platform: LocalPlatform) -> None:
    platform.check_processes()
    for name in WORKERS:
        text = (platform.logdir / f"{name}.log").read_text(errors="replace")
        assert "worker loop crashed" not in text, name
        # an exception that escaped every handler prints a bare traceback instead of a JSON line
        assert not [line for line in text.splitlines() if line.startswith("Traceback")], name


def log_lines(platform: LocalPlatform, name: str, since: int = 0) -> list[dict[str, Any]]:
    lines = (platform.logdir / f"{name}.log").read_text(errors="replace").splitlines()[since:]
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def log_length(platform: LocalPlatform, name: str) -> int:
    return len((platform.logdir / f"{name}.log").read_text(errors="replace").splitlines())


def place(api: Api, user: UserSession, lines: list[dict[str, Any]]) -> str:
    key = str(uuid.uuid4())
    for _ in range(60):  # a client retries with the same key through 503s
        r = api.call("POST", ORD, "/orders", user.order_headers(key), json={"lines": lines})
        if r.status_code == 201:
            return str(r.json()["order_id"])
        assert r.status_code == 503, r.text
        time.sleep(0.5)
    raise AssertionError("order never accepted")


def statuses(api: Api, orders: list[tuple[UserSession, str]]) -> list[str]:
    out = []
    for u, oid in orders:
        r = api.call("GET", ORD, f"/orders/{oid}", u.headers)
        out.append(r.json()["status"] if r.status_code == 200 else "unreadable")
    return out


def pay(platform: LocalPlatform, api: Api, user: UserSession, order_id: str, total_cents: int | None = None) -> str:
    """Publish a PaymentConfirmed for the order as the payment provider integration does; its event id."""
    if total_cents is None:
        total_cents = int(api.call("GET", ORD, f"/orders/{order_id}", user.headers).json()["total_cents"])
    event = {"id": str(uuid.uuid4()), "type": "PaymentConfirmed", "version": 1, "time": "2025-01-01T00:00:00Z",
             "source": "payment-provider", "correlation_id": str(uuid.uuid4()),
             "data": {"order_id": order_id, "payment_id": f"pay-{uuid.uuid4().hex[:8]}", "amount_cents": total_cents,
                      "currency": "EUR"}}
    platform.client("sns").publish(
        TopicArn=platform.resources.topic_arns["payment-events"], Message=json.dumps(event),
        MessageAttributes={EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": "PaymentConfirmed"}})
    return str(event["id"])


@contextmanager
def paused(platform: LocalPlatform, name: str) -> Iterator[None]:
    proc = platform.pods[name].proc
    assert proc is not None
    pid = proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_poison_on_every_topic_and_queue_is_dead_lettered_with_its_reason(platform: LocalPlatform, api: Api,
                                                                           new_user: Callable[[], UserSession],
                                                                           make_product: Callable[..., str]) -> None:
    for q in QUEUES:  # start from empty DLQs: what is there afterwards is this test's
        take_dead_letters(platform, q.name)
    sent = list(poison_set())
    sns, sqs = platform.client("sns"), platform.client("sqs")
    for p in sent:
        send(p, sns, sqs, platform.resources.topic_arns, platform.resources.queue_urls)
    # Orders keeps state in PostgreSQL, which cannot hold U+0000 or a lone surrogate: those are poison there too.
    # (DynamoDB takes them; inventory applies such an event, or dead-letters what it derives from it downstream.)
    expected = {(q, p.marker, p.kind) for p in sent for q in reached_queues(p)
                if p.kind not in ("nul", "surrogate") or q.startswith("orders-")}
    assert len({q for q, _, _ in expected}) == len(QUEUES)
    wait_until(lambda: drained(platform), timeout=90, what="every queue drained of poison")
    found: dict[str, list[dict[str, Any]]] = {q.name: take_dead_letters(platform, q.name) for q in QUEUES}
    markers = {p.marker for p in sent}
    seen = set()
    for queue, messages in found.items():
        for m in messages:
            attrs = {k: v.get("StringValue") for k, v in m["MessageAttributes"].items()}
            assert traces_to_poison(m["Body"], markers), (queue, m["Body"][:200], attrs)
            assert attrs["dlq.kind"] == "permanent", attrs
            assert attrs["dlq.receive-count"] == "1", attrs  # no retry burnt on poison
            assert attrs["dlq.source-queue"] == queue and attrs["dlq.reason"]
            seen |= {(queue, p.marker, p.kind) for p in sent if p.marker in m["Body"]}
    assert expected <= seen, sorted(expected - seen)[:5]
    kind_of = {p.marker: p.kind for p in sent}
    reasons: dict[str, set[str]] = {}
    for m in (m for ms in found.values() for m in ms):
        kind = next((k for marker, k in kind_of.items() if marker in m["Body"]), "derived")
        reasons.setdefault(kind, set()).add(m["MessageAttributes"]["dlq.reason"]["StringValue"].split(":")[0])
    assert reasons["nested"] == {"invalid message"}
    assert reasons["nul"] <= {"DataError", "invalid message"}  # stored text cannot hold it, or a schema refused it
    assert_workers_never_exited(platform)
    # and the platform still works
    user, pid = new_user(), make_product(stock=1)
    oid = place(api, user, [{"product_id": pid, "quantity": 1}])
    wait_until(lambda: statuses(api, [(user, oid)]) == ["RESERVED"], what="an order after the poison")


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
