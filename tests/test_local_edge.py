"""The local edge on its own: the synthesized dev templates in front of a recording backend, a user pool of our own.

Each behaviour API Gateway documents is asserted here with its source (the list in tools/local/local_edge/__init__.py);
the same edge in front of the real services is exercised by services/common/tests/test_edge_platform.py.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from contract.limits import HEADER_BYTES, JSON_DEPTH, VALIDATION_ERRORS
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import Receive, Scope, Send

from config.environment import API_CLIENT_TAG, ApiClient
from config.topology import LISTENER_PORTS, ROUTES, Access, Service
from tests.synthesis import Synthesized
from tools.local.local_edge import CognitoPool, DefinitionError, EdgeDefinition, LocalEdge, serve
from tools.local.local_edge.definition import Throttle
from tools.local.local_edge.throttle import Buckets, TokenBucket
from tools.local.raw_http import RawResponse, exchange, request_bytes, split_url

API_KEY = "local-edge-test-key"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool"
USER_SCOPE = "aws.cognito.signin.user.admin"


@dataclass
class Backend:
    """Stands behind the NLB listeners: records every request, answers with what it saw; also serves the JWKS."""

    jwks: dict[str, Any]
    seen: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/.well-known/jwks.json":
            payload = self.jwks
        else:
            payload = {"method": scope["method"], "path": scope["path"],
                       "query": scope["query_string"].decode(), "body": body.decode(errors="replace"),
                       "headers": {k.decode(): v.decode() for k, v in scope["headers"]}}
            self.seen.append(payload)
            if self.delay:
                await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": 201 if scope["method"] == "POST" else 200,
                    "headers": [(b"content-type", b"application/json"), (b"x-backend", b"yes")]})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


@dataclass
class Pool:
    key: rsa.RSAPrivateKey
    kid: str = "test-key"

    def token(self, *, token_use: str = "access", scope: str | None = USER_SCOPE, issuer: str = ISSUER,
              expires_in: int = 3600, key: rsa.RSAPrivateKey | None = None, **extra: Any) -> str:
        claims: dict[str, Any] = {"sub": str(uuid.uuid4()), "iss": issuer, "token_use": token_use,
                                  "exp": int(time.time()) + expires_in, "iat": int(time.time()), **extra}
        if token_use == "access":
            claims["client_id"] = "web"
            if scope is not None:
                claims["scope"] = scope
        else:
            claims["aud"] = "web"
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def pool() -> Pool:
    return Pool(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def backend(pool: Pool) -> Iterator[tuple[Backend, str]]:
    numbers = pool.key.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode().rstrip("=")

    jwks = {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": pool.kid, "n": b64(numbers.n),
                      "e": b64(numbers.e)}]}
    app = Backend(jwks)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield app, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(5)


def edge_for(definition: EdgeDefinition, backend_url: str) -> LocalEdge:
    return LocalEdge(definition, upstreams=dict.fromkeys(Service, backend_url), api_key=API_KEY,
                     user_pool=CognitoPool(issuer=ISSUER, jwks_url=f"{backend_url}/.well-known/jwks.json"))


@pytest.fixture(scope="module")
def definition(dev: Synthesized) -> EdgeDefinition:
    return EdgeDefinition.from_assembly(dev.outdir, dev.config.stack_prefix)


@pytest.fixture
def edge(definition: EdgeDefinition, backend: tuple[Backend, str]) -> Iterator[tuple[str, Backend]]:
    app, url = backend
    app.seen.clear()
    app.delay = 0
    with serve(edge_for(definition, url)) as edge_url:
        yield edge_url, app


def call(url: str, method: str, path: str, *, key: str | None = API_KEY, token: str | None = None,
         **kw: Any) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if key is not None:
        headers["x-api-key"] = key
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, url + path, headers=headers, timeout=30, **kw)


def error_of(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) >= {"error", "message", "request_id"}, body
    assert body["request_id"] == r.headers["x-amzn-requestid"]
    return str(body["error"])


# --- reading the templates ----------------------------------------------------------------------------------------

def test_every_route_maps_to_its_service_by_following_listener_target_group_and_binding(
        definition: EdgeDefinition) -> None:
    for route in ROUTES:
        method = definition.methods[(route.path, route.method)]
        assert method.integration.service == route.service, route
        assert method.integration.path == route.path
        assert method.api_key_required == (route.access != Access.SIGNED)
        open_ = route.access in (Access.PUBLIC, Access.SIGNED)
        assert (method.authorization == "NONE") == open_
        assert method.scopes == (() if open_ else (USER_SCOPE,))
    assert definition.stage == "v1" and definition.services == frozenset(Service)


def with_strong_references(dev: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    """The templates as they read once cross-stack references are exports (Fn::ImportValue)."""
    edge, services = copy.deepcopy(dev.template_json("Edge")), copy.deepcopy(dev.template_json("Services"))
    for name, output in edge["Outputs"].items():
        output["Export"] = {"Name": f"Dev-Edge:{name}"}
    text = json.dumps(services)
    for name in edge["Outputs"]:
        text = text.replace(json.dumps({"Fn::GetStackOutput": {"StackName": "Dev-Edge", "Region": "eu-west-1",
                                                                 "OutputName": name}}),
                            json.dumps({"Fn::ImportValue": f"Dev-Edge:{name}"}))
    return edge, json.loads(text)


def test_strong_cross_stack_references_resolve_too(dev: Synthesized) -> None:
    edge, services = with_strong_references(dev)
    assert "Fn::ImportValue" in json.dumps(services)
    definition = EdgeDefinition.from_templates(edge, services, edge_stack_name="Dev-Edge")
    assert {m.integration.service for m in definition.methods.values() if m.integration.service} == set(Service)


def test_a_listener_without_a_bound_target_group_stops_the_edge(dev: Synthesized) -> None:
    services = copy.deepcopy(dev.template_json("Services"))
    for res in services["Resources"].values():
        if res["Type"] == "Custom::AWSCDK-EKS-KubernetesResource" and "TargetGroupBinding" in json.dumps(res) \
                and '"name\\":\\"orders\\"' in json.dumps(res):
            res["Properties"]["Manifest"] = json.dumps([])
    with pytest.raises(DefinitionError, match=f"no NLB listener on port {LISTENER_PORTS[Service.ORDERS]}"):
        EdgeDefinition.from_templates(dev.template_json("Edge"), services, edge_stack_name="Dev-Edge")


def test_an_integration_type_it_does_not_emulate_stops_the_edge(dev: Synthesized) -> None:
    edge = copy.deepcopy(dev.template_json("Edge"))
    method = next(r for r in edge["Resources"].values()
                  if r["Type"] == "AWS::ApiGateway::Method" and r["Properties"]["HttpMethod"] == "GET")
    method["Properties"]["Integration"]["Type"] = "AWS_PROXY"
    with pytest.raises(DefinitionError, match="integration type AWS_PROXY is not emulated"):
        EdgeDefinition.from_templates(edge, dev.template_json("Services"), edge_stack_name="Dev-Edge")


def test_every_service_needs_an_upstream(definition: EdgeDefinition) -> None:
    with pytest.raises(DefinitionError, match="no upstream URL for orders"):
        LocalEdge(definition, upstreams={s: "http://x" for s in Service if s != Service.ORDERS}, api_key="k",
                  user_pool=CognitoPool(ISSUER, "http://x"))


# --- routing, API key, authorizer ------------------------------------------------------------------------------

def test_unknown_routes_and_methods_answer_403_missing_authentication_token(edge: tuple[str, Backend]) -> None:
    url, backend = edge
    for method, path in (("GET", "/nope"), ("DELETE", "/orders"), ("PATCH", "/products/p1"), ("GET", "/users")):
        r = call(url, method, path)
        assert r.status_code == 403 and error_of(r) == "route_not_found", (method, path, r.text)
        assert r.json()["message"] == "Missing Authentication Token"
        assert r.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert call(url.rsplit("/", 1)[0], "GET", "/v2/products").status_code == 403
    assert backend.seen == []


def test_the_api_key_is_required_and_must_match(edge: tuple[str, Backend]) -> None:
    url, backend = edge
    for key in (None, "", "wrong-key"):
        r = call(url, "GET", "/products", key=key)
        assert r.status_code == 403 and error_of(r) == "invalid_api_key", r.text
        assert r.json()["message"] == "Forbidden"
    assert backend.seen == []
    assert call(url, "GET", "/products").status_code == 200 and len(backend.seen) == 1


def test_the_payment_webhook_needs_no_api_key(edge: tuple[str, Backend]) -> None:
    """Issue 22, finding 5: the provider's callback reaches the service without the storefront's key (its signature,
    checked by the service, authenticates it); a field the provider adds passes the edge's model."""
    url, backend = edge
    body = {"event_id": "evt-1", "type": "payment.succeeded", "occurred_at": 1_700_000_000, "order_id": "o-1",
            "payment_id": "p-1", "amount_cents": 1250, "currency": "EUR", "method_type": "card",
            "provider_added": {"risk": "low"}}
    r = call(url, "POST", "/payments/webhook", key=None, json=body,
             headers={"Webhook-Signature": "v1=abc", "Webhook-Timestamp": "1700000000"})
    assert r.is_success and len(backend.seen) == 1, r.text
    assert json.loads(backend.seen[0]["body"])["provider_added"] == {"risk": "low"}


def test_scoped_methods_take_access_tokens_only(edge: tuple[str, Backend], pool: Pool) -> None:
    url, backend = edge
    refused = {
        "no token": None,
        "ID token": pool.token(token_use="id"),
        "access token without the scope": pool.token(scope="products/read"),
        "access token without any scope": pool.token(scope=None),
        "expired": pool.token(expires_in=-5),
        "other issuer": pool.token(issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"),
        "signed by another key": pool.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "not a JWT": "not-a-jwt",
    }
    for what, token in refused.items():
        r = call(url, "GET", "/orders", token=token)
        assert r.status_code == 401 and error_of(r) == "unauthorized", (what, r.text)
    assert backend.seen == []
    good = pool.token()
    r = call(url, "GET", "/orders", token=good)
    assert r.status_code == 200, r.text
    assert backend.seen[-1]["headers"]["authorization"] == f"Bearer {good}"
    raw = call(url, "GET", "/orders", headers={"Authorization": good})  # without "Bearer "
    assert raw.status_code == 200


def test_public_methods_need_no_token_but_the_key(edge: tuple[str, Backend], pool: Pool) -> None:
    url, _ = edge
    assert call(url, "GET", "/products/p1").status_code == 200
    assert call(url, "POST", "/users/login", json={"email": "a@example.com", "password": "x"}).status_code == 201


def test_the_authorizer_answers_before_the_api_key_check(edge: tuple[str, Backend]) -> None:
    url, _ = edge
    assert call(url, "GET", "/orders", key=None).status_code == 401


# --- validation ---------------------------------------------------------------------------------------------------

def test_a_body_the_model_refuses_never_reaches_the_service(edge: tuple[str, Backend], pool: Pool) -> None:
    url, backend = edge
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    cases = {
        "lines/0/quantity": {"lines": [{"product_id": "p1", "quantity": True}]},
        "lines/0/product_id": {"lines": [{"product_id": "p\u0000", "quantity": 1}]},
        "items": {"items": [{"product_id": "p1", "quantity": 1}]},
    }
    for field_name, body in cases.items():
        r = call(url, "POST", "/orders", token=pool.token(), headers=headers, json=body)
        assert r.status_code == 400 and error_of(r) == "invalid_request_body", r.text
        assert r.json()["message"] == "Invalid request body"
        assert field_name.split("/")[-1] in r.json()["details"] or field_name in r.json()["details"], r.text
    quantity = call(url, "POST", "/orders", token=pool.token(), headers=headers,
                    json={"lines": [{"product_id": "p1", "quantity": "1"}]}).json()
    assert "/lines/0/quantity" in quantity["details"]
    for raw in (b"", b"{", b"null"):
        r = call(url, "POST", "/orders", token=pool.token(), headers=headers, content=raw)
        assert r.status_code == 400 and error_of(r) == "invalid_request_body", raw
    assert backend.seen == []
    ok = call(url, "POST", "/orders", token=pool.token(), headers=headers,
              json={"lines": [{"product_id": "p1", "quantity": 2}]})
    assert ok.status_code == 201 and len(backend.seen) == 1


def test_required_parameters_are_checked_when_the_validator_says_so(edge: tuple[str, Backend], pool: Pool) -> None:
    url, backend = edge
    body = {"lines": [{"product_id": "p1", "quantity": 1}]}
    for headers in ({}, {"Idempotency-Key": ""}):
        r = call(url, "POST", "/orders", token=pool.token(), headers=headers, json=body)
        assert r.status_code == 400 and error_of(r) == "missing_request_parameters", r.text
        assert r.json()["message"] == "Missing required request parameters: [Idempotency-Key]"
    assert backend.seen == []


def test_large_bodies_are_refused(edge: tuple[str, Backend], pool: Pool) -> None:
    url, backend = edge
    r = call(url, "POST", "/users/login", content=b" " * (10 * 1024 * 1024 + 1))
    assert r.status_code == 413 and error_of(r) == "request_too_large"
    assert backend.seen == []


# --- contract/limits.py at the edge -----------------------------------------------------------------------------

def raw(url: str, data: bytes, **kw: Any) -> RawResponse:
    base, _ = split_url(url)
    got = exchange(base, [data[:65_536], data[65_536:]] if len(data) > 65_536 else [data], early_response_wait=1,
                   **kw)
    assert got.responses, got.error
    return got.responses[0]


def test_what_the_protocol_refuses_is_a_gateway_response_naming_the_limit(edge: tuple[str, Backend]) -> None:
    """Header values over API Gateway's 10,240 bytes ("Quotas for configuring and running a REST API"), a URL over
    its 10,240 characters, a Content-Length over its 10 MB payload, header values that are not UTF-8: refused before
    the request is routed, as the template's gateway responses (DEFAULT_4XX with the limit's status, or
    REQUEST_TOO_LARGE)."""
    url, backend = edge
    _, stage = split_url(url)
    key = [("x-api-key", API_KEY)]
    cases = [
        (request_bytes("GET", f"{stage}/products", [*key, ("X-Big", "b" * HEADER_BYTES.value)]), 431, "bad_request",
         "header_bytes"),
        (request_bytes("GET", f"{stage}/products?next=" + "a" * 100_000, key), 414, "bad_request", "url_chars"),
        (request_bytes("POST", f"{stage}/users/login", key, b"{}").replace(b"Content-Length: 2",
                                                                          b"Content-Length: 10485761"),
         413, "request_too_large", "body_bytes"),
        (request_bytes("GET", f"{stage}/products", [*key, ("User-Agent", b"caf\xe9")]), 400, "bad_request",
         "User-Agent is not valid UTF-8"),
    ]
    for data, status, error, named in cases:
        r = raw(url, data)
        body = r.json()
        assert (r.status, body["error"]) == (status, error), r.body
        assert named in body["message"] and body["request_id"] == r.headers["x-amzn-requestid"], body
    assert backend.seen == []
    assert raw(url, request_bytes("GET", f"{stage}/products", [*key, ("X-Big", "b" * (HEADER_BYTES.value - 100))])
               ).status == 200


def test_header_values_are_utf8_and_reach_the_service_as_sent(edge: tuple[str, Backend], pool: Pool) -> None:
    url, backend = edge
    _, stage = split_url(url)
    r = raw(url, request_bytes("GET", f"{stage}/products", [("x-api-key", API_KEY), ("X-Name", "ключ café")]))
    assert r.status == 200
    assert backend.seen[-1]["headers"]["x-name"] == "ключ café"


def test_bodies_are_measured_before_parsing_and_refusals_quote_no_input(edge: tuple[str, Backend],
                                                                         pool: Pool) -> None:
    url, backend = edge
    headers = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    deep = call(url, "POST", "/orders", token=pool.token(), headers=headers, content=b"[" * 100_000)
    assert deep.status_code == 400 and error_of(deep) == "invalid_request_body"
    assert f"{JSON_DEPTH.value:,} levels (limit json_depth)" in deep.json()["details"], deep.text
    lines = call(url, "POST", "/orders", token=pool.token(), headers=headers,
                 content=b'{"lines":[' + b",".join([b"0"] * 600_000) + b"]}")
    assert lines.status_code == 400 and "limit json_values" in lines.json()["details"], lines.text
    # 1.5 MB of name and 30 unknown fields: at most VALIDATION_ERRORS failures, each quoting an excerpt.
    product = {"name": "n" * 1_500_000, "price_cents": 1, **{f"extra{i}" * 1_000: i for i in range(30)}}
    big = call(url, "POST", "/products", token=pool.token(), json=product)
    assert big.status_code == 400 and len(big.content) < 2_000, len(big.content)
    details = big.json()["details"]
    assert "/name: failed maxLength 200" in details and "and more" not in details  # one failure per keyword
    many = call(url, "POST", "/orders", token=pool.token(), headers=headers,
                json={"lines": [{"product_id": True, "quantity": "x"}] * 20})
    assert many.status_code == 400 and many.json()["details"].count("failed type") == VALIDATION_ERRORS.value
    assert f"at most {VALIDATION_ERRORS.value} errors" in many.json()["details"]
    assert backend.seen == []


def test_a_large_body_is_validated_off_the_event_loop(dev: Synthesized, definition: EdgeDefinition,
                                                      backend: tuple[Backend, str], pool: Pool) -> None:
    """A body above INLINE_VALIDATION_BYTES is validated in a worker thread: a read sent while it is being
    validated (made slow here) is answered before it."""
    _, backend_url = backend
    app = edge_for(definition, backend_url)
    validate = app._validate

    def slow(method: Any, request: Any, body: bytes) -> None:
        if body:  # the POST's; the GET has none
            time.sleep(3)
        validate(method, request, body)

    app._validate = slow  # type: ignore[method-assign]
    done: dict[str, float] = {}
    with serve(app) as url:
        def post() -> None:
            call(url, "POST", "/users/login", json={"email": "a@example.com", "password": "p" * 200_000})
            done["post"] = time.monotonic()

        poster = threading.Thread(target=post)
        poster.start()
        time.sleep(0.5)
        assert call(url, "GET", "/products").status_code == 200
        done["get"] = time.monotonic()
        poster.join(30)
    assert done["get"] < done["post"], done


# --- integration ------------------------------------------------------------------------------------------------

def test_the_integration_maps_path_query_body_and_headers(edge: tuple[str, Backend], pool: Pool) -> None:
    url, backend = edge
    r = call(url, "POST", "/inventory/p-42/adjust?dry=1&x=a%20b", token=pool.token(),
             headers={"X-Correlation-Id": "client-chosen", "X-Custom": "kept"}, json={"delta": 3})
    assert r.status_code == 201 and r.headers["x-backend"] == "yes"
    seen = backend.seen[-1]
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/inventory/p-42/adjust", "dry=1&x=a%20b")
    assert json.loads(seen["body"]) == {"delta": 3}
    assert seen["headers"]["x-correlation-id"] == r.headers["x-amzn-requestid"]  # $context.requestId
    assert seen["headers"]["x-custom"] == "kept"
    assert seen["headers"]["host"] != url.split("//")[1].split("/")[0]  # Host is not forwarded
    assert seen["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert r.json() == seen


def test_cors_preflight_is_the_templates_mock(edge: tuple[str, Backend], dev: Synthesized) -> None:
    url, backend = edge
    r = call(url, "OPTIONS", "/orders", key=None)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == dev.config.web.origin
    assert "Idempotency-Key" in r.headers["access-control-allow-headers"]
    assert backend.seen == []


def test_the_integration_timeout_answers_504(dev: Synthesized, backend: tuple[Backend, str], pool: Pool) -> None:
    app, backend_url = backend
    edge = copy.deepcopy(dev.template_json("Edge"))
    for res in edge["Resources"].values():
        if res["Type"] == "AWS::ApiGateway::Method" and "Integration" in res["Properties"] \
                and res["Properties"]["Integration"]["Type"] == "HTTP_PROXY":
            res["Properties"]["Integration"]["TimeoutInMillis"] = 300
    definition = EdgeDefinition.from_templates(edge, dev.template_json("Services"), edge_stack_name="Dev-Edge")
    app.delay = 5  # the backend answers 200 after 5 s; the integration gives up after 0.3 s
    try:
        with serve(edge_for(definition, backend_url)) as url:
            r = call(url, "GET", "/products")
            assert r.status_code == 504 and error_of(r) == "integration_timeout", r.text
    finally:
        app.delay = 0


def test_an_unreachable_backend_answers_504(definition: EdgeDefinition) -> None:
    with serve(edge_for(definition, "http://127.0.0.1:9")) as url:  # discard port: nothing listens
        r = call(url, "GET", "/products")
        assert r.status_code == 504 and error_of(r) == "integration_failure"


# --- throttling and quota ---------------------------------------------------------------------------------------

def test_token_bucket_burst_then_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(Throttle(rate=10, burst=5), clock=lambda: now[0])
    gate = Buckets()
    assert [gate.admit([bucket]) for _ in range(6)] == [True] * 5 + [False]
    now[0] += 0.25  # 2.5 tokens
    assert [gate.admit([bucket]) for _ in range(3)] == [True, True, False]
    now[0] += 100
    assert sum(gate.admit([bucket]) for _ in range(10)) == 5  # never more than the burst


def test_a_refusal_takes_no_token_from_the_other_buckets() -> None:
    now = [0.0]
    roomy = TokenBucket(Throttle(rate=1, burst=3), clock=lambda: now[0])
    empty = TokenBucket(Throttle(rate=1, burst=1), clock=lambda: now[0])
    gate = Buckets()
    assert gate.admit([roomy, empty]) and not gate.admit([roomy, empty])
    assert gate.admit([roomy]) and gate.admit([roomy]) and not gate.admit([roomy])


def test_requests_beyond_the_burst_are_throttled(definition: EdgeDefinition, backend: tuple[Backend, str]) -> None:
    """The synthesized throttles, through HTTP, with time standing still: exactly the burst gets through."""
    app, backend_url = backend
    app.seen.clear()
    assert definition.stage_throttle is not None and definition.usage_plan_throttle is not None
    burst = min(definition.stage_throttle.burst, definition.usage_plan_throttle.burst)
    frozen = LocalEdge(definition, upstreams=dict.fromkeys(Service, backend_url), api_key=API_KEY, clock=lambda: 0.0,
                       user_pool=CognitoPool(issuer=ISSUER, jwks_url=f"{backend_url}/.well-known/jwks.json"))
    with serve(frozen) as url, httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64)) as client, \
            ThreadPoolExecutor(max_workers=32) as pool:
        codes = list(pool.map(lambda _: client.get(url + "/products", headers={"x-api-key": API_KEY}),
                              range(burst + 60)))
    throttled = [r for r in codes if r.status_code == 429]
    assert len(codes) - len(throttled) == burst and len(throttled) == 60
    assert error_of(throttled[0]) == "throttled" and throttled[0].json()["message"] == "Too Many Requests"
    assert throttled[0].headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert len(app.seen) == burst


def test_the_quota_counts_per_key(dev: Synthesized, backend: tuple[Backend, str]) -> None:
    edge = copy.deepcopy(dev.template_json("Edge"))
    (plan,) = [r for r in edge["Resources"].values() if r["Type"] == "AWS::ApiGateway::UsagePlan"
               and {"Key": API_CLIENT_TAG, "Value": ApiClient.STOREFRONT.value} in r["Properties"]["Tags"]]
    plan["Properties"]["Quota"]["Limit"] = 2
    definition = EdgeDefinition.from_templates(edge, dev.template_json("Services"), edge_stack_name="Dev-Edge")
    with serve(edge_for(definition, backend[1])) as url:
        codes = [call(url, "GET", "/products").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert error_of(call(url, "GET", "/products")) == "quota_exceeded"


def test_without_custom_gateway_responses_the_defaults_apply(dev: Synthesized, backend: tuple[Backend, str]) -> None:
    edge = copy.deepcopy(dev.template_json("Edge"))
    edge["Resources"] = {k: v for k, v in edge["Resources"].items() if v["Type"] != "AWS::ApiGateway::GatewayResponse"}
    definition = EdgeDefinition.from_templates(edge, dev.template_json("Services"), edge_stack_name="Dev-Edge")
    with serve(edge_for(definition, backend[1])) as url:
        r = call(url, "GET", "/nope")
        assert (r.status_code, r.json()) == (403, {"message": "Missing Authentication Token"})
        assert call(url, "GET", "/products", key=None).json() == {"message": "Forbidden"}


def test_the_local_storefront_stands_for_the_shops_origin_in_cors(dev: Synthesized) -> None:
    """`make local` serves the storefront elsewhere than the shop's origin: the preflights and gateway responses
    name the local one where the template names the shop's, and nothing else changes."""
    synthesized = EdgeDefinition.from_templates(dev.template_json("Edge"), dev.template_json("Services"),
                                                edge_stack_name="Dev-Edge")
    local = synthesized.with_origin(dev.config.web.origin, "http://127.0.0.1:1234")
    preflights = [m.integration.mock_headers for m in local.methods.values() if m.integration.type == "MOCK"]
    assert preflights and {h["Access-Control-Allow-Origin"] for h in preflights} == {"http://127.0.0.1:1234"}
    assert {r.headers["Access-Control-Allow-Origin"] for r in local.gateway_responses.values()} == {
        "http://127.0.0.1:1234"}
    assert {r.headers["Access-Control-Allow-Origin"] for r in synthesized.gateway_responses.values()} == {
        dev.config.web.origin}
    assert {k: m.integration.type for k, m in local.methods.items()} == {
        k: m.integration.type for k, m in synthesized.methods.items()}
