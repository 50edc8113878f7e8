from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from contract.limits import IDEMPOTENCY_KEY_CHARS

from config.topology import Service
from orders.tests.line_cases import confirmed_order, line_cases
from orders.tests.second_api import orders_api
from tools.local.local_platform import LocalPlatform, free_port
from tools.local.testkit import Api, UserSession, fields, stock, wait_status, wait_until
from tools.local.workflows import WORKFLOWS, Client, payment_event

ORD = Service.ORDERS


@pytest.fixture(scope="module")
def client(platform: LocalPlatform) -> Client:
    return Client(platform)


@pytest.mark.parametrize("name", list(WORKFLOWS))
def test_seed_workflow(client: Client, name: str) -> None:
    WORKFLOWS[name](client)


def test_validation_names_the_field(api: Api, new_user: Callable[[], UserSession],
                                    make_product: Callable[..., str]) -> None:
    pid = make_product(stock=1)
    u = new_user()
    line = {"product_id": pid, "quantity": 1}
    cases = [
        *line_cases(u, pid),
        (u.order_headers(), {"lines": [{"product_id": pid, "quantity": "two"}]}, "lines[0].quantity"),
        (u.order_headers(), {"lines": [{"product_id": pid, "quantity": 1001}]}, "lines[0].quantity"),
        (u.order_headers(), {"lines": [{"product_id": "", "quantity": 1}]}, "lines[0].product_id"),
        (u.order_headers(), {"lines": [line, {"product_id": str(uuid.uuid4()), "quantity": 1}]}, "lines[1].product_id"),
    ]
    for headers, body, field in cases:
        r = api.call("POST", ORD, "/orders", headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in fields(r), (body, r.text)
    assert fields(api.call("GET", ORD, "/orders/not-a-uuid", u.headers)) == ["orderId"]
    assert fields(api.call("POST", ORD, "/orders/not-a-uuid/cancel", u.headers)) == ["orderId"]
    assert fields(api.call("GET", ORD, "/orders", u.headers, params={"limit": 0})) == ["limit"]
    assert fields(api.call("GET", ORD, "/orders", u.headers, params={"next": "%%%"})) == ["next"]
    assert api.call("POST", ORD, "/orders", json={"lines": [line]}).status_code == 401


def test_idempotency_key(platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
                         make_product: Callable[..., str]) -> None:
    pid = make_product(stock=100)
    u = new_user()
    headers = u.order_headers("retry-me")
    body = {"lines": [{"product_id": pid, "quantity": 1}]}
    first = api.call("POST", ORD, "/orders", headers, json=body)
    again = api.call("POST", ORD, "/orders", headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["order_id"] == again.json()["order_id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    r = api.call("POST", ORD, "/orders", headers, json={"lines": [{"product_id": pid, "quantity": 2}]})
    assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused"
    # concurrent retries with a fresh key: still one order
    key = u.order_headers("concurrent")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: httpx.post(api.url(ORD, "/orders"), headers=key, json=body, timeout=30),
                                range(8)))
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["order_id"] for r in results}) == 1
    with psycopg.connect(platform.orders_dsn()) as conn:
        count = conn.execute("SELECT count(*) FROM orders WHERE customer_id = %s", (u.sub,)).fetchone()
    assert count == (2,)
    # the same key from another customer is another order
    other = new_user()
    assert api.call("POST", ORD, "/orders", other.order_headers("retry-me"), json=body).json()["order_id"] != \
        first.json()["order_id"]


def test_an_idempotency_key_is_any_printable_utf8_text_through_the_edge_and_at_the_service(
        platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    """UTF-8 header bytes are the key's text (orders read them as Latin-1 once: 'clé' was stored as 'clÃ©' and
    'ключ' refused as control characters), up to IDEMPOTENCY_KEY_CHARS characters, printable only."""
    pid = make_product(stock=100)
    u = new_user()
    body = {"lines": [{"product_id": pid, "quantity": 1}]}
    edge = httpx.Client(base_url=platform.edge_url, headers={"x-api-key": platform.api_key}, timeout=30)
    unique = uuid.uuid4().hex[:8]
    keys = [f"ключ-{unique}", f"clé {unique}", f"注文-{unique}", "é" * (IDEMPOTENCY_KEY_CHARS.value - 8) + unique]
    def headers(key: str) -> list[tuple[bytes, bytes]]:  # bytes: httpx sends a str header value as ASCII only
        return [(b"Authorization", u.headers["Authorization"].encode()), (b"Idempotency-Key", key.encode())]

    for key in keys:
        placed = edge.post("/orders", headers=headers(key), json=body)
        assert placed.status_code == 201, (key, placed.text)
        replayed = api.http.post(api.url(ORD, "/orders"), headers=headers(key), json=body)  # the service itself
        assert replayed.status_code == 201 and replayed.headers.get("Idempotent-Replayed") == "true", replayed.text
        assert replayed.json()["order_id"] == placed.json()["order_id"]
    with psycopg.connect(platform.orders_dsn()) as conn:
        stored = {r[0] for r in conn.execute("SELECT key FROM idempotency_keys WHERE customer_id = %s", (u.sub,))}
    assert stored == set(keys)
    for bad in ("é" * (IDEMPOTENCY_KEY_CHARS.value + 1), f"zero\u200bwidth-{unique}", f"next\u0085line-{unique}"):
        for client, url in ((edge, "/orders"), (api.http, api.url(ORD, "/orders"))):
            r = client.post(url, headers=headers(bad), json=body)
            assert r.status_code == 422 and fields(r) == ["Idempotency-Key"], (bad, r.text)


def test_only_own_orders_listing_and_cancel(api: Api, admin: dict[str, str], new_user: Callable[[], UserSession],
                                            make_product: Callable[..., str]) -> None:
    pid = make_product(stock=5)
    alice, bob = new_user(), new_user()
    ids = [api.call("POST", ORD, "/orders", alice.order_headers(),
                    json={"lines": [{"product_id": pid, "quantity": 1}]}).json()["order_id"] for _ in range(3)]
    assert api.call("GET", ORD, f"/orders/{ids[0]}", bob.headers).status_code == 404
    assert api.call("POST", ORD, f"/orders/{ids[0]}/cancel", bob.headers).status_code == 404
    assert api.call("GET", ORD, "/orders", bob.headers).json()["items"] == []
    page1 = api.call("GET", ORD, "/orders", alice.headers, params={"limit": 2}).json()
    page2 = api.call("GET", ORD, "/orders", alice.headers, params={"limit": 2, "next": page1["next"]}).json()
    assert [o["order_id"] for o in page1["items"] + page2["items"]] == ids[::-1]
    for oid in ids:
        wait_status(api, alice, oid, "RESERVED")
    assert stock(api, admin, pid) == {"product_id": pid, "available": 2, "reserved": 3}
    r = api.call("POST", ORD, f"/orders/{ids[0]}/cancel", alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    assert api.call("POST", ORD, f"/orders/{ids[0]}/cancel", alice.headers).status_code == 200  # idempotent
    wait_until(lambda: stock(api, admin, pid)["available"] == 3, what="ReleaseStock applied")
    assert stock(api, admin, pid)["reserved"] == 2
    assert api.call("GET", ORD, f"/orders/{uuid.uuid4()}", alice.headers).status_code == 404


def test_cancel_confirmed_is_409(client: Client, api: Api) -> None:
    with client.product_with_stock(price_cents=100, units=1) as pid:
        user, order = confirmed_order(client, pid)
        r = api.call("POST", ORD, f"/orders/{order['order_id']}/cancel", user.headers)
        assert r.status_code == 409 and r.json()["error"] == "invalid_state"


def test_order_placed_while_aws_down_is_published_when_back(
        platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    pid = make_product(stock=3)
    u = new_user()
    with platform.aws_down(Service.ORDERS):
        r = api.call("POST", ORD, "/orders", u.order_headers(), json={"lines": [{"product_id": pid, "quantity": 1}]})
        assert r.status_code == 201, r.text  # PostgreSQL is up: the order and its outbox rows commit
        oid = r.json()["order_id"]
        with psycopg.connect(platform.orders_dsn()) as conn:
            pending = conn.execute("SELECT type FROM outbox WHERE published_at IS NULL AND payload->'data'->>"
                                   "'order_id' = %s ORDER BY type", (oid,)).fetchall()
        assert pending == [("OrderPlaced",), ("ReserveStock",)]
        import time

        time.sleep(2)
        assert api.call("GET", ORD, f"/orders/{oid}", u.headers).json()["status"] == "PENDING"
    wait_status(api, u, oid, "RESERVED", timeout=60)
    with psycopg.connect(platform.orders_dsn()) as conn:
        left = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL AND payload->'data'->>"
                            "'order_id' = %s", (oid,)).fetchone()
    assert left == (0,)


def test_products_down_is_503(platform: LocalPlatform, new_user: Callable[[], UserSession]) -> None:
    """A second orders API whose PRODUCTS_URL points at a closed port answers 503 JSON, not 500, for a product its
    read model does not know (the only kind it asks products about)."""
    with orders_api(platform, PRODUCTS_URL=f"http://127.0.0.1:{free_port()}") as base:
        r = httpx.post(base + "/orders", headers=new_user().order_headers(), timeout=30,
                       json={"lines": [{"product_id": "p", "quantity": 1}]})
    assert r.status_code == 503 and r.json()["error"] == "unavailable"


def test_same_event_twice_changes_state_once(platform: LocalPlatform, client: Client) -> None:
    """A PaymentConfirmed delivered twice: one CONFIRMED transition, one OrderConfirmed in the outbox."""
    with client.product_with_stock(price_cents=700, units=2) as pid:
        user = client.customer("d", "D")
        order = client.place(user, {pid: 1})
        reserved = client.wait_order(user, order["order_id"], "RESERVED")
        sqs = platform.client("sqs")
        event = payment_event(reserved)  # one event, delivered twice below
        for _ in range(2):
            sqs.send_message(QueueUrl=platform.resources.queue_urls["orders-payment-events"],
                             MessageBody=json.dumps(event))
        client.wait_order(user, order["order_id"], "CONFIRMED")
        wait_until(lambda: int(sqs.get_queue_attributes(
            QueueUrl=platform.resources.queue_urls["orders-payment-events"], AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessagesNotVisible"]) == 0, what="both deliveries handled")
    with psycopg.connect(platform.orders_dsn()) as conn:
        n = conn.execute("SELECT count(*) FROM outbox WHERE type = 'OrderConfirmed' AND payload->'data'->>"
                         "'order_id' = %s", (order["order_id"],)).fetchone()
        seen = conn.execute("SELECT count(*) FROM processed_events WHERE event_id = %s", (event["id"],)).fetchone()
    assert n == (1,) and seen == (1,)
