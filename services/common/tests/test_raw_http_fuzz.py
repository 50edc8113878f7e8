"""Raw-HTTP fuzzing: bytes on the socket, through the local edge and to each service directly (issue 24).

schemathesis (test_fuzz_openapi.py) sends well-formed HTTP; this module writes what a hostile client would
(tools/local/raw_http.py): header values in Latin-1, broken UTF-8 or with control characters, oversized and repeated
headers, huge and deeply nested JSON bodies, 100 KB query strings, a Content-Length that lies, Transfer-Encoding
tricks, requests sent a few bytes at a time, connections that stall mid-request. The cases are a fixed list built
from every route with a body (each case of issue 24 among them), the same for the edge (stage prefix, API key,
valid credentials, so that a request reaches the check under test) and for each service's own port.

Asserted, for every case and target:
- no 5xx; every 4xx is a JSON object naming its error (``error``), at most REFUSAL_BYTES long (an error quotes at
  most an excerpt of the input); where a case has a definite answer (413, 414, 431, invalid_header, a JSON limit),
  that answer;
- no concurrent well-formed request is slower than CONCURRENT_READ_BOUND_S: a reader fetches a product through the
  edge and from the products service, one after the other, for the whole run; its slowest read is asserted (a
  behaviour bound, generous for a loaded 2-core machine: a stalled event loop took 25 to 68 s before issue 24);
- no state change: the orders, payments and idempotency keys in PostgreSQL, the products and profiles in DynamoDB
  and the users in Cognito are counted before and after (refused webhooks are recorded in
  payment_webhook_rejections by design, which is therefore not counted).

The case count and the run time are printed (``pytest -s``); the run is bounded: ~300 cases, each with a socket
timeout of CASE_TIMEOUT_S, slow senders capped at a few seconds each and run side by side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from contract.limits import BODY_BYTES, HEADER_BYTES, URL_CHARS, service_header_bytes

from cdk_constructs.api_models import routes_with_bodies
from config.topology import Route, Service
from tools.local.local_platform import LocalPlatform
from tools.local.raw_http import Exchange, exchange, request_bytes, split_url
from tools.local.testkit import UserSession
from tools.local.workflows import payment_report, signed

CONCURRENT_READ_BOUND_S = 3.0
CASE_TIMEOUT_S = 30.0
REFUSAL_BYTES = 8_192
EDGE = "edge"
ARABIC_INDIC_TIME = "\u0661\u0667" + "\u0660" * 8  # 1700000000 in Arabic-Indic digits: str.isdigit() says yes


@dataclass(frozen=True)
class Target:
    name: str  # "edge" or a service
    base: str  # scheme://host:port
    prefix: str  # the stage ("/v1") at the edge
    headers: tuple[tuple[str, str], ...]  # the API key at the edge

    @property
    def is_edge(self) -> bool:
        return self.name == EDGE

    def serves(self, route: Route) -> bool:
        return self.is_edge or route.service.value == self.name


@dataclass
class Case:
    name: str
    target: Target
    chunks: list[bytes]
    method: str = "GET"
    expect: frozenset[int] | None = None  # the statuses a conforming answer may have; None: any below 500
    error: str | None = None  # the `error` code expected (at a service; the edge names its gateway response)
    may_close: bool = False  # an incomplete request: the server may close without answering
    pause: float = 0.0
    half_close: bool = False
    responses: int = 1
    result: Exchange = field(default_factory=Exchange)

    @property
    def label(self) -> str:
        return f"{self.target.name}: {self.name}"


@dataclass(frozen=True)
class Context:
    product: str
    order: str
    user: UserSession
    admin: dict[str, str]
    secret: str
    user_token: str


# --- what the platform holds: must not change -------------------------------------------------------------------
def state(platform: LocalPlatform) -> dict[str, int]:
    out: dict[str, int] = {}
    with psycopg.connect(platform.orders_dsn()) as conn:
        for table in ("orders", "order_lines", "idempotency_keys", "payments", "payment_webhook_events"):
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None
            out[table] = int(row[0])
    ddb = platform.client("dynamodb")
    for service, prefix in ((Service.PRODUCTS, "PRODUCT#"), (Service.USERS, "USER#")):
        count, start = 0, None
        while True:
            page = ddb.scan(TableName=platform.resources.tables[service], Select="COUNT",
                            FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": {"S": prefix}},
                            **({"ExclusiveStartKey": start} if start else {}))
            count += int(page["Count"])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        out[f"{service.value} items"] = count
    idp = platform.client("cognito-idp")
    out["cognito users"] = sum(len(p["Users"]) for p in idp.get_paginator("list_users").paginate(
        UserPoolId=platform.resources.user_pool_id))
    return out


# --- a well-formed client, reading all along --------------------------------------------------------------------
class Reader(threading.Thread):
    """GET /products/{id} through the edge and from the products service in turn until stopped; keeps the slowest."""

    def __init__(self, platform: LocalPlatform, product: str) -> None:
        super().__init__(daemon=True, name="well-formed-reader")
        self.urls = [(f"{platform.edge_url}/products/{product}", {"x-api-key": platform.api_key}),
                     (f"{platform.url(Service.PRODUCTS)}/products/{product}", {})]
        self.stopped = threading.Event()
        self.slowest = (0.0, "")
        self.reads = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stopped.is_set():
                for url, headers in self.urls:
                    started = time.perf_counter()
                    try:
                        status = client.get(url, headers=headers).status_code
                    except httpx.HTTPError as exc:
                        status = 0
                        self.failures.append(f"{url}: {exc!r}")
                    took = time.perf_counter() - started
                    self.reads += 1
                    if status not in (200, 429):  # 429: the stage's throttle, answered at once
                        self.failures.append(f"{url}: {status}")
                    if took > self.slowest[0]:
                        self.slowest = (took, url)
                self.stopped.wait(0.05)


# --- the cases ----------------------------------------------------------------------------------------------------
def read_request(target: Target, ctx: Context) -> tuple[str, list[tuple[str, str | bytes]]]:
    """A well-formed read of the target (path and headers), on which the header cases vary one header."""
    bearer = ("Authorization", f"Bearer {ctx.user_token}")
    if target.name == Service.ORDERS.value:
        return f"/orders/{ctx.order}", [bearer]
    if target.name == Service.USERS.value:
        return "/users/me", [bearer]
    if target.name == Service.INVENTORY.value:
        return f"/inventory/{ctx.product}", [bearer]
    return f"/products/{ctx.product}", []


def sample_path(route: Route, ctx: Context) -> str:
    return route.path.replace("{productId}", ctx.product).replace("{orderId}", ctx.order)


def auth_for(route: Route, ctx: Context, body: bytes) -> list[tuple[str, str | bytes]]:
    """Credentials that get a request past the edge's authorizer and key check, so the check under test is reached."""
    headers: list[tuple[str, str | bytes]] = [("Content-Type", "application/json")]
    if route.path == "/payments/webhook":
        return [(k, v) for k, v in signed(ctx.secret, body).items()]
    if route.service in (Service.PRODUCTS, Service.INVENTORY) and route.method != "GET":
        headers.append(("Authorization", ctx.admin["Authorization"]))
    elif route.path.startswith(("/orders", "/users/me")):
        headers.append(("Authorization", f"Bearer {ctx.user_token}"))
    if route.path.startswith("/orders") and route.method in ("POST", "PUT"):
        headers.append(("Idempotency-Key", str(uuid.uuid4())))
    return headers


def send(target: Target, method: str, path: str, headers: list[tuple[str, str | bytes]], body: bytes = b"",
         **kw: Any) -> list[bytes]:
    return [request_bytes(method, target.prefix + path, [*target.headers, *headers], body, **kw)]


def split(data: bytes, at: int = 65_536) -> list[bytes]:
    """The head and the rest of a request, so that an early refusal (413 on Content-Length) is read, not reset."""
    return [data[:at], data[at:]] if len(data) > at else [data]


def body_cases(target: Target, ctx: Context) -> Iterator[Case]:
    """Every route with a JSON body: the bodies of issue 24 and their relatives."""
    json_limit = frozenset({400}) if target.is_edge else frozenset({422})
    huge_array = ("{\"lines\":[" + ",".join(["0"] * 600_000) + "]}").encode()
    invalid_lines = json.dumps({"lines": [{"product_id": 1, "quantity": "x"}] * 100_000}).encode()
    bodies: list[tuple[str, bytes, frozenset[int] | None, str | None]] = [
        ("600,000-item array (1.2 MB)", huge_array, json_limit, "validation_failed"),
        ("100,000 invalid line objects", invalid_lines, json_limit, "validation_failed"),
        ("[ x 100,000", b"[" * 100_000, json_limit, "validation_failed"),
        ('{"a": x 50,000', b'{"a":' * 50_000, json_limit, "validation_failed"),
        ("33 levels, 2 values each", b"[" * 33 + b"]" * 33, json_limit, "validation_failed"),
        ("UTF-16 JSON", '{"name": "x"}'.encode("utf-16"), json_limit, "validation_failed"),
        ("Latin-1 string", b'{"name": "caf\xe9"}', json_limit, "validation_failed"),
        ("NaN", b'{"price_cents": NaN}', json_limit, "validation_failed"),
        ("1.5 MB string", json.dumps({"name": "n" * 1_500_000, "email": "e" * 1_500_000}).encode(), json_limit,
         "validation_failed"),
        ("100 KB field name", json.dumps({"k" * 100_000: 1}).encode(), json_limit, "validation_failed"),
        ("10,000-digit number", b'{"amount_cents": ' + b"9" * 10_000 + b"}", json_limit, "validation_failed"),
    ]
    for route in routes_with_bodies():
        if not target.serves(route):
            continue
        path = sample_path(route, ctx)
        for name, body, expect, error in bodies:
            yield Case(f"{route.method} {route.path}: {name}", target,
                       split(b"".join(send(target, route.method, path, auth_for(route, ctx, body), body))),
                       route.method, expect, error)
    # One route per target for what is costly to send.
    route = next(r for r in routes_with_bodies() if target.serves(r))
    path = sample_path(route, ctx)
    over = b"{\"x\":\"" + b"x" * BODY_BYTES.value + b"\"}"
    yield Case(f"{route.method} {route.path}: body over 10 MB (Content-Length)", target,
               split(b"".join(send(target, route.method, path, auth_for(route, ctx, over), over))), route.method,
               frozenset({413}), "request_too_large")
    chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
    head = send(target, route.method, path, [*auth_for(route, ctx, b""), ("Transfer-Encoding", "chunked")],
                content_length=False)[0]
    yield Case(f"{route.method} {route.path}: 11 MB chunked body", target,
               [head, *[chunk] * 11, b"0\r\n\r\n"], route.method, frozenset({413}), "request_too_large")


def header_cases(target: Target, ctx: Context) -> Iterator[Case]:
    """Header values as bytes on a read of each target, the headers of issue 24 on the routes that read them."""
    read, auth = read_request(target, ctx)
    values: list[tuple[str, bytes, frozenset[int] | None]] = [
        ("Latin-1 caf\\xe9", b"caf\xe9", frozenset({400})),
        ("UTF-8 café", "café".encode(), frozenset({200})),
        ("UTF-8 ключ", "ключ".encode(), frozenset({200})),
        ("truncated UTF-8 \\xc3", b"caf\xc3", frozenset({400})),
        ("UTF-8 surrogate \\xed\\xa0\\x80", b"\xed\xa0\x80", frozenset({400})),
        ("beyond U+10FFFF", b"\xf4\x90\x80\x80", frozenset({400})),
        ("\\xff\\xfe", b"\xff\xfe", frozenset({400})),
        ("control \\x01", b"a\x01b", frozenset({400})),
        ("DEL \\x7f", b"a\x7fb", frozenset({400})),
    ]
    for header in ("X-Anything", "User-Agent", "Accept-Language", "X-Correlation-Id"):
        for name, value, expect in values:
            yield Case(f"GET {read}: {header}: {name}", target, send(target, "GET", read, [*auth, (header, value)]),
                       expect=expect, error="invalid_header" if expect == {400} else None)
    if target.name in (EDGE, Service.ORDERS.value):
        order = json.dumps({"lines": [{"product_id": ctx.product, "quantity": 0}]}).encode()  # refused: no order
        for name, value, expect in values:
            headers: list[tuple[str, str | bytes]] = [
                ("Content-Type", "application/json"), ("Authorization", f"Bearer {ctx.user_token}"),
                ("Idempotency-Key", value)]
            # A valid key reaches the body's validation (quantity 0: 422 at the service, 400 at the edge's model).
            ok = frozenset({400}) if target.is_edge else frozenset({422})
            yield Case(f"POST /orders: Idempotency-Key: {name}", target,
                       send(target, "POST", "/orders", headers, order), "POST", ok if expect == {200} else expect)
        report = json.dumps(payment_report({"order_id": str(uuid.uuid4()), "total_cents": 1, "currency": "EUR"}))
        body = report.encode()
        good = signed(ctx.secret, body)
        ts = good["Webhook-Timestamp"]

        def sig(timestamp: bytes) -> str:
            return "v1=" + hmac.new(ctx.secret.encode(), timestamp + b"." + body, hashlib.sha256).hexdigest()

        webhook: list[tuple[str, list[tuple[str, str | bytes]], frozenset[int]]] = [
            ("signature + \\xe9", [("Webhook-Timestamp", ts), ("Webhook-Signature", good["Webhook-Signature"].encode()
                                                                + b"\xe9")], frozenset({400})),
            # "²" passed str.isdigit() and int() raised: a 500 once the signature over it verified.
            ("timestamp \\xb2 signed over UTF-8 '²'", [("Webhook-Timestamp", b"\xb2"),
                                                       ("Webhook-Signature", sig("²".encode()))], frozenset({400})),
            ("timestamp UTF-8 '²', signed", [("Webhook-Timestamp", "²".encode()),
                                             ("Webhook-Signature", sig("²".encode()))], frozenset({401})),
            ("timestamp Arabic-Indic digits, signed", [("Webhook-Timestamp", ARABIC_INDIC_TIME.encode()),
                                                       ("Webhook-Signature", sig(ARABIC_INDIC_TIME.encode()))],
             frozenset({401})),
            ("timestamp +digits, signed", [("Webhook-Timestamp", "+" + ts), ("Webhook-Signature",
                                                                              sig(("+" + ts).encode()))],
             frozenset({401})),
            ("timestamp of 13 digits, signed", [("Webhook-Timestamp", "1" + ts), ("Webhook-Signature",
                                                                                  sig(("1" + ts).encode()))],
             frozenset({401})),
            ("two timestamps", [("Webhook-Timestamp", ts), ("Webhook-Timestamp", ts),
                                ("Webhook-Signature", good["Webhook-Signature"])], frozenset({400})),
        ]
        for name, headers, expect in webhook:
            yield Case(f"POST /payments/webhook: {name}", target,
                       send(target, "POST", "/payments/webhook", [("Content-Type", "application/json"), *headers],
                            body), "POST", expect)


def head_cases(target: Target, ctx: Context) -> Iterator[Case]:
    """Oversized, repeated and malformed heads; long and raw query strings."""
    read, auth = read_request(target, ctx)
    catalog = target.name in (EDGE, Service.PRODUCTS.value)  # GET /products and its `next` (at most 1,024)
    header_limit = HEADER_BYTES.value if target.is_edge else service_header_bytes()
    cases: list[tuple[str, list[bytes], frozenset[int] | None, str | None]] = [
        ("70 KB header", send(target, "GET", read, [("X-Big", "b" * 70_000)]), frozenset({431}),
         "request_header_fields_too_large"),
        ("header values just over the limit", send(target, "GET", read, [("X-Big", "b" * (header_limit + 1))]),
         frozenset({431}), "request_header_fields_too_large"),
        ("2,000 repeated headers", send(target, "GET", read, [*auth, *[("X-Repeated", "1")] * 2_000]),
         frozenset({200}), None),
        ("10,000 repeated headers", send(target, "GET", read, [("X-Repeated", "r")] * 10_000),
         frozenset({431}), "request_header_fields_too_large"),
        ("two Authorization headers", send(target, "GET", "/orders", [
            ("Authorization", f"Bearer {ctx.user_token}"), ("Authorization", "Bearer forged")]),
         frozenset({400}), "invalid_header"),
        ("two Content-Type headers", send(target, "GET", read, [("Content-Type", "a/b"), ("Content-Type", "c/d")]),
         frozenset({400}), "invalid_header"),
        ("100 KB query string", send(target, "GET", "/products?next=" + "a" * 100_000, []), frozenset({414}),
         "uri_too_long"),
        ("URL one character over the limit", send(target, "GET", "/products?next=" + "a" * URL_CHARS.value, []),
         frozenset({414}), "uri_too_long"),
        ("query of 9,000 characters", send(target, "GET", "/products?next=" + "a" * 9_000, []),
         frozenset({422}) if catalog else frozenset({404}), None),
        ("raw \\xe9 in the query", [request_bytes("GET", (target.prefix + "/products?next=caf").encode() + b"\xe9",
                                                 target.headers)], frozenset({400}), "malformed_request"),
        ("%FF%FE in the query", send(target, "GET", "/products?next=%FF%FE", []), None, None),
        ("%00 in the path", send(target, "GET", "/products/%00", []), None, None),
        ("TLS hello on a plain port", [b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n"], frozenset({400}),
         "malformed_request"),
        ("HTTP/0.9", [b"GET /\r\n\r\n"], frozenset({400}), "malformed_request"),
        ("no Host", [b"GET " + (target.prefix + read).encode() + b" HTTP/1.1\r\n\r\n"], frozenset({400}),
         "malformed_request"),
        ("header without a colon", [b"GET " + (target.prefix + read).encode()
                                    + b" HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"],
         frozenset({400}), "malformed_request"),
        # h11 unfolds an obsolete line folding (RFC 9112, 5.2 allows it): any answer but a 5xx.
        ("obsolete line folding", [b"GET " + (target.prefix + read).encode()
                                   + b" HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n"], None, None),
    ]
    for name, chunks, expect, error in cases:
        yield Case(name, target, split(b"".join(chunks)) if name.endswith("headers") else chunks, "GET", expect,
                   error)


def length_cases(target: Target, ctx: Context) -> Iterator[Case]:
    """Content-Length and Transfer-Encoding that do not match the body."""
    route = next(r for r in routes_with_bodies() if target.serves(r))
    path = target.prefix + sample_path(route, ctx)
    body = b'{"name": "x"}'
    auth = [(k, v) for k, v in auth_for(route, ctx, body) if k.lower() != "content-type"]
    head = request_bytes(route.method, path, [*target.headers, *auth, ("Content-Type", "application/json")],
                         content_length=False).removesuffix(b"\r\n")
    for name, extra, rest, expect, may_close, half, responses in [
        ("Content-Length above the body, then half-close", b"Content-Length: 100\r\n", body, None, True, True, 1),
        ("Content-Length below the body (the rest is a second request)", b"Content-Length: 5\r\n", body, None, True,
         False, 2),
        ("Content-Length: abc", b"Content-Length: abc\r\n", body, frozenset({400}), False, False, 1),
        ("Content-Length: -1", b"Content-Length: -1\r\n", body, frozenset({400}), False, False, 1),
        ("Content-Length: +13", b"Content-Length: +13\r\n", body, frozenset({400}), False, False, 1),
        ("Content-Length in Arabic-Indic digits", "Content-Length: \u0661\u0663\r\n".encode(), body,
         frozenset({400}), False, False, 1),
        ("two different Content-Lengths", b"Content-Length: 13\r\nContent-Length: 14\r\n", body, frozenset({400}),
         False, False, 1),
        # h11 refuses a Content-Length of more than 20 digits as malformed; a shorter one over 10 MB is 413.
        ("Content-Length 10**30", b"Content-Length: 1" + b"0" * 30 + b"\r\n", body, frozenset({400}), False, False,
         1),
        ("Content-Length 10**12", b"Content-Length: 1" + b"0" * 12 + b"\r\n", body, frozenset({413}), False, False,
         1),
        ("Transfer-Encoding: gzip", b"Transfer-Encoding: gzip\r\n", body, frozenset({400}), False, False, 1),
        ("chunked and Content-Length", b"Transfer-Encoding: chunked\r\nContent-Length: 13\r\n",
         b"d\r\n" + body + b"\r\n0\r\n\r\n", None, True, False, 1),
        ("bad chunk size", b"Transfer-Encoding: chunked\r\n", b"zz\r\n" + body + b"\r\n0\r\n\r\n", None, True, False,
         1),
    ]:
        yield Case(name, target, [head + extra + b"\r\n" + rest], route.method, expect, may_close=may_close,
                   half_close=half, responses=responses)


def slow_cases(target: Target, ctx: Context) -> Iterator[Case]:
    """Slow senders: a request trickled over about 3 s, and one that stops half-way (the server waits, others go on)."""
    read, auth = read_request(target, ctx)
    data = send(target, "GET", read, [*auth, ("X-Slow", "s" * 100)])[0]
    yield Case(f"GET {read}, 30 bytes every 0.1 s", target, [data[i:i + 30] for i in range(0, len(data), 30)],
               pause=0.1, expect=None if target.name == Service.USERS.value else frozenset({200}))
    route = next(r for r in routes_with_bodies() if target.serves(r))
    body = json.dumps({"name": "n" * 5_000}).encode()
    full = b"".join(send(target, route.method, sample_path(route, ctx), auth_for(route, ctx, body), body))
    yield Case(f"{route.method} {route.path}: body trickled over 3 s", target,
               [full[i:i + len(full) // 30 + 1] for i in range(0, len(full), len(full) // 30 + 1)], route.method,
               pause=0.1, expect=frozenset({400, 422}))
    yield Case("head never finished (stalls 3 s, then half-close)", target, [data[:40], b""], pause=3.0,
               half_close=True, may_close=True)


# --- running them -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def context(platform: LocalPlatform, admin: dict[str, str], make_product: Callable[..., str]) -> Context:
    email, password = f"raw-fuzz-{uuid.uuid4().hex[:8]}@example.com", "Passw0rd-local"
    user = UserSession(platform.user_token(email, password))
    # Signing in through the users service creates the profile (users/app.py), so GET /users/me reads one.
    r = httpx.post(f"{platform.url(Service.USERS)}/users/login", json={"email": email, "password": password},
                   timeout=30)
    assert r.status_code == 200, r.text
    product = make_product(stock=5, name="Raw fuzz")
    r = httpx.post(f"{platform.url(Service.ORDERS)}/orders", headers=user.order_headers(),
                   json={"lines": [{"product_id": product, "quantity": 1}]}, timeout=30)
    assert r.status_code == 201, r.text
    return Context(product=product, order=str(r.json()["order_id"]), user=user, admin=admin,
                   secret=platform.resources.payment_webhook_secret,
                   user_token=user.headers["Authorization"].removeprefix("Bearer "))


def targets(platform: LocalPlatform) -> list[Target]:
    base, stage = split_url(platform.edge_url)
    out = [Target(EDGE, base, stage, (("x-api-key", platform.api_key),))]
    out += [Target(s.value, platform.url(s), "", ()) for s in Service]
    return out


def all_cases(platform: LocalPlatform, ctx: Context) -> tuple[list[Case], list[Case]]:
    quick: list[Case] = []
    slow: list[Case] = []
    for target in targets(platform):
        for make in (body_cases, header_cases, head_cases, length_cases):
            quick += make(target, ctx)
        slow += slow_cases(target, ctx)
    return quick, slow


def run(case: Case) -> Case:
    case.result = exchange(case.target.base, case.chunks, pause=case.pause, timeout=CASE_TIMEOUT_S,
                           responses=case.responses, half_close=case.half_close, early_response_wait=0.2,
                           method=case.method)
    return case


def problems(case: Case) -> list[str]:
    out: list[str] = []
    got = case.result
    if not got.responses:
        if not case.may_close:
            out.append(f"no response ({got.error})")
        return out
    for i, response in enumerate(got.responses):
        what = f"response {i + 1}: {response.status} {response.body[:200]!r}"
        if response.status >= 500:
            out.append(f"{what}: a 5xx")
        if i == 0 and case.expect is not None and response.status not in case.expect:
            out.append(f"{what}: expected {sorted(case.expect)}")
        if response.status < 400:
            continue
        try:
            body = response.json()
        except ValueError:
            out.append(f"{what}: not JSON ({response.content_type})")
            continue
        if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]):
            out.append(f"{what}: no error code")
        elif i == 0 and case.error and not case.target.is_edge and body["error"] != case.error:
            out.append(f"{what}: expected error {case.error}")
        if len(response.body) > REFUSAL_BYTES:
            out.append(f"{what}: a refusal of {len(response.body)} bytes")
    return out


def test_raw_bytes_never_get_a_5xx_stall_other_clients_or_change_state(platform: LocalPlatform,
                                                                        context: Context) -> None:
    quick, slow = all_cases(platform, context)
    before = state(platform)
    reader = Reader(platform, context.product)
    started = time.perf_counter()
    reader.start()
    try:
        with ThreadPoolExecutor(max_workers=len(slow)) as trickle:
            futures = [trickle.submit(run, c) for c in slow]  # slow senders side by side with everything else
            for case in quick:
                run(case)
            slow_done = [f.result(timeout=120) for f in futures]
    finally:
        reader.stopped.set()
        reader.join(timeout=60)
    elapsed = time.perf_counter() - started
    cases = quick + slow_done
    print(f"\nraw-HTTP fuzz: {len(cases)} cases over {len(targets(platform))} targets in {elapsed:.1f} s; "
          f"{reader.reads} concurrent reads, slowest {reader.slowest[0]:.2f} s ({reader.slowest[1]})")
    failed = [f"{c.label}: {p}" for c in cases for p in problems(c)]
    assert not failed, "\n".join(failed[:40]) + (f"\n... and {len(failed) - 40} more" if len(failed) > 40 else "")
    assert not reader.failures, reader.failures[:10]
    assert reader.slowest[0] <= CONCURRENT_READ_BOUND_S, (
        f"a well-formed read took {reader.slowest[0]:.2f} s ({reader.slowest[1]}) while the fuzz ran")
    time.sleep(1)  # what a worker might still do with a request that got through (none should have)
    assert state(platform) == before


AUTHORIZATION_FORMS = [("Bearer {t}", True), ("bearer {t}", True), ("BEARER {t}", True), ("{t}", True),
                       ("  Bearer   {t}  ", True), ("Bearer\t{t}", False), ("Basic {t}", False), ("Bearer", False),
                       ("Bearer {t} {t}", False), ("Token {t}", False), ("Bearer {t}x", False), ("", False)]


@pytest.mark.parametrize(("form", "accepted"), AUTHORIZATION_FORMS, ids=[f for f, _ in AUTHORIZATION_FORMS])
def test_each_authorization_form_gets_the_same_answer_at_the_edge_and_the_service(
        platform: LocalPlatform, context: Context, form: str, accepted: bool) -> None:
    """API Gateway's Cognito authorizer takes the token alone or after ``Bearer``; the services take the same forms
    (common/auth.py, bearer_token): what the edge lets through is never refused behind it for its header's form."""
    value = form.format(t=context.user_token)
    base, stage = split_url(platform.edge_url)
    edge = exchange(base, [request_bytes("GET", f"{stage}/orders", [("x-api-key", platform.api_key),
                                                                    ("Authorization", value)])])
    direct = exchange(platform.url(Service.ORDERS), [request_bytes("GET", "/orders", [("Authorization", value)])])
    assert edge.responses and direct.responses, (edge.error, direct.error)
    assert edge.responses[0].status == direct.responses[0].status, (
        form, edge.responses[0].body[:200], direct.responses[0].body[:200])
    assert edge.responses[0].status == (200 if accepted else 401), (form, edge.responses[0].body[:200])
