"""What the services' tests share besides their fixtures (which stay in services/conftest.py): the local platform's
settings for a test session, an HTTP client of the platform's service URLs, a signed-in user, waits on the order
and stock state the services reach asynchronously, and the field names of a validation error."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import jwt

from config.environments import DEV
from config.topology import Service
from tools.local.local_platform import LocalPlatform
from tools.local.workflows import wait_for

T = TypeVar("T")
# dev's settings, but pooled database connections are closed after 2 idle seconds instead of 60, so that the test
# of an idle platform holding no connection does not wait a minute.
CONFIG = dataclasses.replace(DEV, orders=dataclasses.replace(DEV.orders, db_pool_max_idle_seconds=2))


def wait_until(probe: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    return wait_for(probe, what, timeout)


class Api:
    """Small HTTP helper bound to the platform's service URLs."""

    def __init__(self, platform: LocalPlatform) -> None:
        self.p = platform
        self.http = httpx.Client(timeout=30)

    def url(self, service: Service, path: str) -> str:
        return self.p.url(service) + path

    def call(self, method: str, service: Service, path: str, headers: dict[str, str] | None = None,
             **kw: Any) -> httpx.Response:
        return self.http.request(method, self.url(service, path), headers=headers, **kw)


class UserSession:
    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sub = str(jwt.decode(token, options={"verify_signature": False})["sub"])

    def order_headers(self, key: str | None = None) -> dict[str, str]:
        return {**self.headers, "Idempotency-Key": key or str(uuid.uuid4())}


def order_status(api: Api, user: UserSession, order_id: str) -> str:
    r = api.call("GET", Service.ORDERS, f"/orders/{order_id}", user.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def wait_status(api: Api, user: UserSession, order_id: str, expected: str, timeout: float = 30) -> None:
    wait_until(lambda: order_status(api, user, order_id) == expected, timeout, f"order {order_id} -> {expected}")


def stock(api: Api, admin: dict[str, str], pid: str) -> dict[str, Any]:
    r = api.call("GET", Service.INVENTORY, f"/inventory/{pid}", admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


def fields(resp: httpx.Response) -> list[str]:
    """Field names of a validation error body: {"error": "validation_failed", "fields": [{"field": ...}]}."""
    body = resp.json()
    assert body["error"] == "validation_failed", body
    return [f["field"] for f in body["fields"]]


def queue_drained(platform: LocalPlatform, queue: str) -> bool:
    """Nothing waiting in the queue and nothing in flight: every message so far was handled (or dead-lettered)."""
    attrs = platform.client("sqs").get_queue_attributes(
        QueueUrl=platform.resources.queue_urls[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
