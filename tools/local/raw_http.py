"""HTTP/1.1 as bytes on a socket: what a client that does not follow the rules sends, and what came back.

httpx and the other clients refuse to send most of what a hostile client would (bytes >= 0x80 in header values, a
Content-Length that lies, a header of 70 KB, a request written a byte at a time), so the raw-HTTP fuzzer
(services/common/tests/test_raw_http_fuzz.py) and the reproductions of issue 24 write requests themselves. Responses
are parsed by the standard library's ``http.client.HTTPResponse``, not by hand.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

Headers = Sequence[tuple[str | bytes, str | bytes]]


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    seconds: float  # from the first byte sent to the last byte of this response read

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Exchange:
    """What one connection got back: the responses read, and how the connection ended."""

    responses: list[RawResponse] = field(default_factory=list)
    error: str = ""  # "" or why no further response could be read (closed, reset, timed out)


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def request_bytes(method: str, target: str | bytes, headers: Headers = (), body: bytes = b"", *,
                  host: str = "localhost", content_length: bool = True) -> bytes:
    """A request exactly as given: no header is checked, encoded or folded. ``content_length`` adds a correct
    Content-Length when the headers have none."""
    names = {_bytes(k).lower() for k, _ in headers}
    lines = [_bytes(method) + b" " + _bytes(target) + b" HTTP/1.1"]
    if b"host" not in names:
        lines.append(b"Host: " + host.encode())
    lines += [_bytes(k) + b": " + _bytes(v) for k, v in headers]
    if content_length and b"content-length" not in names and b"transfer-encoding" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _SharedFile:
    """Lets several HTTPResponse objects read one socket in turn (pipelined responses) through one buffer: each gets
    the same buffered file, whose ``close`` (HTTPResponse closes its file once it has read a body) does nothing."""

    def __init__(self, fp: BinaryIO) -> None:
        self.fp = fp

    def makefile(self, mode: str) -> _SharedFile:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fp, name)

    def close(self) -> None:
        pass


def exchange(url: str, chunks: Iterable[bytes], *, pause: float = 0.0, timeout: float = 15.0,
             responses: int = 1, half_close: bool = False, early_response_wait: float = 0.0,
             method: str = "GET") -> Exchange:
    """Send ``chunks`` on a new connection to ``url``'s host and port, ``pause`` seconds apart, and read up to
    ``responses`` responses (``method`` tells the parser whether a body follows: HEAD has none).

    A server may answer before the request is complete (413 on a Content-Length it refuses): before each chunk after
    the first, the socket is polled (``early_response_wait`` seconds before the second chunk, the one that follows
    a head, not at all before the others) and sending stops once a response is readable or the server has closed,
    so that the response is read rather than lost to a connection reset.
    ``half_close`` shuts the sending side when all is sent (a client that stops short of its Content-Length)."""
    parts = urlsplit(url)
    out = Exchange()
    started = time.perf_counter()
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout) as sock:
        try:
            for i, chunk in enumerate(chunks):
                if i and select.select([sock], [], [], early_response_wait if i == 1 else 0)[0]:
                    break  # the server answered (or closed) already
                sock.sendall(chunk)
                if pause:
                    time.sleep(pause)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError) as exc:
            out.error = f"send: {exc.__class__.__name__}"
        shared = _SharedFile(sock.makefile("rb"))
        for _ in range(responses):
            try:
                response = http.client.HTTPResponse(shared, method=method)  # type: ignore[arg-type]
                response.begin()
                body = response.read()
            except (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionResetError,
                    http.client.BadStatusLine, TimeoutError, OSError) as exc:
                out.error = f"read: {exc.__class__.__name__}: {str(exc)[:80]}"
                break
            out.responses.append(RawResponse(
                status=response.status, headers={k.lower(): v for k, v in response.getheaders()}, body=body,
                seconds=time.perf_counter() - started))
            if response.will_close:  # Connection: close: nothing more comes on this connection
                if len(out.responses) < responses:
                    out.error = "closed by the server after this response"
                break
    return out


def split_url(url: str) -> tuple[str, str]:
    """(scheme://host:port, path prefix) of a base URL such as the edge's ``http://127.0.0.1:8080/v1``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
