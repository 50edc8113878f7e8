"""The products read model in the orders database: ProductCreated and ProductUpdated (orders-product-events) keep the
price, currency and status an order needs, so placing an order asks the products service nothing; a product the read
model does not know is priced by the synchronous call to products and stored; an older or repeated version changes
nothing. Against the local platform's real PostgreSQL, products service and event pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from common.envelope import Envelope

from config.topology import Service
from orders.db import open_pool
from orders.service import Deadlines, OrderService
from orders.tests.second_api import forget_product, orders_api, read_model
from tools.local.local_platform import LocalPlatform, free_port
from tools.local.testkit import Api, UserSession, fields, wait_until

ORD = Service.ORDERS


def learned(platform: LocalPlatform, pid: str, expected: tuple[Any, ...]) -> None:
    wait_until(lambda: read_model(platform, pid) == expected, what=f"read model of {pid} at {expected}")


@pytest.fixture(scope="module")
def blind_orders(platform: LocalPlatform) -> Iterator[str]:
    """A second orders API, as the platform runs it, whose PRODUCTS_URL is a closed port: any call to products from
    it fails (503), so an order it places was priced from the read model alone."""
    with orders_api(platform, PRODUCTS_URL=f"http://127.0.0.1:{free_port()}") as base:
        yield base


def order(base: str, user: UserSession, pid: str) -> httpx.Response:
    return httpx.post(base + "/orders", headers=user.order_headers(), timeout=30,
                      json={"lines": [{"product_id": pid, "quantity": 1}]})


def test_a_known_product_is_priced_without_calling_products(
        platform: LocalPlatform, admin: dict[str, str], api: Api, blind_orders: str,
        new_user: Callable[[], UserSession], make_product: Callable[..., str]) -> None:
    pid = make_product(price_cents=1234, stock=2)
    learned(platform, pid, (1234, "EUR", "ACTIVE", 1))  # from ProductCreated
    r = api.call("PUT", Service.PRODUCTS, f"/products/{pid}", admin, json={"name": "Thing", "price_cents": 1500})
    assert r.status_code == 200, r.text
    learned(platform, pid, (1500, "EUR", "ACTIVE", 2))  # from ProductUpdated
    r = order(blind_orders, new_user(), pid)
    assert r.status_code == 201, r.text
    assert r.json()["lines"] == [{"product_id": pid, "quantity": 1, "unit_price_cents": 1500}]
    assert r.json()["total_cents"] == 1500
    # the same API does call products for a product the read model lacks: that call fails here
    r = order(blind_orders, new_user(), f"unknown-{uuid.uuid4().hex}")
    assert r.status_code == 503 and r.json()["error"] == "unavailable", r.text


def test_a_discontinued_product_is_refused_from_the_read_model(
        platform: LocalPlatform, admin: dict[str, str], api: Api, blind_orders: str,
        new_user: Callable[[], UserSession], make_product: Callable[..., str]) -> None:
    pid = make_product(stock=0)
    assert api.call("DELETE", Service.PRODUCTS, f"/products/{pid}", admin).status_code == 204
    learned(platform, pid, (1000, "EUR", "DISCONTINUED", 2))
    r = order(blind_orders, new_user(), pid)
    assert r.status_code == 422 and fields(r) == ["lines[0].product_id"], r.text


def test_a_product_unknown_to_the_read_model_is_fetched_and_stored(
        platform: LocalPlatform, api: Api, blind_orders: str, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    pid = make_product(price_cents=777, stock=2)
    forget_product(platform, pid)
    user = new_user()
    r = order(blind_orders, user, pid)
    assert r.status_code == 503, r.text  # unknown to the read model: priced only by asking products
    r = api.call("POST", ORD, "/orders", user.order_headers(), json={"lines": [{"product_id": pid, "quantity": 1}]})
    assert r.status_code == 201 and r.json()["total_cents"] == 777, r.text
    assert read_model(platform, pid) == (777, "EUR", "ACTIVE", 1)  # stored by the order's own transaction
    assert order(blind_orders, new_user(), pid).status_code == 201


def test_events_apply_once_and_only_forwards(platform: LocalPlatform) -> None:
    """The worker's handlers on the real database: an older version, or the same version again under another event
    id (a product event published twice), leaves the newer row as it is."""
    pid = f"rm-{uuid.uuid4().hex}"

    def event(kind: str, version: int, price: int, status: str = "ACTIVE") -> Envelope:
        return Envelope(type=kind, source="products", data={
            "product_id": pid, "name": "Thing", "price_cents": price, "currency": "EUR", "status": status,
            "product_version": version})

    pool = open_pool(platform.orders_dsn, max_size=2)
    try:
        svc = OrderService(pool, Deadlines(900, 1800))
        created = event("ProductCreated", 1, 100)
        svc.on_product_created(created)
        assert read_model(platform, pid) == (100, "EUR", "ACTIVE", 1)
        svc.on_product_updated(event("ProductUpdated", 3, 300))
        svc.on_product_updated(event("ProductUpdated", 2, 200))  # delivered after a newer one
        svc.on_product_updated(event("ProductUpdated", 3, 333))  # same version, another event id
        svc.on_product_created(created)  # redelivered
        assert read_model(platform, pid) == (300, "EUR", "ACTIVE", 3)
        svc.on_product_updated(event("ProductUpdated", 4, 300, "DISCONTINUED"))
        assert read_model(platform, pid) == (300, "EUR", "DISCONTINUED", 4)
        assert svc.read_products([pid, "nobody"])[pid].status == "DISCONTINUED"
    finally:
        pool.close()
