"""Availability on the catalog: InventoryUpdated (inventory-events -> products-inventory-events) becomes the band
GET /products and GET /products/{id} show, without a call to inventory; an older stock level arriving after a newer
one changes nothing; a level for a product the catalog never had reaches the queue's DLQ with the reason."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from common.envelope import Envelope

from config.topology import EVENT_TYPE_ATTRIBUTE, Service
from products.availability import LOW_STOCK_THRESHOLD, Availability, availability
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, wait_until

P, INV = Service.PRODUCTS, Service.INVENTORY


def shown(api: Api, pid: str) -> str:
    r = api.call("GET", P, f"/products/{pid}")
    assert r.status_code == 200, r.text
    return str(r.json()["availability"])


def listed(api: Api, pid: str) -> str | None:
    cursor: str | None = None
    while True:
        page = api.call("GET", P, "/products", params={"limit": 100, **({"next": cursor} if cursor else {})}).json()
        for item in page["items"]:
            if item["product_id"] == pid:
                return str(item["availability"])
        cursor = page["next"]
        if not cursor:
            return None


def publish_level(platform: LocalPlatform, pid: str, available: int, version: int) -> None:
    """An InventoryUpdated on the inventory-events topic as the inventory service publishes it."""
    env = Envelope(type="InventoryUpdated", source="inventory", data={
        "product_id": pid, "available": available, "reserved": 0, "reason": "test", "version": version})
    env.validate()
    platform.client("sns").publish(
        TopicArn=platform.resources.topic_arns["inventory-events"], Message=env.to_json(),
        MessageAttributes={EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": env.type}})


def test_bands() -> None:
    assert availability(0) is Availability.OUT_OF_STOCK
    assert availability(1) is Availability.LOW_STOCK
    assert availability(LOW_STOCK_THRESHOLD) is Availability.LOW_STOCK
    assert availability(LOW_STOCK_THRESHOLD + 1) is Availability.IN_STOCK


def test_stock_changes_reach_the_catalog(api: Api, admin: dict[str, str], make_product: Callable[..., str]) -> None:
    pid = make_product(stock=0)
    assert shown(api, pid) == "OUT_OF_STOCK"
    assert api.call("POST", INV, f"/inventory/{pid}/adjust", admin, json={"delta": 20}).status_code == 200
    wait_until(lambda: shown(api, pid) == "IN_STOCK", 30, "IN_STOCK on GET /products/{id}")
    assert listed(api, pid) == "IN_STOCK"
    assert api.call("POST", INV, f"/inventory/{pid}/adjust", admin, json={"delta": -17}).status_code == 200
    wait_until(lambda: listed(api, pid) == "LOW_STOCK", 30, "LOW_STOCK on GET /products")
    assert api.call("POST", INV, f"/inventory/{pid}/adjust", admin, json={"delta": -3}).status_code == 200
    wait_until(lambda: shown(api, pid) == "OUT_OF_STOCK", 30, "OUT_OF_STOCK on GET /products/{id}")


def test_an_older_level_delivered_late_changes_nothing(platform: LocalPlatform, api: Api,
                                                       make_product: Callable[..., str]) -> None:
    pid = make_product(stock=0)  # its stock record is at version 1 (created)
    version = 1
    publish_level(platform, pid, 50, version + 100)
    wait_until(lambda: shown(api, pid) == "IN_STOCK", 30, "the newer level")
    publish_level(platform, pid, 0, version + 99)  # older: published before, delivered after
    publish_level(platform, pid, 50, version + 100)  # the same level again (a redelivery)
    marker = make_product(stock=0)  # one queue: once the marker's level is shown, the two above were handled
    publish_level(platform, marker, 3, 1000)
    wait_until(lambda: shown(api, marker) == "LOW_STOCK", 30, "the marker's level")
    assert shown(api, pid) == "IN_STOCK"


def test_a_level_for_an_unknown_product_is_dead_lettered(platform: LocalPlatform) -> None:
    pid = f"missing-{uuid.uuid4().hex}"
    publish_level(platform, pid, 1, 1)
    sqs, url = platform.client("sqs"), platform.resources.dlq_urls["products-inventory-events"]

    def dead_lettered() -> dict[str, Any] | None:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     MessageAttributeNames=["All"]).get("Messages", []):
            if pid in m["Body"]:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                return dict(m)
        return None

    message = wait_until(dead_lettered, 60, "the level for an unknown product in the DLQ")
    attrs = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attrs["dlq.kind"] == "permanent" and "unknown product" in attrs["dlq.reason"], attrs
