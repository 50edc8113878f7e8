"""The seed's three workflows driven over HTTP against a running LocalPlatform (used by tools/e2e.py and tests).

Each function raises AssertionError with a readable message when the platform does not reach the expected state.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from config.topology import EVENT_TYPE_ATTRIBUTE, Service
from tools.local_platform import LocalPlatform

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class Client:
    def __init__(self, platform: LocalPlatform) -> None:
        self.p = platform
        self.http = httpx.Client(timeout=30)
        self.admin = {"Authorization": f"Bearer {platform.user_token('e2e-admin@example.com', groups=('admin',))}"}

    def req(self, method: str, service: Service, path: str, expect: int, headers: dict[str, str] | None = None,
            **kw: Any) -> Any:
        r = self.http.request(method, self.p.url(service) + path, headers=headers, **kw)
        if r.status_code != expect:
            raise AssertionError(f"{method} {path}: expected {expect}, got {r.status_code}: {r.text}")
        return r.json() if r.content else None

    def product_with_stock(self, price_cents: int, units: int) -> str:
        pid = str(self.req("POST", Service.PRODUCTS, "/products", 201, self.admin,
                           json={"name": f"E2E {uuid.uuid4().hex[:6]}", "price_cents": price_cents})["product_id"])
        wait_for(lambda: self.http.get(self.p.url(Service.INVENTORY) + f"/inventory/{pid}",
                                       headers=self.admin).status_code == 200, "stock record (ProductCreated)")
        self.req("POST", Service.INVENTORY, f"/inventory/{pid}/adjust", 200, self.admin, json={"delta": units})
        return pid

    def register_and_login(
        self, email: str, name: str, password: str = "Str0ng-pass"  # noqa: S107 - throwaway local user
    ) -> dict[str, Any]:
        reg = self.req("POST", Service.USERS, "/users/register", 201, json={"email": email, "password": password,
                                                                              "name": name})
        # Stands in for the user following Cognito's verification email (see services/users/app.py).
        self.p.client("cognito-idp").admin_confirm_sign_up(UserPoolId=self.p.resources.user_pool_id, Username=email)
        tokens = self.req("POST", Service.USERS, "/users/login", 200, json={"email": email, "password": password})
        return {"user_id": reg["user_id"], "headers": {"Authorization": f"Bearer {tokens['access_token']}"}}

    def order(self, headers: dict[str, str], oid: str) -> dict[str, Any]:
        return dict(self.req("GET", Service.ORDERS, f"/orders/{oid}", 200, headers))

    def wait_order(self, headers: dict[str, str], oid: str, status: str, timeout: float = 30) -> dict[str, Any]:
        return wait_for(lambda: (o := self.order(headers, oid))["status"] == status and o,
                        f"order {oid} to become {status}", timeout)

    def pay(self, order: dict[str, Any]) -> None:
        """Publish PaymentConfirmed to the payment-events topic, as the payment provider integration would."""
        event = {"id": str(uuid.uuid4()), "type": "PaymentConfirmed", "version": 1,
                 "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": "payment-provider",
                 "correlation_id": str(uuid.uuid4()),
                 "data": {"order_id": order["order_id"], "payment_id": f"pay-{uuid.uuid4().hex[:8]}",
                          "amount_cents": order["total_cents"], "currency": order["currency"]}}
        self.p.client("sns").publish(
            TopicArn=self.p.resources.topic_arns["payment-events"], Message=json.dumps(event),
            MessageAttributes={EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": "PaymentConfirmed"}})

    def stock(self, pid: str) -> dict[str, Any]:
        return dict(self.req("GET", Service.INVENTORY, f"/inventory/{pid}", 200, self.admin))


def order_placement(c: Client) -> dict[str, Any]:
    """Order -> ReserveStock -> StockReserved -> RESERVED -> PaymentConfirmed -> CONFIRMED (OrderConfirmed)."""
    pid = c.product_with_stock(price_cents=1250, units=5)
    user = c.register_and_login(f"buyer-{uuid.uuid4().hex[:8]}@example.com", "Buyer")
    order = c.req("POST", Service.ORDERS, "/orders", 201, {**user["headers"], "Idempotency-Key": str(uuid.uuid4())},
                  json={"lines": [{"product_id": pid, "quantity": 2}]})
    assert order["status"] == "PENDING" and order["total_cents"] == 2500, order
    reserved = c.wait_order(user["headers"], order["order_id"], "RESERVED")
    assert c.stock(pid) == {"product_id": pid, "available": 3, "reserved": 2}
    c.pay(reserved)
    confirmed = c.wait_order(user["headers"], order["order_id"], "CONFIRMED")
    return {"order_id": confirmed["order_id"], "status": confirmed["status"], "stock": c.stock(pid)}


def user_registration(c: Client) -> dict[str, Any]:
    """Register -> profile + UserRegistered (outbox) -> SNS user-events -> orders-user-events queue -> customer."""
    import psycopg

    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    user = c.register_and_login(email, "New User")
    me = c.req("GET", Service.USERS, "/users/me", 200, user["headers"])
    assert me["email"] == email and me["user_id"] == user["user_id"], me

    def customer() -> tuple[Any, ...] | None:
        with psycopg.connect(c.p.orders_dsn()) as conn:
            return conn.execute("SELECT id, email, name FROM customers WHERE id = %s", (user["user_id"],)).fetchone()

    row = wait_for(customer, "UserRegistered recorded by orders (via the orders-user-events queue)")
    assert row == (user["user_id"], email, "New User"), row
    return {"user_id": user["user_id"], "customer_row": list(row)}


def product_update(c: Client) -> dict[str, Any]:
    """Admin reprices a product -> ProductUpdated -> pending orders repriced; discontinue -> REJECTED + released."""
    pid = c.product_with_stock(price_cents=1000, units=10)
    other = c.product_with_stock(price_cents=300, units=10)
    user = c.register_and_login(f"pending-{uuid.uuid4().hex[:8]}@example.com", "Pending")
    h = {**user["headers"]}
    o1 = c.req("POST", Service.ORDERS, "/orders", 201, {**h, "Idempotency-Key": str(uuid.uuid4())},
               json={"lines": [{"product_id": pid, "quantity": 3}, {"product_id": other, "quantity": 1}]})
    c.wait_order(h, o1["order_id"], "RESERVED")
    c.req("PUT", Service.PRODUCTS, f"/products/{pid}", 200, c.admin, json={"name": "Repriced", "price_cents": 800})
    repriced = wait_for(lambda: (o := c.order(h, o1["order_id"]))["total_cents"] == 3 * 800 + 300 and o,
                        "pending order repriced")
    assert repriced["status"] == "RESERVED"
    c.req("DELETE", Service.PRODUCTS, f"/products/{pid}", 204, c.admin)
    rejected = c.wait_order(h, o1["order_id"], "REJECTED")
    assert "discontinued" in (rejected["reason"] or ""), rejected
    wait_for(lambda: c.stock(pid)["reserved"] == 0 and c.stock(other)["reserved"] == 0, "reservation released")
    assert c.stock(pid)["available"] == 10 and c.stock(other)["available"] == 10
    return {"order_id": o1["order_id"], "total_after_reprice": repriced["total_cents"], "final": rejected["status"]}


WORKFLOWS: dict[str, Callable[[Client], dict[str, Any]]] = {
    "order placement": order_placement,
    "user registration": user_registration,
    "product update": product_update,
}
