"""The local edge in front of the real services (the session's platform): what API Gateway refuses never reaches a
service, what it lets through arrives as the integration maps it, and every request field refuses wrong types and
control characters both at the edge and at the service, naming the field."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from cdk_constructs.api_models import edge_model, routes_with_bodies
from config import environments
from config.topology import Route, Service
from tools.local.local_edge import EdgeDefinition
from tools.local.local_platform import LOCAL_ENVIRONMENT, LocalPlatform
from tools.local.testkit import Api, UserSession
from tools.local.workflows import (
    adjustment_body,
    order_body,
    order_change_body,
    payment_report,
    preferences_body,
    product_body,
    profile_body,
    registration_body,
)


class Edge:
    """Calls through the local edge with the API key; a throttled call (429) is retried after a pause."""

    def __init__(self, platform: LocalPlatform) -> None:
        self.p = platform
        self.http = httpx.Client(base_url=platform.edge_url, timeout=35)

    def call(self, method: str, path: str, headers: dict[str, str] | None = None, *, key: str | None = "platform",
             **kw: Any) -> httpx.Response:
        h = dict(headers or {})
        if key is not None:
            h["x-api-key"] = self.p.api_key if key == "platform" else key
        for attempt in range(6):
            r = self.http.request(method, path, headers=h, **kw)
            if r.status_code != 429:
                return r
            time.sleep(0.25 * 2 ** attempt)
        return r


@pytest.fixture(scope="module")
def edge(platform: LocalPlatform) -> Edge:
    return Edge(platform)


def service_saw(platform: LocalPlatform, service: Service, request_id: str) -> bool:
    """Whether the service logged a request carrying this correlation id (the edge sends its request id as one)."""
    time.sleep(0.3)  # the service writes its request line after answering
    for line in platform.log_tail(f"{service.value}-api", lines=100_000).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("correlation_id") == request_id and entry.get("message") == "request":
            return True
    return False


def test_a_body_the_edge_model_refuses_is_answered_by_the_edge_not_the_service(
        platform: LocalPlatform, edge: Edge, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    user = new_user()
    pid = make_product(stock=5)
    bad = {"lines": [{"product_id": pid, "quantity": True}]}
    refused = edge.call("POST", "/orders", user.order_headers(), json=bad)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["error"] == "invalid_request_body" and "/lines/0/quantity" in body["details"], body
    assert not service_saw(platform, Service.ORDERS, refused.headers["x-amzn-requestid"])
    # The same check sees a request the edge lets through: the service logs the edge's request id.
    accepted = edge.call("POST", "/orders", user.order_headers(), json=order_body({pid: 1}))
    assert accepted.status_code == 201, accepted.text
    assert accepted.headers["x-correlation-id"] == accepted.headers["x-amzn-requestid"]
    assert service_saw(platform, Service.ORDERS, accepted.headers["x-amzn-requestid"])


def test_without_the_api_key_403(edge: Edge, admin: dict[str, str]) -> None:
    for key in (None, "not-the-key"):
        r = edge.call("GET", "/products", key=key)
        assert r.status_code == 403 and r.json()["error"] == "invalid_api_key", r.text
        r = edge.call("POST", "/products", admin, key=key, json=product_body("Mug", 100))
        assert r.status_code == 403, r.text


def test_an_id_token_on_a_scoped_method_401(platform: LocalPlatform, edge: Edge,
                                            new_user: Callable[[], UserSession]) -> None:
    user = new_user()
    email = f"idtoken-{uuid.uuid4().hex[:6]}@example.com"
    platform.user_token(email)
    tokens = platform.client("cognito-idp").initiate_auth(
        ClientId=platform.resources.client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": "Passw0rd-local"})["AuthenticationResult"]
    for path in ("/orders", "/users/me"):
        r = edge.call("GET", path, {"Authorization": f"Bearer {tokens['IdToken']}"})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", r.text
        passed = edge.call("GET", path, {"Authorization": f"Bearer {tokens['AccessToken']}"})
        assert "x-correlation-id" in passed.headers, passed.text  # the service answered (200, or 404: no profile)
    assert edge.call("GET", "/orders").status_code == 401
    assert edge.call("GET", "/orders", user.headers).status_code == 200


def test_unknown_routes_403(edge: Edge, admin: dict[str, str]) -> None:
    for method, path in (("GET", "/internal/products/p1"), ("GET", "/healthz"), ("PATCH", "/orders"),
                         ("GET", "/inventory")):
        r = edge.call(method, path, admin)
        assert r.status_code == 403 and r.json()["error"] == "route_not_found", (method, path, r.text)


def test_beyond_the_burst_429(platform: LocalPlatform) -> None:
    """CORS preflight of / (a MOCK: no service behind it, its own per-method bucket), so the rest of the session's
    traffic is not throttled by this test. Requests go out in concurrent waves until one is throttled; before the
    first 429 at least the burst got through (the bucket refills meanwhile, so possibly more)."""
    assert platform.assembly is not None
    prefix = environments.load(LOCAL_ENVIRONMENT).stack_prefix
    burst = EdgeDefinition.from_assembly(platform.assembly, prefix).stage_throttle
    assert burst is not None
    codes: list[int] = []
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64)) as client, \
            ThreadPoolExecutor(max_workers=32) as pool:
        while 429 not in codes and len(codes) < 5000:
            codes += pool.map(lambda _: client.options(platform.edge_url + "/").status_code, range(200))
    assert 429 in codes, f"{len(codes)} requests, none throttled"
    assert set(codes) == {204, 429}
    assert codes.count(204) >= burst.burst


def test_the_workflows_run_through_the_edge_with_the_api_key(platform: LocalPlatform) -> None:
    from tools.local.workflows import WORKFLOWS, Client

    client = Client(platform)
    assert client.http.base_url == httpx.URL(platform.edge_url + "/")
    assert client.http.headers["x-api-key"] == platform.api_key
    WORKFLOWS["user registration"](client)


# --- every field type, through the edge and at the service ---------------------------------------------------------

def valid_bodies(pid: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        ("POST", "/products"): product_body("Mug", 100),
        ("PUT", "/products/{productId}"): product_body("Mug", 100),
        ("POST", "/inventory/{productId}/adjust"): adjustment_body(1),
        ("POST", "/orders"): order_body({pid: 1}),
        ("PUT", "/orders/{orderId}"): order_change_body({pid: 1}, "1 Main St"),
        ("POST", "/payments/webhook"): payment_report({"order_id": str(uuid.uuid4()), "total_cents": 100,
                                                       "currency": "EUR"}),
        ("POST", "/users/register"): registration_body(f"f-{uuid.uuid4().hex[:6]}@example.com",
                                                       "Str0ng-pass-local!", "Ann"),
        ("POST", "/users/login"): {"email": "nobody@example.com", "password": "x"},
        ("POST", "/users/confirm"): {"email": "nobody@example.com", "code": "123456"},
        ("POST", "/users/token"): {"refresh_token": "x"},
        ("PUT", "/users/me"): profile_body("Ann", "1 Main St"),
        ("PUT", "/users/me/preferences"): preferences_body("es", "EUR"),
    }


BAD_BY_TYPE: dict[str, list[Any]] = {
    "string": [7, True, "A\u0000B", "A\u001bB", "A\u0085B"],
    "integer": [True, "1", 1.5],
    "array": [{"x": 1}, "x"],
    "email": [7, "a\u0000@example.com"],
    "boolean": [1, "true", None],
    "object": [[], "x", 1],
    # Fields that must never be sent (the webhook's cardholder data): any value at all is refused.
    "null": ["4111111111111111", 7, {"x": 1}],
}


def fields_by_type(schema: dict[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[
        tuple[tuple[str | int, ...], str]]:
    for name, sub in schema.get("properties", {}).items():
        kinds = sub["type"] if isinstance(sub["type"], list) else [sub["type"]]
        kind = "email" if sub.get("format") == "email" else kinds[0]
        yield (*path, name), kind
        if kind == "array" and sub["items"].get("type") == "object":
            yield from fields_by_type(sub["items"], (*path, name, 0))
        if kind == "object":
            yield from fields_by_type(sub, (*path, name))


def cases() -> Iterator[Any]:
    for route in routes_with_bodies():
        converted = edge_model(route)
        assert converted is not None
        for where, kind in fields_by_type(converted[1]):
            yield pytest.param(route, where, kind, id=f"{route.method} {route.path} {'.'.join(map(str, where))}")


def field_name(where: tuple[str | int, ...]) -> str:
    """As the services name fields: lines[0].quantity."""
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@pytest.mark.parametrize(("route", "where", "kind"), list(cases()))
def test_each_field_refuses_wrong_types_and_control_characters_at_the_edge_and_the_service(
        route: Route, where: tuple[str | int, ...], kind: str, platform: LocalPlatform, edge: Edge, api: Api,
        admin: dict[str, str], new_user: Callable[[], UserSession], make_product: Callable[..., str]) -> None:
    pid = make_product(stock=1) if route.service == Service.ORDERS else "p-1"
    headers = {**(admin if route.service in (Service.PRODUCTS, Service.INVENTORY) else new_user().headers),
               "Idempotency-Key": str(uuid.uuid4()), "Webhook-Signature": "v1=0", "Webhook-Timestamp": "1"}
    path = route.path.replace("{productId}", pid).replace("{orderId}", str(uuid.uuid4()))
    assert BAD_BY_TYPE[kind]
    for bad in BAD_BY_TYPE[kind]:
        body = copy.deepcopy(valid_bodies(pid)[(route.method, route.path)])
        node: Any = body
        for part in where[:-1]:
            node = node[part]
        node[where[-1]] = bad
        at_edge = edge.call(route.method, path, headers, json=body)
        assert at_edge.status_code == 400, (bad, at_edge.text)
        assert "/" + "/".join(map(str, where)) in at_edge.json()["details"], at_edge.text
        at_service = api.call(route.method, route.service, path, headers, json=body)
        assert at_service.status_code == 422, (bad, at_service.text)
        named = [f["field"] for f in at_service.json()["fields"]]
        assert any(n == field_name(where) or n.startswith(field_name(where)) for n in named), (bad, named)
