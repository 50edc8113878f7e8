"""The checks of contract/limits.py that look at a request's bytes, shared by the services and the local edge.

- :func:`head_refusal`: the request line and headers, as the HTTP protocol parsed them (common/http_protocol.py
  calls it before the application sees the request): URL length, size of the header values together,
  header values that are not UTF-8 text or carry control characters, a Content-Length above the body limit.
- :func:`json_refusal`: a JSON body's nesting and number of values, measured on its bytes before any parser builds
  an object (common/api.py and the edge call it, then parse with the standard library).

Header values are UTF-8 text everywhere on this platform (RFC 9110 leaves their encoding to the application; ASGI
servers hand them over as bytes, Starlette decodes them as Latin-1): a value that is not valid UTF-8 is a 400 naming
the header, at the edge and at every service alike, and :func:`header_text` gives a value's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from contract.limits import BODY_BYTES, HEADER_BYTES, JSON_DEPTH, JSON_VALUES, URL_CHARS, Limit, excerpt

# Control characters a header value cannot carry (RFC 9110, 5.5: field-vchar is VCHAR or obs-text; only SP and HTAB
# may separate them). h11 already refuses NUL, CR and LF.
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_WHITESPACE = b" \t\r\n"


# Headers whose one value the edge or a service acts on. Sent twice, API Gateway would read the last value and
# Starlette the first, so the two layers could authorize or deduplicate a request differently: refused instead
# (RFC 9110, 5.3: only list-valued fields may be repeated).
SINGLE_VALUE_HEADERS = frozenset({b"authorization", b"content-type", b"x-api-key", b"idempotency-key",
                                  b"webhook-signature", b"webhook-timestamp", b"x-correlation-id", b"host"})


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused before any work: HTTP status, stable error code, message, and the limit at stake."""

    status: int
    error: str
    message: str
    limit: Limit | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.limit is not None:
            out["limit"] = {"name": self.limit.name, "value": self.limit.value}
        return out


def head_refusal(method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]], *,
                 header_limit: int) -> Refusal | None:
    """Refusal of a request line and headers, or None. ``header_limit``: bytes of all header values together
    (HEADER_BYTES at the edge, more behind it: contract.limits.service_header_bytes).

    Runs on every request: about 6.5 us of CPU for the dozen headers of an order placed through the edge, against
    about 44 us for h11 to parse them (tools/bench/bench_request_limits.py)."""
    if len(target) > URL_CHARS.value:
        return Refusal(414, "uri_too_long", f"the URL is longer than {URL_CHARS.describe()}", URL_CHARS)
    size = 0  # of the header values (API Gateway's quota counts the values, not the names)
    content_length = b""
    seen: set[bytes] = set()
    for name, value in headers:
        size += len(value)
        key = name.lower()
        if key in SINGLE_VALUE_HEADERS:
            if key in seen:
                return Refusal(400, "invalid_header", f"header {_name(name)} appears more than once")
            seen.add(key)
        if _CONTROL.search(value) is not None:
            return Refusal(400, "invalid_header", f"header {_name(name)} contains a control character")
        if not value.isascii():
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                return Refusal(400, "invalid_header", f"header {_name(name)} is not valid UTF-8 text")
        if key == b"content-length":
            content_length = value
    if size > header_limit:
        limit = HEADER_BYTES if header_limit == HEADER_BYTES.value else Limit(
            HEADER_BYTES.name, header_limit, HEADER_BYTES.unit, HEADER_BYTES.why)
        return Refusal(431, "request_header_fields_too_large",
                       f"the header values are longer than {limit.describe()} together", limit)
    # h11 has checked that Content-Length is ASCII digits, and one value.
    if content_length and int(content_length.split(b",")[0]) > BODY_BYTES.value:
        return too_large()
    return None


def too_large() -> Refusal:
    return Refusal(413, "request_too_large", f"the request body is larger than {BODY_BYTES.describe()}", BODY_BYTES)


def header_text(value: str) -> str:
    """The text of a header value as Starlette gives it (its bytes decoded as Latin-1), decoded as the UTF-8 it is;
    ValueError if it is not UTF-8 (only where no protocol check ran before, as in tests' clients)."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise ValueError("is not valid UTF-8 text") from None


def json_refusal(body: bytes) -> Refusal | None:
    """Refusal of a JSON body that nests deeper than JSON_DEPTH or holds more than JSON_VALUES values, or of one that
    is not UTF-8; None otherwise (it may still be invalid JSON: the parser says so).

    Measured on the bytes, with bytes methods only (C loops, linear in the body): escaped backslashes and quotes are
    dropped, the remaining quotes delimit the strings, and outside them the values are counted as 1 + commas +
    non-empty arrays and objects, which is exact for valid JSON. For invalid JSON the count is at least that of the
    part a parser reads before it stops at the first error, so the bound holds for the parser's work either way.

    Why not a streaming parser with limits: ijson 3.6's C backend raised SystemError and then crashed the process
    (segfault) on a 10,000-digit integer, and its Python backend takes seconds on 10 MB of escaped quotes; the
    standard library's json and pydantic-core's parser have no value limit. This check costs about 3.5 us of CPU for
    an order's body and 30 to 70 ms for the worst 10 MB (tools/bench/bench_request_limits.py).
    """
    if b"\x00" in body:  # UTF-16 and UTF-32 JSON always carry NUL bytes; valid UTF-8 JSON never does
        return _invalid_body("the JSON body is not UTF-8 text")
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    if text.count(b'"') > 4 * JSON_VALUES.value + 1:  # every value has at most one key, every string two quotes
        return _too_many_values()
    outside = b"".join(text.split(b'"')[::2]).translate(None, _WHITESPACE)
    # Depth first (a body of 100,000 "[" is too deep before it is too big), over the brackets a body within the
    # value limit can have; the running depth stops at the first level past the limit.
    brackets = outside.translate(None, _NOT_BRACKETS)[:2 * JSON_VALUES.value + 2]
    if any(depth > JSON_DEPTH.value for depth in accumulate(map(_DEPTH_STEP.__getitem__, brackets))):
        return _invalid_body(f"the JSON body nests deeper than {JSON_DEPTH.describe()}", JSON_DEPTH)
    opens = outside.count(b"[") + outside.count(b"{")
    empties = outside.count(b"[]") + outside.count(b"{}")
    values = 1 + outside.count(b",") + opens - empties
    if values > JSON_VALUES.value or outside.count(b"]") + outside.count(b"}") > JSON_VALUES.value:
        return _too_many_values()
    return None


def _too_many_values() -> Refusal:
    return _invalid_body(f"the JSON body holds more than {JSON_VALUES.describe()}", JSON_VALUES)


def _invalid_body(message: str, limit: Limit | None = None) -> Refusal:
    return Refusal(422, "validation_failed", message, limit)


def _name(name: bytes) -> str:
    return excerpt(name.decode("latin-1"))
