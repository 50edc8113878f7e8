"""contract/limits.py's checks on their own: the JSON measure, the head checks, and the HTTP protocol every API process
and the local edge run (common/http_protocol.py) in front of a FastAPI app of common/api.py, over a real socket.
No platform: fast."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import uvicorn
from contract.limits import (
    BODY_BYTES,
    HEADER_BYTES,
    JSON_DEPTH,
    JSON_VALUES,
    URL_CHARS,
    VALIDATION_ERRORS,
    service_header_bytes,
)
from fastapi import Header
from pydantic import Field, TypeAdapter, ValidationError

from common.api import create_app
from common.fields import HeaderText, Printable, RequestModel
from common.http_protocol import GuardedH11Protocol
from common.request_limits import head_refusal, header_text, json_refusal
from tools.local.raw_http import exchange, request_bytes


# --- the JSON measure ---------------------------------------------------------------------------------------------
def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def array(values: int) -> bytes:
    return b"[" + b",".join([b"1"] * (values - 1)) + b"]"


@pytest.mark.parametrize(("body", "limit"), [
    (nested(JSON_DEPTH.value), None),
    (nested(JSON_DEPTH.value + 1), "json_depth"),
    (b'{"a":' * (JSON_DEPTH.value + 1) + b"1" + b"}" * (JSON_DEPTH.value + 1), "json_depth"),
    (b"[" * 100_000, "json_depth"),
    (array(JSON_VALUES.value), None),  # the array and 999 numbers
    (array(JSON_VALUES.value + 1), "json_values"),
    (b"[" + b"[]," * 2_000 + b"[]]", "json_values"),
    (b'{"lines":[' + b",".join([b"0"] * 600_000) + b"]}", "json_values"),
    (b"]" * 10_000, "json_values"),
    (b'"' * 10_001, "json_values"),
])
def test_depth_and_values_are_measured_before_parsing(body: bytes, limit: str | None) -> None:
    refusal = json_refusal(body)
    assert (refusal.limit.name if refusal and refusal.limit else None) == limit
    if refusal is not None:
        assert refusal.status == 422 and refusal.error == "validation_failed"


@pytest.mark.parametrize("body", [
    # Brackets, commas and quotes inside strings are text, escaped quotes and backslashes included.
    json.dumps({"name": "[" * 5_000 + "," * 5_000 + '"' * 100 + "\\" * 99}).encode(),
    json.dumps([{"a": [], "b": {}, "c": "x\\\"[["}] * 200).encode(),  # 1 + 200 * 4 = 801 values
    b'{"a" : [ ] , "b" : { } }',
])
def test_text_and_empty_containers_are_counted_as_json_counts_them(body: bytes) -> None:
    assert json_refusal(body) is None
    json.loads(body)


def test_the_count_is_exact_for_valid_json() -> None:
    """1 + commas + non-empty containers: exactly the number of values, so a body within the limit always passes."""
    document: dict[str, Any] = {"lines": [{"product_id": "p", "quantity": 1}] * 332, "x": [], "y": {}}
    values = 1 + 1 + 332 * 3 + 2  # the object, the array, 332 objects of 2 values each, two empty containers
    assert values == JSON_VALUES.value
    assert json_refusal(json.dumps(document).encode()) is None
    document["z"] = 0
    assert json_refusal(json.dumps(document).encode()) is not None


def test_json_that_is_not_utf8_is_refused() -> None:
    refusal = json_refusal('{"name": "x"}'.encode("utf-16"))
    assert refusal is not None and refusal.limit is None and "not UTF-8" in refusal.message


@pytest.mark.parametrize("body", [b'["\\', b'["' + b'\\"' * 1000, b'"' + b"\\" * 10_001, b"\xff" * 100, b""])
def test_malformed_bodies_are_measured_without_error(body: bytes) -> None:
    json_refusal(body)  # the parser says what is wrong with them; the measure only bounds its work


# --- the head -----------------------------------------------------------------------------------------------------
def head(target: bytes = b"/", **headers: bytes) -> Any:
    return head_refusal(b"GET", target, [(k.replace("_", "-").encode(), v) for k, v in headers.items()],
                        header_limit=HEADER_BYTES.value)


def test_header_limits() -> None:
    assert head(b"/" + b"a" * (URL_CHARS.value - 1)) is None
    assert head(b"/" + b"a" * URL_CHARS.value).status == 414
    assert head(x_big=b"b" * (HEADER_BYTES.value - 10), x_other=b"o" * 10) is None
    refused = head(x_big=b"b" * (HEADER_BYTES.value - 10), x_other=b"o" * 11)
    assert refused.status == 431 and refused.limit.value == HEADER_BYTES.value
    assert head(Content_Length=str(BODY_BYTES.value).encode()) is None
    assert head(Content_Length=str(BODY_BYTES.value + 1).encode()).status == 413
    assert service_header_bytes() > HEADER_BYTES.value  # what the edge accepted and added to passes behind it


@pytest.mark.parametrize(("value", "problem"), [
    ("café".encode(), None), ("ключ".encode(), None), (b"caf\xe9", "is not valid UTF-8 text"),
    (b"\xed\xa0\x80", "is not valid UTF-8 text"), (b"a\x01b", "contains a control character"),
    (b"a\x7f", "contains a control character"), (b"a\tb", None),
])
def test_header_values_are_utf8_text(value: bytes, problem: str | None) -> None:
    refusal = head(x_anything=value)
    assert (refusal.message if refusal else None) == (f"header x-anything {problem}" if problem else None)
    if problem is None:
        assert header_text(value.decode("latin-1")) == value.decode()


def test_single_value_headers_may_not_repeat() -> None:
    refusal = head_refusal(b"GET", b"/", [(b"Authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
                           header_limit=HEADER_BYTES.value)
    assert refusal is not None and refusal.message == "header authorization appears more than once"
    assert head_refusal(b"GET", b"/", [(b"Accept", b"a"), (b"Accept", b"b")], header_limit=HEADER_BYTES.value) is None


def test_idempotency_key_text_is_printable_utf8_of_bounded_length() -> None:
    key = TypeAdapter(Annotated[str, Field(max_length=5), HeaderText, Printable])
    assert key.validate_python("ключ".encode().decode("latin-1")) == "ключ"  # as Starlette hands it over
    assert key.validate_python("clé 1".encode().decode("latin-1")) == "clé 1"
    for bad in ("a\u0085b", "a\u200bb", "a\u2028b", "cl\xc3", "ключ12"):  # C1, format, line separator, bad UTF-8
        with pytest.raises(ValidationError):
            key.validate_python(bad)


# --- the protocol and the app, on a socket ------------------------------------------------------------------------
class Product(RequestModel):
    name: str = Field(max_length=20)
    tags: list[str] = Field(default=[], max_length=3)


# The storefront's origin as the service's environment names it (CORS_ALLOWED_ORIGIN), for the app and the protocol.
ORIGIN = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    app = create_app("limits-test", "t", "d", ready=lambda: True, cors_origin=ORIGIN)

    @app.post("/things")
    def things(body: Product, key: Annotated[str, Header(alias="Idempotency-Key"), HeaderText, Printable]
               ) -> dict[str, str]:
        return {"key": key, "name": body.name}

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("a bug no handler expects")

    env = pytest.MonkeyPatch()
    env.setenv("CORS_ALLOWED_ORIGIN", ORIGIN)

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, http=GuardedH11Protocol,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    env.undo()


def post(url: str, body: bytes, key: bytes = b"k", **kw: Any) -> Any:
    got = exchange(url, [request_bytes("POST", "/things", [("Content-Type", "application/json"),
                                                           ("Idempotency-Key", key)], body, **kw)], method="POST")
    assert got.responses, got.error
    return got.responses[0]


@pytest.mark.parametrize(("raw", "status", "error"), [
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"x" * 70_000 + b"\r\n\r\n", 431, "request_header_fields_too_large"),
    (b"GET /?" + b"q" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    (b"GET /?" + b"q" * 10_300 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    (b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413, "request_too_large"),
    (b"POST /things HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "malformed_request"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: caf\xe9\r\n\r\n", 400, "invalid_header"),
    (b"\x16\x03\x01\x00\xa5\x01\x00\r\n\r\n", 400, "malformed_request"),
])
def test_what_the_protocol_refuses_is_json_naming_the_problem(server: str, raw: bytes, status: int,
                                                                error: str) -> None:
    got = exchange(server, [raw[:65_536], raw[65_536:]] if len(raw) > 65_536 else [raw], early_response_wait=1)
    assert got.responses, got.error
    response = got.responses[0]
    assert (response.status, response.json()["error"]) == (status, error), response.body
    assert response.content_type == "application/json" and response.headers["connection"] == "close"
    # A page of the storefront can read why (behind API Gateway, a header value that is not UTF-8 gets here).
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_an_unhandled_error_is_a_json_500_the_storefront_can_read(server: str) -> None:
    """Starlette runs an ``exception_handler(Exception)`` outside the app's middleware: its 500 had no CORS header
    and no correlation id, so the browser saw a network error instead of the API's JSON."""
    got = exchange(server, [request_bytes("GET", "/fails", [("Origin", ORIGIN)])])
    assert got.responses, got.error
    response = got.responses[0]
    assert (response.status, response.json()) == (500, {"error": "internal", "message": "internal error"})
    assert response.headers["access-control-allow-origin"] == ORIGIN and response.headers["x-correlation-id"]


def test_the_app_refuses_bodies_by_their_measure_and_caps_what_it_reports(server: str) -> None:
    deep = post(server, b"[" * 100_000)
    assert deep.status == 422 and deep.json()["limit"] == {"name": "json_depth", "value": JSON_DEPTH.value}
    assert deep.json()["fields"][0]["field"] == "body"
    huge = post(server, b'{"name": "x", "tags": [' + b",".join([b'"t"'] * 600_000) + b"]}")
    assert huge.status == 422 and huge.json()["limit"]["name"] == "json_values"
    big = post(server, json.dumps({"name": "n" * 1_500_000, **{f"x{i}" * 5_000: i for i in range(50)}}).encode())
    assert big.status == 422 and len(big.body) < 4_000, len(big.body)
    assert len(big.json()["fields"]) == VALIDATION_ERRORS.value and big.json()["more_errors"] == 41
    digits = post(server, b'{"name": ' + b"9" * 5_000 + b"}")
    assert digits.status == 422 and digits.json()["fields"][0]["field"] == "body"
    chunked = exchange(server, [request_bytes("POST", "/things", [("Content-Type", "application/json"),
                                                                  ("Idempotency-Key", "k"),
                                                                  ("Transfer-Encoding", "chunked")],
                                              content_length=False),
                                *[b"100000\r\n" + b" " * 0x100000 + b"\r\n"] * 10, b"1\r\n \r\n0\r\n\r\n"],
                       method="POST")
    assert chunked.responses and chunked.responses[0].status == 413, chunked.error
    assert chunked.responses[0].json()["limit"] == {"name": "body_bytes", "value": BODY_BYTES.value}


def test_an_idempotency_key_of_any_script_arrives_as_sent(server: str) -> None:
    for key in ("ключ-1", "clé", "注文 42", "🔑"):
        ok = post(server, b'{"name": "x"}', key.encode())
        assert ok.status == 200 and ok.json()["key"] == key, ok.body
    refused = post(server, b'{"name": "x"}', "a\u200bb".encode())
    assert refused.status == 422 and refused.json()["fields"][0]["field"] == "Idempotency-Key"


def test_the_security_page_states_the_limits_of_the_contract() -> None:
    """docs/security.md's table ("Input limits") has one row per limit of contract/limits.py, with its value."""
    from pathlib import Path

    from contract.limits import ALL

    page = (Path(__file__).resolve().parents[3] / "docs" / "security.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[2].strip() for line in
            page.split("## Input limits", 1)[1].splitlines() if line.startswith("| `")}
    assert set(rows) == {limit.name for limit in ALL}
    for limit in ALL:
        assert rows[limit.name].startswith(f"{limit.value:,} "), (limit.name, rows[limit.name])
