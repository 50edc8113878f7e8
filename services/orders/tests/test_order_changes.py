"""PUT /orders/{orderId}: a customer changes an order that is not paid yet. New lines are a new revision whose
ReserveStock releases the previous revision's reservation in the same inventory transaction; the Idempotency-Key
rules of POST /orders apply; an order past that point answers 409 with a JSON body saying why; bad input is a 422
naming the field."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from config.topology import Service
from orders.tests.line_cases import confirmed_order, line_cases
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession, fields, stock, wait_status, wait_until
from tools.local.workflows import Client

ORD = Service.ORDERS


@pytest.fixture(scope="module")
def client(platform: LocalPlatform) -> Client:
    return Client(platform)


def place(api: Api, user: UserSession, lines: dict[str, int]) -> dict[str, Any]:
    r = api.call("POST", ORD, "/orders", user.order_headers(),
                 json={"lines": [{"product_id": p, "quantity": q} for p, q in lines.items()]})
    assert r.status_code == 201, r.text
    return dict(r.json())


def change(api: Api, user: UserSession, oid: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return api.call("PUT", ORD, f"/orders/{oid}", user.order_headers(key), json=body)


def lines(**quantities: int) -> list[dict[str, Any]]:
    return [{"product_id": p, "quantity": q} for p, q in quantities.items()]


def test_a_change_moves_the_reservation_within_the_stock_there_is(
        api: Api, admin: dict[str, str], new_user: Callable[[], UserSession], make_product: Callable[..., str]
) -> None:
    a, b = make_product(stock=3), make_product(stock=2)
    u = new_user()
    order = place(api, u, {a: 2})
    wait_status(api, u, order["order_id"], "RESERVED")
    # 3 of a: only 1 is free, so this works only because revision 0's 2 come back in the same transaction.
    r = change(api, u, order["order_id"], {"lines": [*lines(**{a: 3}), *lines(**{b: 2})]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "PENDING" and r.json()["revision"] == 1
    wait_status(api, u, order["order_id"], "RESERVED")
    assert stock(api, admin, a) == {"product_id": a, "available": 0, "reserved": 3}
    assert stock(api, admin, b) == {"product_id": b, "available": 0, "reserved": 2}
    # fewer, and a line dropped
    r = change(api, u, order["order_id"], {"lines": lines(**{a: 1})})
    assert r.status_code == 200 and r.json()["revision"] == 2, r.text
    wait_status(api, u, order["order_id"], "RESERVED")
    wait_until(lambda: stock(api, admin, b)["reserved"] == 0, what="b released")
    assert stock(api, admin, a) == {"product_id": a, "available": 2, "reserved": 1}
    assert stock(api, admin, b) == {"product_id": b, "available": 2, "reserved": 0}
    r = api.call("POST", ORD, f"/orders/{order['order_id']}/cancel", u.headers)
    assert r.status_code == 200
    wait_until(lambda: stock(api, admin, a)["reserved"] == 0, what="revision 2 released on cancel")
    assert stock(api, admin, a)["available"] == 3


def test_a_change_beyond_the_stock_rejects_the_order_and_releases_everything(
        api: Api, admin: dict[str, str], new_user: Callable[[], UserSession], make_product: Callable[..., str]
) -> None:
    a = make_product(stock=2)
    u = new_user()
    order = place(api, u, {a: 1})
    wait_status(api, u, order["order_id"], "RESERVED")
    assert change(api, u, order["order_id"], {"lines": lines(**{a: 5})}).status_code == 200
    wait_status(api, u, order["order_id"], "REJECTED")
    rejected = api.call("GET", ORD, f"/orders/{order['order_id']}", u.headers).json()
    assert "insufficient stock" in rejected["reason"], rejected
    wait_until(lambda: stock(api, admin, a) == {"product_id": a, "available": 2, "reserved": 0},
               what="revision 0 released with the rejection")


def test_changes_in_quick_succession_leave_the_last_one_reserved(
        api: Api, admin: dict[str, str], new_user: Callable[[], UserSession], make_product: Callable[..., str]
) -> None:
    a = make_product(stock=10)
    u = new_user()
    order = place(api, u, {a: 1})
    for q in (2, 3, 4, 5):  # some before inventory has reserved the previous revision
        assert change(api, u, order["order_id"], {"lines": lines(**{a: q})}).status_code == 200
    wait_status(api, u, order["order_id"], "RESERVED")
    wait_until(lambda: stock(api, admin, a) == {"product_id": a, "available": 5, "reserved": 5},
               what="only revision 4 held")


def test_shipping_address_alone_keeps_the_reservation(
        api: Api, admin: dict[str, str], new_user: Callable[[], UserSession], make_product: Callable[..., str]
) -> None:
    a = make_product(stock=4)
    u = new_user()
    order = place(api, u, {a: 1})
    wait_status(api, u, order["order_id"], "RESERVED")
    r = change(api, u, order["order_id"], {"shipping_address": "1 Quay St\nBristol"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "RESERVED" and r.json()["revision"] == 0
    assert r.json()["shipping_address"] == "1 Quay St\nBristol"
    # the same lines again change nothing either
    r = change(api, u, order["order_id"], {"lines": lines(**{a: 1})})
    assert r.status_code == 200 and r.json()["status"] == "RESERVED" and r.json()["revision"] == 0
    assert stock(api, admin, a) == {"product_id": a, "available": 3, "reserved": 1}


def test_idempotency_key(platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
                         make_product: Callable[..., str]) -> None:
    a = make_product(stock=100)
    u = new_user()
    order = place(api, u, {a: 1})
    body = {"lines": lines(**{a: 2})}
    first = change(api, u, order["order_id"], body, "change-once")
    again = change(api, u, order["order_id"], body, "change-once")
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert first.json()["revision"] == again.json()["revision"] == 1
    r = change(api, u, order["order_id"], {"lines": lines(**{a: 3})}, "change-once")
    assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused", r.text
    # a key of POST /orders is not a key of this change
    r = api.call("POST", ORD, "/orders", u.order_headers("placed-with"), json=body)
    assert r.status_code == 201
    r = change(api, u, order["order_id"], body, "placed-with")
    assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused", r.text
    # concurrent retries with a fresh key: one new revision
    headers = u.order_headers("concurrent-change")
    body3 = {"lines": lines(**{a: 7})}
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: httpx.put(api.url(ORD, f"/orders/{order['order_id']}"), headers=headers,
                                                    json=body3, timeout=30), range(6)))
    assert {r.status_code for r in results} == {200}, [r.text for r in results]
    assert {r.json()["revision"] for r in results} == {2}
    with psycopg.connect(platform.orders_dsn()) as conn:
        row = conn.execute("SELECT revision FROM orders WHERE id = %s", (order["order_id"],)).fetchone()
        reserves = conn.execute("SELECT count(*) FROM outbox WHERE type = 'ReserveStock' AND payload::jsonb "
                                "-> 'data' ->> 'order_id' = %s", (order["order_id"],)).fetchone()
    assert row == (2,) and reserves == (3,)


def test_past_pending_is_409(client: Client, api: Api) -> None:
    with client.product_with_stock(price_cents=100, units=2) as pid:
        user, order = confirmed_order(client, pid)
        r = api.call("PUT", ORD, f"/orders/{order['order_id']}", {**user.headers, "Idempotency-Key": "k1"},
                     json={"lines": lines(**{pid: 2})})
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "invalid_state" and "CONFIRMED" in r.json()["message"], r.text


def test_bad_input_names_the_field(api: Api, new_user: Callable[[], UserSession],
                                   make_product: Callable[..., str]) -> None:
    a = make_product(stock=5)
    u, other = new_user(), new_user()
    oid = place(api, u, {a: 1})["order_id"]
    line = {"product_id": a, "quantity": 1}
    cases = [
        *line_cases(u, a),
        (u.order_headers(), {"lines": [{"product_id": str(uuid.uuid4()), "quantity": 1}]}, "lines[0].product_id"),
        (u.order_headers(), {"shipping_address": ""}, "shipping_address"),
        (u.order_headers(), {"shipping_address": "x" * 501}, "shipping_address"),
        (u.order_headers(), {"shipping_address": "A\u0000B"}, "shipping_address"),
    ]
    for headers, body, field in cases:
        r = api.call("PUT", ORD, f"/orders/{oid}", headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in fields(r), (body, r.text)
    assert "orderId" in fields(api.call("PUT", ORD, "/orders/not-a-uuid", u.order_headers(), json={"lines": [line]}))
    assert api.call("PUT", ORD, f"/orders/{oid}", json={"lines": [line]}).status_code == 401
    r = api.call("PUT", ORD, f"/orders/{oid}", other.order_headers(), json={"lines": [line]})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
