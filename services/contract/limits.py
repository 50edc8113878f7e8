"""What one request may carry, stated once: every place that parses a request enforces these limits, before it
does any work the request could make expensive.

Who reads them: the HTTP protocol of every API process and of the local edge (``common/http_protocol.py``: request
line, headers, Content-Length), the services' request handling (``common/api.py``: body size, JSON shape,
validation errors, error excerpts), the Idempotency-Key and the payment webhook's headers (``orders``), the
conversion of the services' models into API Gateway's request models (``cdk_constructs/api_models.py``: every array
bounded), the local edge (``tools/local/local_edge``) and docs/security.md ("Input limits"), whose table a test
compares with this module.

The first three are API Gateway's own quotas for REST APIs, which cannot be changed ("Quotas for configuring and
running a REST API in API Gateway", api-gateway-execution-service-limits-table.html): what the deployed edge lets
through, the services accept, so the two layers agree on what a valid request is. The others are the platform's:
no request model comes near them (the largest valid body, an order of 20 lines, has about 65 JSON values and nests
3 deep), and they keep the cost of any one request small whatever its bytes are.

Pure Python, no dependencies (the package is in every image and imported by the CDK app, the tools and the tests).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str  # the name a refusal gives it: {"limit": {"name": ..., "value": ...}} and in its message
    value: int
    unit: str
    why: str

    def describe(self) -> str:
        return f"{self.value:,} {self.unit} (limit {self.name})"


BODY_BYTES = Limit(
    "body_bytes", 10 * 1024 * 1024, "bytes",
    "API Gateway's payload quota for REST APIs (10 MB); a larger body is 413 at the edge and at every service")
URL_CHARS = Limit(
    "url_chars", 10_240, "characters",
    "API Gateway's URL length of a regional API: path and query string together; 414 beyond")
HEADER_BYTES = Limit(
    "header_bytes", 10_240, "bytes",
    "API Gateway's quota on all header values of a request together; 431 beyond")
EDGE_ADDED_HEADER_BYTES = 2_048
"""What the edge may add to a request it forwards (X-Forwarded-For, X-Forwarded-Proto, X-Amzn-Trace-Id,
X-Correlation-Id and API Gateway's own x-amzn-* headers): a service accepts ``HEADER_BYTES`` plus this, so that no
request the edge accepted is refused behind it."""
JSON_DEPTH = Limit(
    "json_depth", 32, "levels",
    "arrays and objects inside each other in a JSON body, checked before it is parsed")
JSON_VALUES = Limit(
    "json_values", 1_000, "values",
    "values (objects, arrays, strings, numbers, literals) in a JSON body, checked before it is parsed: what a "
    "10 MB body of [{},{},...] would otherwise turn into (3 million objects) never exists")
ARRAY_ITEMS = Limit(
    "array_items", 100, "items",
    "ceiling of every array of a request model: each declares its own maxItems at or below it (order lines: 20), "
    "which API Gateway's request models enforce at the edge")
VALIDATION_ERRORS = Limit(
    "validation_errors", 10, "errors", "reported in one refusal; the rest are counted, not listed")
EXCERPT_CHARS = Limit(
    "excerpt_chars", 64, "characters", "of a client's input an error body may echo (field names, values)")
MESSAGE_CHARS = Limit(
    "message_chars", 300, "characters", "of one error message, whatever it quotes")
IDEMPOTENCY_KEY_CHARS = Limit(
    "idempotency_key_chars", 128, "characters", "of an Idempotency-Key: any printable UTF-8 text up to this length")
WEBHOOK_TIMESTAMP_DIGITS = Limit(
    "webhook_timestamp_digits", 12, "ASCII digits", "of Webhook-Timestamp (Unix seconds)")

ALL: tuple[Limit, ...] = (BODY_BYTES, URL_CHARS, HEADER_BYTES, JSON_DEPTH, JSON_VALUES, ARRAY_ITEMS,
                          VALIDATION_ERRORS, EXCERPT_CHARS, MESSAGE_CHARS, IDEMPOTENCY_KEY_CHARS,
                          WEBHOOK_TIMESTAMP_DIGITS)


def service_header_bytes() -> int:
    """The header values a service accepts together: the edge's limit plus what the edge adds."""
    return HEADER_BYTES.value + EDGE_ADDED_HEADER_BYTES


def excerpt(text: str, limit: int = EXCERPT_CHARS.value) -> str:
    """At most ``limit`` characters of client input, marked when cut: what an error body may quote."""
    return text if len(text) <= limit else f"{text[:limit - 1]}…"
