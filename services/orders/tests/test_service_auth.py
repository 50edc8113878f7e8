"""Orders' authenticated call to products: token caching, and refusals become clear 502/503 answers, never 500."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import pytest
from common.service_auth import REFRESH_MARGIN_SECONDS, ClientCredentials, ClientSecret, TokenRejected, TokenUnavailable

from config.topology import SERVICE_CALLS, Service
from orders.tests.second_api import forget_product, orders_api
from tools.local.local_platform import LocalPlatform, free_port
from tools.local.testkit import Api, UserSession

ORD = Service.ORDERS
SCOPE = "products/read"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def orders_secret(platform: LocalPlatform) -> ClientSecret:
    raw = platform.client("secretsmanager").get_secret_value(
        SecretId=platform.resources.service_secret_arns[ORD])["SecretString"]
    doc = json.loads(raw)
    return ClientSecret(doc["client_id"], doc["client_secret"])


def test_scope_constant_matches_topology() -> None:
    from orders import settings

    assert (settings.PRODUCTS_SCOPE,) == SERVICE_CALLS[ORD] == (SCOPE,)


def test_token_is_cached_until_shortly_before_expiry(platform: LocalPlatform) -> None:
    clock, loads = Clock(), []

    def load() -> ClientSecret:
        loads.append(1)
        return orders_secret(platform)

    tokens = ClientCredentials(platform.token_url, SCOPE, load, clock=clock)
    first = tokens.token()
    assert tokens.token() == first  # every issued token differs (jti, iat): the same one means no second request
    clock.now += 3600 - REFRESH_MARGIN_SECONDS - 1  # the local endpoint issues 3600 s tokens, like Cognito's default
    assert tokens.token() == first
    clock.now += 2  # inside the refresh margin: renewed before it expires
    second = tokens.token()
    assert second != first
    tokens.invalidate()  # products refused it: the next call fetches a new one
    assert tokens.token() not in (first, second)
    assert len(loads) == 1  # the secret is read once


def test_rotated_secret_is_read_again(platform: LocalPlatform) -> None:
    good = orders_secret(platform)
    answers = [ClientSecret(good.client_id, "rotated-away"), good]
    tokens = ClientCredentials(platform.token_url, SCOPE, lambda: answers.pop(0))
    assert tokens.token()
    assert answers == []


def test_refusals_and_outages_are_distinguished(platform: LocalPlatform) -> None:
    good = orders_secret(platform)
    with pytest.raises(TokenRejected):
        ClientCredentials(platform.token_url, SCOPE, lambda: ClientSecret(good.client_id, "wrong")).token()
    with pytest.raises(TokenRejected):
        ClientCredentials(platform.token_url, "inventory/read", lambda: good).token()
    with pytest.raises(TokenUnavailable):
        ClientCredentials(f"http://127.0.0.1:{free_port()}/oauth2/token", SCOPE, lambda: good).token()

    def broken() -> ClientSecret:
        raise KeyError("client_secret")

    with pytest.raises(TokenUnavailable):
        ClientCredentials(platform.token_url, SCOPE, broken).token()


def test_orders_service_reuses_its_token(platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
                                         make_product: Callable[..., str]) -> None:
    """The running orders API asks the token endpoint once, not once per product lookup."""
    pid = make_product(stock=5)
    u = new_user()

    def place() -> None:
        forget_product(platform, pid)  # so that the order asks products (its fallback) and needs a token
        r = api.call("POST", ORD, "/orders", u.order_headers(), json={"lines": [{"product_id": pid, "quantity": 1}]})
        assert r.status_code == 201, r.text

    def issued() -> int:
        marker = f"issued client_id={platform.resources.service_client_ids[ORD]} "
        return platform.log_tail("token-endpoint", lines=100_000).count(marker)

    place()  # the token is in orders' cache from here on (if it was not already)
    before = issued()
    assert before >= 1
    for _ in range(3):
        place()
    assert issued() == before


def place(base: str, user: UserSession, pid: str) -> httpx.Response:
    return httpx.post(base + "/orders", headers=user.order_headers(), timeout=30,
                      json={"lines": [{"product_id": pid, "quantity": 1}]})


def test_products_refusing_the_client_is_502(platform: LocalPlatform, new_user: Callable[[], UserSession],
                                             make_product: Callable[..., str]) -> None:
    """403 from products: orders runs with a valid service client of the pool that products does not allow."""
    pid = make_product(stock=1)
    forget_product(platform, pid)  # known to orders' read model, the order would not ask products
    _, _, arn = platform.add_service_client(f"not-allowed-{uuid.uuid4().hex[:6]}", (SCOPE,))
    with orders_api(platform, SERVICE_CLIENT_SECRET_ARN=arn) as base:
        r = place(base, new_user(), pid)
    assert r.status_code == 502, r.text
    assert r.json()["error"] == "bad_gateway"


def test_products_rejecting_the_token_is_502(platform: LocalPlatform, new_user: Callable[[], UserSession],
                                             make_product: Callable[..., str]) -> None:
    """401 from products (twice: the retry with a fresh token is refused too): the token is of another pool."""
    pid = make_product(stock=1)
    forget_product(platform, pid)
    idp = platform.client("cognito-idp")
    other_pool = idp.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    platform.create_resource_servers(other_pool)
    _, _, arn = platform.add_service_client("orders-service", (SCOPE,), user_pool_id=other_pool)
    with orders_api(platform, SERVICE_CLIENT_SECRET_ARN=arn) as base:
        r = place(base, new_user(), pid)
    assert r.status_code == 502, r.text
    assert r.json()["error"] == "bad_gateway"


def test_token_endpoint_down_is_503(platform: LocalPlatform, new_user: Callable[[], UserSession],
                                    make_product: Callable[..., str]) -> None:
    pid = make_product(stock=1)
    forget_product(platform, pid)
    with orders_api(platform, PRODUCTS_TOKEN_URL=f"http://127.0.0.1:{free_port()}/oauth2/token") as base:
        r = place(base, new_user(), pid)
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable"
