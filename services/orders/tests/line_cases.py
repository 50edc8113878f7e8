"""What the orders tests of placing and of changing an order share: the bodies the API refuses for their lines or
their Idempotency-Key, with the field each names (POST /orders and PUT /orders/{orderId} apply the same rules), and
a confirmed order to try to change or cancel."""

from __future__ import annotations

from typing import Any

from tools.local.testkit import UserSession
from tools.local.workflows import Client, Session, payment_event

Case = tuple[dict[str, str], object, str]  # headers, body, the field the 422 names


def line_cases(u: UserSession, product_id: str) -> list[Case]:
    line = {"product_id": product_id, "quantity": 1}
    return [
        (u.headers, {"lines": [line]}, "Idempotency-Key"),
        ({**u.headers, "Idempotency-Key": ""}, {"lines": [line]}, "Idempotency-Key"),
        (u.order_headers(), {}, "lines"),
        (u.order_headers(), {"lines": []}, "lines"),
        (u.order_headers(), {"lines": [line] * 21}, "lines"),
        (u.order_headers(), {"lines": [{"product_id": product_id, "quantity": 0}]}, "lines[0].quantity"),
        (u.order_headers(), {"lines": [{"quantity": 1}]}, "lines[0].product_id"),
        (u.order_headers(), {"lines": [line, line]}, "lines[1].product_id"),
        (u.order_headers(), {"lines": [line], "coupon": "X"}, "coupon"),
    ]


def confirmed_order(client: Client, product_id: str) -> tuple[Session, dict[str, Any]]:
    """A new customer's order of one unit of ``product_id``, reserved, paid and CONFIRMED."""
    user = client.customer("c", "C")
    order = client.place(user, {product_id: 1})
    assert client.stage.pay(payment_event(client.wait_order(user, order["order_id"], "RESERVED")))
    client.wait_order(user, order["order_id"], "CONFIRMED")
    return user, order
