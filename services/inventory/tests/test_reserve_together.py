"""Inventory's reservations of a receive's ReserveStock commands in one transaction (InventoryStore.reserve_together),
against moto's server over HTTP: the same stock, reservations and events, in the same versions, as one by one;
all or nothing; whatever it does not take (short stock, a redelivery, a concurrent change, a replacing revision)
left to reserve(), which applies or rejects it as before (the requests validated as botocore would: conftest.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from common import aws, ddb
from common.consumer import Together
from common.envelope import Envelope
from common.logging import correlation_id_var
from common.tests.moto_server import outbox_table, own_moto
from contract import EventType

from inventory.store import InventoryStore, Stock

pytestmark = pytest.mark.usefixtures("moto")


@pytest.fixture(scope="module")
def moto() -> Iterator[None]:
    with own_moto():
        yield


@pytest.fixture
def store() -> InventoryStore:
    return InventoryStore(outbox_table(f"inventory-{uuid.uuid4().hex[:8]}"))


def stock(store: InventoryStore, product_id: str, available: int) -> None:
    aws.client("dynamodb").put_item(TableName=store.table, Item=ddb.to_item({
        "pk": f"PRODUCT#{product_id}", "sk": "STOCK", "product_id": product_id, "available": available,
        "reserved": 0, "version": 1}))


def command(*lines: tuple[str, int], **data: Any) -> Envelope:
    correlation_id_var.set(f"corr-{uuid.uuid4().hex[:8]}")
    return Envelope(type=EventType.RESERVE_STOCK, source="orders", data={
        "order_id": f"order-{uuid.uuid4().hex[:8]}", "lines": [{"product_id": p, "quantity": q} for p, q in lines],
        **data})


def together(*commands: Envelope) -> Together:
    return Together(list(commands), [f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01" for _ in commands])


def outbox(store: InventoryStore) -> list[dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=store.table)["Items"]
    return [json.loads(str(ddb.from_item(i)["payload"])) for i in items
            if str(ddb.from_item(i)["pk"]).startswith("OUTBOX#")]


def test_several_orders_are_reserved_as_one_by_one_would_with_one_transaction(store: InventoryStore) -> None:
    stock(store, "p1", 20)
    stock(store, "p2", 20)
    commands = [command(("p1", 2)), command(("p1", 1), ("p2", 3)), command(("p2", 4))]
    batch = together(*commands)
    calls: list[str] = []
    aws.client("dynamodb").meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    assert store.reserve_together(batch) == {c.id for c in commands}
    assert calls.count("TransactWriteItems") == 1
    assert store.get_stock("p1") == Stock("p1", 17, 3, 3)
    assert store.get_stock("p2") == Stock("p2", 13, 7, 3)
    events = outbox(store)
    levels = sorted((e["data"]["product_id"], e["data"]["version"], e["data"]["available"], e["data"]["reserved"])
                    for e in events if e["type"] == "InventoryUpdated")
    # one level per line, each with the version after it: what one transaction per order would have published
    assert levels == [("p1", 2, 18, 2), ("p1", 3, 17, 3), ("p2", 2, 17, 3), ("p2", 3, 13, 7)]
    reserved = {e["data"]["order_id"]: e for e in events if e["type"] == "StockReserved"}
    assert set(reserved) == {c.data["order_id"] for c in commands}
    for c in commands:  # each event is its own command's consequence: its correlation id and its trace
        assert reserved[c.data["order_id"]]["correlation_id"] == c.correlation_id
        assert reserved[c.data["order_id"]]["trace_id"] == batch._trace_ids[c.id]


def test_what_stock_cannot_cover_is_left_to_reserve_which_rejects_it(store: InventoryStore) -> None:
    stock(store, "p1", 3)
    commands = [command(("p1", 2)), command(("p1", 2)), command(("p1", 1))]
    applied = store.reserve_together(together(*commands))
    assert applied == {commands[0].id, commands[2].id}
    store.reserve(commands[1])
    s = store.get_stock("p1")
    assert s is not None and (s.available, s.reserved) == (0, 3)
    rejected = [e for e in outbox(store) if e["type"] == "StockRejected"]
    assert [e["data"]["order_id"] for e in rejected] == [commands[1].data["order_id"]]


def test_a_redelivered_command_is_done_and_the_rest_is_reserved_once(store: InventoryStore) -> None:
    stock(store, "p1", 10)
    first = command(("p1", 1))
    store.reserve(first)
    later = [command(("p1", 1)), command(("p1", 1))]
    calls: list[str] = []
    aws.client("dynamodb").meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    # The refusal's codes say the first was applied before (its marker): done; the others go again, once.
    assert store.reserve_together(together(first, *later)) == {first.id, *(c.id for c in later)}
    assert calls.count("TransactWriteItems") == 2
    s = store.get_stock("p1")
    assert s is not None and (s.available, s.reserved, s.version) == (7, 3, 4)
    assert len([e for e in outbox(store) if e["type"] == "StockReserved"]) == 3


def test_a_stock_change_after_the_read_is_read_again_and_the_orders_reserved(store: InventoryStore) -> None:
    stock(store, "p1", 10)
    commands = [command(("p1", 1)), command(("p1", 1))]
    read = store.get_stock
    changed: list[str] = []

    def read_then_adjust(product_id: str) -> Any:
        s = read(product_id)
        if not changed:  # another process changes the stock once, between the first read and the transaction
            changed.append(product_id)
            InventoryStore(store.table).adjust(product_id, 5, "restocked meanwhile")
        return s

    store.get_stock = read_then_adjust  # type: ignore[method-assign]
    assert store.reserve_together(together(*commands)) == {c.id for c in commands}
    del store.get_stock
    assert store.get_stock("p1") == Stock("p1", 13, 2, 4)  # 1 + the adjustment + one per order
    levels = sorted(e["data"]["version"] for e in outbox(store) if e["type"] == "InventoryUpdated")
    assert levels == [2, 3, 4]  # the adjustment's, then one per order: none of the refused transaction


def test_an_order_released_before_it_was_reserved_is_left_to_reserve_which_rejects_it(
        store: InventoryStore) -> None:
    stock(store, "p1", 10)
    released, kept = command(("p1", 1)), command(("p1", 1))
    store.release(Envelope(type=EventType.RELEASE_STOCK, source="orders", data={
        "order_id": released.data["order_id"], "lines": released.data["lines"], "reason": "cancelled"}))
    assert store.reserve_together(together(released, kept)) == {kept.id}
    store.reserve(released)
    assert store.get_stock("p1") == Stock("p1", 9, 1, 2)
    rejected = [e["data"]["order_id"] for e in outbox(store) if e["type"] == "StockRejected"]
    assert rejected == [released.data["order_id"]]


def test_commands_it_does_not_take_whole_are_left_to_reserve(store: InventoryStore) -> None:
    stock(store, "p1", 10)
    twice = command(("p1", 1), ("p1", 2))
    unknown = command(("nope", 1))
    replacing = command(("p1", 1), revision=1, replaces={"revision": 0, "lines": [{"product_id": "p1",
                                                                                  "quantity": 1}]})
    plain = [command(("p1", 1)), command(("p1", 1))]
    applied = store.reserve_together(together(twice, unknown, replacing, *plain))
    assert applied == {c.id for c in plain}


def test_more_than_a_transaction_holds_is_reserved_in_several(store: InventoryStore) -> None:
    stock(store, "p1", 1000)
    commands = [command(*((f"p{n}", 1) for n in (1,))) for _ in range(30)]  # 4 items each: 120 in all
    calls: list[str] = []
    aws.client("dynamodb").meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    assert store.reserve_together(together(*commands)) == {c.id for c in commands}
    assert calls.count("TransactWriteItems") == 2
    s = store.get_stock("p1")
    assert s is not None and (s.available, s.reserved, s.version) == (970, 30, 31)
