"""The products worker's stock levels of a receive applied together (on_inventory_updated_together), against
moto's server over HTTP: per product only the newest level is written, which is what applying each in any
order ends with; an unknown product, or an event without a version, is left to the one-by-one handler."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from common import aws, ddb
from common.consumer import Together
from common.envelope import Envelope
from common.tests.moto_server import own_moto
from contract import EventType

from products.availability import AvailabilityHandlers


@pytest.fixture(scope="module")
def handlers() -> Iterator[AvailabilityHandlers]:
    with own_moto():
        name = f"products-{uuid.uuid4().hex[:8]}"
        aws.client("dynamodb").create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        for pid in ("p1", "p2"):
            aws.client("dynamodb").put_item(TableName=name, Item=ddb.to_item({"pk": f"PRODUCT#{pid}", "sk": "PRODUCT"}))
        yield AvailabilityHandlers(name)


def level(product_id: str, available: int, version: int | None) -> Envelope:
    data: dict[str, Any] = {"product_id": product_id, "available": available, "reserved": 0, "reason": "test"}
    if version is not None:
        data["version"] = version
    return Envelope(type=EventType.INVENTORY_UPDATED, source="inventory", data=data)


def shown(handlers: AvailabilityHandlers, product_id: str) -> tuple[int, int]:
    item = ddb.from_item(aws.client("dynamodb").get_item(TableName=handlers.table, Key=ddb.to_item(
        {"pk": f"PRODUCT#{product_id}", "sk": "PRODUCT"}), ConsistentRead=True)["Item"])
    return int(item["stock_available"]), int(item["stock_version"])


def test_only_the_newest_level_of_each_product_is_written(handlers: AvailabilityHandlers) -> None:
    events = [level("p1", 9, 3), level("p1", 7, 5), level("p2", 4, 2), level("p1", 8, 4), level("p2", 3, 3)]
    updates: list[str] = []
    aws.client("dynamodb").meta.events.register("before-call.dynamodb.UpdateItem",
                                                lambda **_: updates.append("UpdateItem"))
    applied = handlers.on_inventory_updated_together(Together(events, [None] * len(events)))
    assert applied == {e.id for e in events}
    assert len(updates) == 2
    assert shown(handlers, "p1") == (7, 5)
    assert shown(handlers, "p2") == (3, 3)
    # levels older than the one shown change nothing, together as one by one
    older = [level("p1", 1, 4), level("p1", 2, 2)]
    assert handlers.on_inventory_updated_together(Together(older, [None, None])) == {e.id for e in older}
    assert shown(handlers, "p1") == (7, 5)


def test_an_unknown_product_and_unversioned_levels_are_left_to_the_one_by_one_handler(
        handlers: AvailabilityHandlers) -> None:
    unknown = [level("nope", 1, 2), level("nope", 2, 3)]
    unversioned = level("p2", 50, None)
    known = [level("p2", 2, 10), level("p2", 1, 11)]
    applied = handlers.on_inventory_updated_together(Together([*unknown, unversioned, *known], [None] * 5))
    assert applied == {e.id for e in known}
    assert shown(handlers, "p2") == (1, 11)
