"""uvicorn's HTTP/1.1 protocol (h11) with the platform's request-head limits and JSON errors.

Every API process runs it (the images' CMD: ``uvicorn <svc>.app:app --http common.http_protocol:GuardedH11Protocol``)
and so does the local edge. Two things change from uvicorn's own protocol:

- A request whose line or headers break contract/limits.py (URL length, size of the header values, header
  values that are not UTF-8 text or carry control characters, a Content-Length above the body limit) is refused
  here, as soon as its head has arrived, before the application is called (common/request_limits.py,
  ``head_refusal``).
- Its refusals carry the storefront's origin for CORS (``CORS_ALLOWED_ORIGIN``, as every answer of the app does:
  common/api.py, ``CrossOrigin``). Most of them never meet a browser behind API Gateway, which enforces the same
  size limits first and answers with its own gateway responses (which carry the origin); but a header value that is
  not UTF-8 (a ``fetch`` may send Latin-1 bytes) is refused here only, and a page must be able to read why.
- What h11 cannot parse (a malformed request line or header, a Content-Length that is not ASCII digits, a head too
  large for its buffer) is answered with a JSON body naming the problem, like every other refusal of the API, instead
  of uvicorn's ``text/plain`` "Invalid HTTP request received.". h11's hint of 501 for a Transfer-Encoding it does not
  implement becomes 400: no client input is answered with a 5xx.

It overrides ``send_400_response``, uvicorn's hook for a request h11 refused, and wraps h11's ``next_event``; both
are tested against the pinned uvicorn (services/common/tests/test_request_limits.py).
"""

from __future__ import annotations

import json
import os
from http import HTTPStatus
from typing import Any

import h11
from contract.limits import HEADER_BYTES, URL_CHARS, service_header_bytes
from uvicorn.protocols.http.h11_impl import H11Protocol

from common.request_limits import Refusal, head_refusal

# The one origin whose pages may read the service's answers (contract/environment.py COMMON; common/settings.py).
CORS_ORIGIN_VARIABLE = "CORS_ALLOWED_ORIGIN"

# h11's buffer for a request's head: twice the limit, so that a head between the limit and this is refused by
# head_refusal with the limit's own message, and anything longer by h11 (431 as well) without being buffered.
_BUFFER_FACTOR = 2


class _LimitedConnection(h11.Connection):
    """h11's server connection, checking each request's head as it is parsed."""

    def __init__(self, header_limit: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=_BUFFER_FACTOR * header_limit + URL_CHARS.value)
        self.header_limit = header_limit
        self.refusal: Refusal | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refusal = self._protocol_refusal(exc)
            raise
        if isinstance(event, h11.Request):
            self.refusal = head_refusal(event.method, event.target, event.headers.raw_items(),
                                        header_limit=self.header_limit)
            if self.refusal is not None:
                raise h11.RemoteProtocolError(self.refusal.message, self.refusal.status)
        return event

    def _protocol_refusal(self, exc: h11.RemoteProtocolError) -> Refusal:
        if exc.error_status_hint == 431:  # the head outgrew h11's buffer: is it the URL, or everything?
            first_line = self.trailing_data[0].split(b"\r\n", 1)[0]
            if len(first_line) > URL_CHARS.value + 30:  # method, spaces and HTTP version take < 30 bytes
                return Refusal(414, "uri_too_long", f"the URL is longer than {URL_CHARS.describe()}", URL_CHARS)
            return Refusal(431, "request_header_fields_too_large",
                           f"the header values are longer than {HEADER_BYTES.describe()} together", HEADER_BYTES)
        return Refusal(400, "malformed_request", f"not a valid HTTP/1.1 request: {str(exc)[:120]}")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with contract/limits.py enforced on each request's head and JSON refusals."""

    header_limit = service_header_bytes()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _LimitedConnection(self.header_limit)
        origin = os.environ.get(CORS_ORIGIN_VARIABLE, "")
        self.cors_headers = [(b"access-control-allow-origin", origin.encode("latin-1")),
                             (b"vary", b"Origin")] if origin else []

    def error_response(self, refusal: Refusal) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers (besides Connection: close) and body of a refusal; the edge renders its gateway
        responses."""
        return (refusal.status, [(b"content-type", b"application/json"), *self.cors_headers],
                json.dumps(refusal.body()).encode())

    def send_400_response(self, msg: str) -> None:
        refusal = self.conn.refusal if isinstance(self.conn, _LimitedConnection) else None
        status, headers, body = self.error_response(refusal or Refusal(400, "malformed_request", msg))
        headers = [*headers, (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        response = h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase.encode())
        for event in (response, h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
