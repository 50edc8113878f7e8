"""Customers of the session's platform for the users tests: registered through the users API (so they have a
profile), confirmed as Cognito would after the emailed code, signed in; and their orders, placed and moved through
the orders service as the seed's workflow does."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from config.topology import EVENT_TYPE_ATTRIBUTE, Service
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, wait_until
from tools.local.workflows import payment_event

PASSWORD = "Passw0rd-users"  # a local test account's


@dataclass(frozen=True)
class Customer:
    email: str
    sub: str
    headers: dict[str, str]


def register(platform: LocalPlatform, api: Api, name: str = "Ann") -> Customer:
    email = f"c-{uuid.uuid4().hex[:10]}@example.com"
    r = api.call("POST", Service.USERS, "/users/register", json={"email": email, "password": PASSWORD, "name": name})
    assert r.status_code == 201, r.text
    platform.client("cognito-idp").admin_confirm_sign_up(UserPoolId=platform.resources.user_pool_id, Username=email)
    tokens = api.call("POST", Service.USERS, "/users/login", json={"email": email, "password": PASSWORD}).json()
    return Customer(email=email, sub=str(r.json()["user_id"]),
                    headers={"Authorization": f"Bearer {tokens['access_token']}"})


def set_preferences(api: Api, customer: Customer, **changes: Any) -> dict[str, Any]:
    current = api.call("GET", Service.USERS, "/users/me/preferences", customer.headers).json()
    body = {"language": current["language"], "currency": current["currency"],
            "notifications": current["notifications"]}
    for key, value in changes.items():
        if key in ("order_updates", "marketing"):
            body["notifications"]["email"][key] = value
        else:
            body[key] = value
    r = api.call("PUT", Service.USERS, "/users/me/preferences", customer.headers, json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def order_status(api: Api, customer: Customer, order_id: str) -> dict[str, Any]:
    r = api.call("GET", Service.ORDERS, f"/orders/{order_id}", customer.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def reserved_order(api: Api, customer: Customer, product_id: str) -> dict[str, Any]:
    r = api.call("POST", Service.ORDERS, "/orders", {**customer.headers, "Idempotency-Key": str(uuid.uuid4())},
                 json={"lines": [{"product_id": product_id, "quantity": 1}]})
    assert r.status_code == 201, r.text
    oid = r.json()["order_id"]
    return wait_until(lambda: (o := order_status(api, customer, oid))["status"] == "RESERVED" and o, 30,
                      f"order {oid} RESERVED")


def confirmed_order(platform: LocalPlatform, api: Api, customer: Customer, product_id: str) -> str:
    """An order of one unit, paid (PaymentConfirmed as the provider publishes it) and CONFIRMED: its id."""
    order = reserved_order(api, customer, product_id)
    event = payment_event(order)
    platform.client("sns").publish(
        TopicArn=platform.resources.topic_arns["payment-events"], Message=json.dumps(event),
        MessageAttributes={EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": "PaymentConfirmed"}})
    wait_until(lambda: order_status(api, customer, order["order_id"])["status"] == "CONFIRMED", 30,
               f"order {order['order_id']} CONFIRMED")
    return str(order["order_id"])


def notification(platform: LocalPlatform, order_id: str, status: str) -> dict[str, Any] | None:
    """The users service's notification item of this order status, as stored."""
    from boto3.dynamodb.types import TypeDeserializer

    item = platform.client("dynamodb").get_item(
        TableName=platform.resources.tables[Service.USERS], ConsistentRead=True,
        Key={"pk": {"S": f"NOTIFICATION#{order_id}"}, "sk": {"S": f"STATUS#{status}"}}).get("Item")
    if item is None:
        return None
    de = TypeDeserializer()
    return {k: de.deserialize(v) for k, v in item.items()}


def emails_about(platform: LocalPlatform, customer: Customer, order_id: str) -> list[dict[str, Any]]:
    return [m for m in platform.sent_emails(customer.email) if order_id in m["body"]]
