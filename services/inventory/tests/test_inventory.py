from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from common.envelope import Envelope

from config.topology import Service
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import CONFIG, Api, UserSession, fields, queue_drained, stock, wait_status, wait_until

INV = Service.INVENTORY


def test_read_and_adjust(api: Api, admin: dict[str, str], new_user: Callable[[], UserSession],
                         make_product: Callable[..., str]) -> None:
    pid = make_product(stock=0)
    user = new_user()
    assert api.call("GET", INV, f"/inventory/{pid}").status_code == 401
    assert api.call("GET", INV, f"/inventory/{pid}", user.headers).json() == {
        "product_id": pid, "available": 0, "reserved": 0}
    assert api.call("POST", INV, f"/inventory/{pid}/adjust", user.headers, json={"delta": 5}).status_code == 403
    assert api.call("POST", INV, f"/inventory/{pid}/adjust", admin, json={"delta": 5}).json()["available"] == 5
    r = api.call("POST", INV, f"/inventory/{pid}/adjust", admin, json={"delta": -6})
    assert r.status_code == 409 and r.json()["error"] == "insufficient_stock"
    assert stock(api, admin, pid)["available"] == 5
    assert api.call("GET", INV, f"/inventory/{uuid.uuid4()}", user.headers).status_code == 404
    assert api.call("POST", INV, f"/inventory/{uuid.uuid4()}/adjust", admin, json={"delta": 1}).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({}, "delta"), ({"delta": 0}, "delta"), ({"delta": "x"}, "delta"), ({"delta": 10**7}, "delta"),
    ({"delta": 1, "reason": ""}, "reason"), ({"delta": 1, "reason": "r" * 201}, "reason"),
    ({"delta": 1, "extra": True}, "extra"),
])
def test_adjust_bad_input_names_the_field(api: Api, admin: dict[str, str], body: dict[str, object],
                                          field: str) -> None:
    r = api.call("POST", INV, "/inventory/some-product/adjust", admin, json=body)
    assert r.status_code == 422 and field in fields(r)


def test_no_oversell_under_concurrency(api: Api, admin: dict[str, str], new_user: Callable[[], UserSession],
                                       make_product: Callable[..., str]) -> None:
    pid = make_product(stock=10, price_cents=500)
    users = [new_user() for _ in range(5)]

    def place(i: int) -> tuple[UserSession, str]:
        u = users[i % len(users)]
        with httpx.Client(timeout=60) as c:
            r = c.post(api.url(Service.ORDERS, "/orders"), headers=u.order_headers(),
                       json={"lines": [{"product_id": pid, "quantity": 1}]})
        assert r.status_code == 201, r.text
        return u, str(r.json()["order_id"])

    with ThreadPoolExecutor(max_workers=50) as pool:
        placed = list(pool.map(place, range(50)))

    def final_states() -> list[str] | None:
        states = []
        for u, oid in placed:
            s = api.call("GET", Service.ORDERS, f"/orders/{oid}", u.headers).json()["status"]
            if s == "PENDING":
                return None
            states.append(s)
        return states

    states = wait_until(final_states, timeout=90, what="all 50 orders settled")
    assert states.count("RESERVED") == 10
    assert states.count("REJECTED") == 40
    assert stock(api, admin, pid) == {"product_id": pid, "available": 0, "reserved": 10}


def test_same_command_twice_applies_once(platform: LocalPlatform, api: Api, admin: dict[str, str],
                                         make_product: Callable[..., str]) -> None:
    pid = make_product(stock=5)
    command = Envelope(type="ReserveStock", source="test",
                       data={"order_id": str(uuid.uuid4()), "lines": [{"product_id": pid, "quantity": 2}]})
    sqs = platform.client("sqs")
    url = platform.resources.queue_urls["inventory-reservations"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=command.to_json(),
                         MessageAttributes={"type": {"DataType": "String", "StringValue": "ReserveStock"}})
    wait_until(lambda: stock(api, admin, pid)["reserved"] == 2, what="reservation")
    # Both deliveries handled (none waiting, none in flight: a message is deleted only once its handler returned),
    # so a wrongly applied second one would show now.
    wait_until(lambda: queue_drained(platform, "inventory-reservations"), what="both deliveries handled")
    assert stock(api, admin, pid) == {"product_id": pid, "available": 3, "reserved": 2}


def _send(platform: LocalPlatform, command: Envelope) -> None:
    platform.client("sqs").send_message(
        QueueUrl=platform.resources.queue_urls["inventory-reservations"], MessageBody=command.to_json(),
        MessageAttributes={"type": {"DataType": "String", "StringValue": str(command.type)}})


def _worker_log_mentions(platform: LocalPlatform, message: str, order_id: str) -> bool:
    text = (platform.logdir / "inventory-worker.log").read_text(errors="replace")
    return any(f'"{message}"' in line and order_id in line for line in text.splitlines())


def test_redeliveries_after_the_stock_changed_change_nothing(platform: LocalPlatform, api: Api,
                                                             admin: dict[str, str],
                                                             make_product: Callable[..., str]) -> None:
    """No read of the processed-event marker comes before the transaction: a redelivered ReserveStock that now
    finds too little stock (its own reservation took it) is refused by the marker, not recorded as a rejection;
    a redelivered ReleaseStock gives nothing back twice."""
    pid = make_product(stock=2)
    order_id = str(uuid.uuid4())
    lines = [{"product_id": pid, "quantity": 2}]
    reserve = Envelope(type="ReserveStock", source="test", data={"order_id": order_id, "lines": lines})
    _send(platform, reserve)
    wait_until(lambda: stock(api, admin, pid)["reserved"] == 2, what="reservation")
    _send(platform, reserve)
    wait_until(lambda: queue_drained(platform, "inventory-reservations"), what="the redelivery handled")
    assert stock(api, admin, pid) == {"product_id": pid, "available": 0, "reserved": 2}
    assert not _worker_log_mentions(platform, "reservation rejected", order_id)

    release = Envelope(type="ReleaseStock", source="test",
                       data={"order_id": order_id, "lines": lines, "reason": "cancelled"})
    _send(platform, release)
    wait_until(lambda: stock(api, admin, pid)["available"] == 2, what="release")
    _send(platform, release)
    wait_until(lambda: queue_drained(platform, "inventory-reservations"), what="the redelivery handled")
    assert stock(api, admin, pid) == {"product_id": pid, "available": 2, "reserved": 0}


def test_invalid_command_is_dead_lettered_at_once_with_its_reason(platform: LocalPlatform) -> None:
    sqs = platform.client("sqs")
    url = platform.resources.queue_urls["inventory-reservations"]
    dlq = platform.resources.dlq_urls["inventory-reservations"]
    body = json.dumps({"id": str(uuid.uuid4()), "type": "ReserveStock", "version": 1, "data": {"bad": True}})
    sqs.send_message(QueueUrl=url, MessageBody=body,
                     MessageAttributes={"type": {"DataType": "String", "StringValue": "ReserveStock"}})

    def in_dlq() -> dict[str, Any] | None:
        for m in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     MessageAttributeNames=["All"]).get("Messages", []):
            if m["Body"] == body:
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
                return dict(m)
        return None

    moved = wait_until(in_dlq, timeout=15, what="message in DLQ")
    attrs = {k: v["StringValue"] for k, v in moved["MessageAttributes"].items()}
    assert attrs["dlq.kind"] == "permanent" and attrs["dlq.receive-count"] == "1"  # no retries for poison
    assert attrs["dlq.reason"].startswith("invalid message: envelope: (root): ") and "required" in attrs["dlq.reason"]
    assert attrs["dlq.source-queue"] == "inventory-reservations" and attrs["type"] == "ReserveStock"
    # The redrive policy is the config's safety net, far above any retry schedule within the budget.
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])[
        "Attributes"]["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == CONFIG.messaging.dlq_max_receive_count
    assert CONFIG.messaging.dlq_max_receive_count > CONFIG.messaging.receives_within_budget()


def test_stock_unchanged_when_out_of_stock(api: Api, admin: dict[str, str], new_user: Callable[[], UserSession],
                                           make_product: Callable[..., str]) -> None:
    pid = make_product(stock=2)
    user = new_user()
    r = api.call("POST", Service.ORDERS, "/orders", user.order_headers(),
                 json={"lines": [{"product_id": pid, "quantity": 3}]})
    assert r.status_code == 201
    wait_status(api, user, r.json()["order_id"], "REJECTED")
    order = api.call("GET", Service.ORDERS, f"/orders/{r.json()['order_id']}", user.headers).json()
    assert "insufficient stock" in order["reason"]
    assert stock(api, admin, pid) == {"product_id": pid, "available": 2, "reserved": 0}
