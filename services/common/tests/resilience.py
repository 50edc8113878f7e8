"""What the resilience tests (test_resilience_*.py) share: queue and DLQ loads, the workers' logs, orders placed and
paid through the platform, a worker paused. The attacks live in one module each, so that pytest-xdist's `--dist
loadfile` spreads them over its workers (each on its worker's own platform) instead of running them one after
another on one."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from config.topology import EVENT_TYPE_ATTRIBUTE, QUEUES, Service
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession

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
