"""Shared fixtures: one local platform per test session (real PostgreSQL cluster, moto_server over HTTP, the four
services' API and worker Deployments of the synthesized dev Services stack, run as processes with the commands and
the environment their manifests give the containers, behind the local edge enforcing the synthesized dev API:
`platform.edge_url`, `platform.api_key`; `make e2e MODE=containers` runs the containers themselves)."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from config.topology import Service
from tools.local.local_platform import LocalPlatform
from tools.local.pod_runner import PROCESSES
from tools.local.testkit import CONFIG, Api, UserSession, wait_until

_counter = itertools.count()
# The shared clients of the tests' own process validate every request as botocore would, those of a service that
# leaves it to the service (DynamoDB: common/aws.py) included; the platform's pods do where their calls are recorded.
os.environ.setdefault("AWS_VALIDATE_REQUESTS", "1")


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


@pytest.fixture(scope="session")
def api(platform: LocalPlatform) -> Api:
    return Api(platform)


@pytest.fixture(scope="session")
def admin(platform: LocalPlatform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.user_token('admin@example.com', groups=('admin',))}"}


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
        # Relay, SNS, SQS and the inventory worker: that path took over 20 s once in a loaded full run.
        wait_until(lambda: api.call("GET", Service.INVENTORY, f"/inventory/{pid}", admin).status_code == 200,
                   what="stock record from ProductCreated", timeout=60)
        if stock:
            r = api.call("POST", Service.INVENTORY, f"/inventory/{pid}/adjust", admin, json={"delta": stock})
            assert r.status_code == 200, r.text
        return pid

    return make
