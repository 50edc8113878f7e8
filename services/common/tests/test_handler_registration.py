"""A worker's handlers are registered by event type against the contract: a consumed type without a handler, or a
handler of a type the service does not consume, stops the worker at start-up with one line naming the type."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract import CONTRACT, EventType, HandlerRegistrationError, Service, handler_map

from common.consumer import consumers
from common.envelope import Envelope

SERVICES_DIR = Path(__file__).resolve().parents[2]


def _handler(event: Envelope) -> None:
    raise AssertionError("not called")


def test_the_contract_is_consistent_and_every_event_type_has_its_schema() -> None:
    CONTRACT.validate(str(SERVICES_DIR))
    schemas = {p.name.split(".")[0] for p in (SERVICES_DIR / CONTRACT.schema_dir).glob("*.json")} - {"envelope"}
    assert schemas == set(CONTRACT.event_types) == {t.value for t in EventType}


def test_handlers_are_split_by_the_queues_that_carry_their_types() -> None:
    by_queue = handler_map(CONTRACT, Service.INVENTORY, {EventType.RESERVE_STOCK: 1, EventType.RELEASE_STOCK: 2,
                                                         EventType.PRODUCT_CREATED: 3})
    assert by_queue == {"inventory-reservations": {"ReserveStock": 1, "ReleaseStock": 2},
                        "inventory-product-events": {"ProductCreated": 3}}


def test_a_consumed_type_without_a_handler_is_named() -> None:
    with pytest.raises(HandlerRegistrationError, match=r"^inventory: no handler for ReleaseStock, consumed from "
                                                       r"queue inventory-reservations \(contract\)$"):
        handler_map(CONTRACT, Service.INVENTORY, {EventType.RESERVE_STOCK: 1, EventType.PRODUCT_CREATED: 3})


def test_a_handler_of_a_type_not_consumed_is_named() -> None:
    handlers: dict[str, int] = {EventType.RESERVE_STOCK: 1, EventType.RELEASE_STOCK: 2,
                                EventType.PRODUCT_CREATED: 3, EventType.ORDER_PLACED: 4}
    with pytest.raises(HandlerRegistrationError, match=r"^inventory: a handler is registered for OrderPlaced, which "
                                                       r"inventory does not consume"):
        handler_map(CONTRACT, Service.INVENTORY, handlers)


def test_the_worker_stops_at_start_up_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        consumers(Service.PRODUCTS, {}, 1)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["configuration error: products: no handler for InventoryUpdated, consumed from queue "
                     "products-inventory-events (contract)"]


def test_a_queue_of_an_aws_service_format_needs_its_parser(capsys: pytest.CaptureFixture[str]) -> None:
    handlers = {t: _handler for types in CONTRACT.consumed_types(Service.USERS).values() for t in types}
    with pytest.raises(SystemExit):
        consumers(Service.USERS, handlers, 1)
    assert "no parser for the messages of topic email-events" in capsys.readouterr().err
