"""Shared fixtures: one local platform per test session (real PostgreSQL cluster, moto_server over HTTP, the four
services' API and worker Deployments of the synthesized dev Services stack, run as processes with the commands and
the environment their manifests give the containers, behind the local edge enforcing the synthesized dev API:
`platform.edge_url`, `platform.api_key`; `make e2e MODE=containers` runs the containers themselves)."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import jwt
import pytest

from config.environments import DEV
from config.topology import Service
from tools.local.local_platform import LocalPlatform
from tools.local.pod_runner import PROCESSES
from tools.local.workflows import wait_for

T = TypeVar("T")
_counter = itertools.count()
# dev's settings, but pooled database connections are closed after 2 idle seconds instead of 60, so that the test
# of an idle platform holding no connection does not wait a minute.
CONFIG = dataclasses.replace(DEV, orders=dataclasses.replace(DEV.orders, db_pool_max_idle_seconds=2))


@pytest.fixture(scope="session")
def platform() -> Iterator[LocalPlatform]:
    # Orders and inventory reach AWS, and orders PostgreSQL, through switchable proxies (outage tests); the users
    # service reaches SES through one, for the notifications-while-SES-is-down test.
    with LocalPlatform(free_ports=True, proxied=(Service.ORDERS, Service.INVENTORY), proxied_db=True,
                       ses_proxied=(Service.USERS,), config=CONFIG, mode=PROCESSES) as p:
        yield p
        # Every AWS call the services made during the tests, against the roles the Services stack gives them.
        denied = p.access_proof().problems()
        assert not denied, "\n".join(denied)


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


@pytest.fixture(scope="session")
def api(platform: LocalPlatform) -> Api:
    return Api(platform)


@pytest.fixture(scope="session")
def admin(platform: LocalPlatform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.user_token('admin@example.com', groups=('admin',))}"}


class UserSession:
    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sub = str(jwt.decode(token, options={"verify_signature": False})["sub"])

    def order_headers(self, key: str | None = None) -> dict[str, str]:
        return {**self.headers, "Idempotency-Key": key or str(uuid.uuid4())}


@pytest.fixture(scope="session")
def new_user(platform: LocalPlatform) -> Callable[[], UserSession]:
    def make() -> UserSession:
        return UserSession(platform.user_token(f"user{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"))

    return make


@pytest.fixture(scope="session")
def make_product(api: Api, admin: dict[str, str]) -> Callable[..., str]:
    """Create a product and give it stock (waits for inventory to receive ProductCreated)."""

    def make(price_cents: int = 1000, stock: int = 10, name: str = "Thing") -> str:
        r = api.call("POST", Service.PRODUCTS, "/products", admin, json={"name": name, "price_cents": price_cents})
        assert r.status_code == 201, r.text
        pid = str(r.json()["product_id"])
        wait_until(lambda: api.call("GET", Service.INVENTORY, f"/inventory/{pid}", admin).status_code == 200,
                   what="stock record from ProductCreated")
        if stock:
            r = api.call("POST", Service.INVENTORY, f"/inventory/{pid}/adjust", admin, json={"delta": stock})
            assert r.status_code == 200, r.text
        return pid

    return make


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
