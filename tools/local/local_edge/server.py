"""The local edge: an ASGI application that answers as API Gateway answers for the API the templates define."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import uvicorn
from common.http_protocol import GuardedH11Protocol
from common.request_limits import Refusal, json_refusal, too_large
from contract.limits import BODY_BYTES, EXCERPT_CHARS, HEADER_BYTES, VALIDATION_ERRORS, excerpt
from jsonschema import Draft4Validator, FormatChecker
from starlette.types import Receive, Scope, Send

from config.topology import Service
from tools.local.local_edge.authorizer import CognitoAuthorizer, CognitoPool, Unauthorized
from tools.local.local_edge.definition import DefinitionError, EdgeDefinition, GatewayResponse, Method, Throttle
from tools.local.local_edge.throttle import Buckets, QuotaCounter, TokenBucket

log = logging.getLogger("local_edge")

# API Gateway's default gateway responses: status and the message of {"message": $context.error.messageString}.
DEFAULT_RESPONSES: dict[str, tuple[int, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "INVALID_API_KEY": (403, "Forbidden"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "INTEGRATION_FAILURE": (504, "Network error communicating with endpoint"),
    "DEFAULT_4XX": (400, "Bad Request"),
}
ERROR_TYPES = {
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "INVALID_API_KEY": "ForbiddenException",
    "UNAUTHORIZED": "UnauthorizedException",
    "THROTTLED": "TooManyRequestsException",
    "QUOTA_EXCEEDED": "LimitExceededException",
    "BAD_REQUEST_BODY": "BadRequestException",
    "BAD_REQUEST_PARAMETERS": "BadRequestException",
    "REQUEST_TOO_LARGE": "RequestTooLargeException",
    "INTEGRATION_TIMEOUT": "InternalServerErrorException",
    "INTEGRATION_FAILURE": "InternalServerErrorException",
    "DEFAULT_4XX": "BadRequestException",
}
DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
MAX_PAYLOAD = BODY_BYTES.value  # API Gateway's payload quota for REST APIs (contract/limits.py)
# A body above this size is parsed and validated in a worker thread, so that the event loop serves other requests
# meanwhile (jsonschema is Python: it gives the loop its turn); smaller ones take less than a millisecond inline.
INLINE_VALIDATION_BYTES = 64 * 1024
ACCOUNT_THROTTLE = Throttle(rate=10_000, burst=5_000)  # API Gateway's default account-level limits per region
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}
_CONTEXT_VARIABLE = re.compile(r"\$(?:\{context\.([\w.]+)}|context\.([\w.]+))")


@dataclass
class Request:
    """What the edge knows about a request while it handles it (API Gateway's $context, in part)."""

    request_id: str
    method: str
    path: str  # below the stage, percent-encoded as received
    query: bytes
    headers: dict[str, str]  # lower-case names, UTF-8 text (common/http_protocol.py refused any other value)
    client_ip: str
    scheme: str
    resource_path: str = ""
    path_params: dict[str, str] | None = None
    raw_headers: list[tuple[bytes, bytes]] | None = None  # as received, repeated headers included


class GatewayError(Exception):
    """API Gateway answers with one of its gateway responses instead of calling the integration."""

    def __init__(self, response_type: str, message: str | None = None, validation: str = "",
                 status: int | None = None) -> None:
        super().__init__(response_type)
        self.response_type = response_type
        self.message = message or DEFAULT_RESPONSES[response_type][1]
        self.validation = validation
        self.status = status  # a status of its own, for a DEFAULT_4XX of a limit (414, 431)

    @classmethod
    def of(cls, refusal: Refusal) -> GatewayError:
        """The gateway response for a refusal of contract/limits.py: a body over the payload quota is API
        Gateway's REQUEST_TOO_LARGE; other limits have no response type of their own, so DEFAULT_4XX with the
        limit's status."""
        if refusal.status == 413:
            return cls("REQUEST_TOO_LARGE", refusal.message)
        if refusal.error == "validation_failed":
            return cls("BAD_REQUEST_BODY", validation=f"[{refusal.message}]")
        return cls("DEFAULT_4XX", refusal.message, status=refusal.status)


class LocalEdge:
    """ASGI app. ``upstreams``: base URL of each service's API (what the NLB listener would reach), from whoever runs
    the services; ``user_pool``: the pool the template's authorizer stands for; ``api_key``: the value of the
    template's API key (API Gateway generates it at deploy)."""

    def __init__(self, definition: EdgeDefinition, *, upstreams: Mapping[Service, str], user_pool: CognitoPool,
                 api_key: str, clock: Callable[[], float] = time.monotonic) -> None:
        missing = sorted(s.value for s in definition.services if s not in upstreams)
        if missing:
            raise DefinitionError(f"no upstream URL for {', '.join(missing)}")
        self.definition = definition
        self.upstreams = {s: url.rstrip("/") for s, url in upstreams.items()}
        self.api_key = api_key
        self.authorizer = CognitoAuthorizer(user_pool)
        self.prefix = f"/{definition.stage}"
        self.validators = {key: {ctype: Draft4Validator(schema, format_checker=FormatChecker())
                                 for ctype, schema in m.models.items()}
                           for key, m in definition.methods.items()}
        for response in definition.gateway_responses.values():
            for template in response.templates.values():
                for m in _CONTEXT_VARIABLE.finditer(template):
                    if (m[1] or m[2]) not in _CONTEXT_VALUES:
                        raise DefinitionError(f"gateway response variable {m[0]} is not emulated")
        self.gate = Buckets()
        self.account_bucket = TokenBucket(ACCOUNT_THROTTLE, clock)
        self.method_buckets = {key: TokenBucket(definition.stage_throttle, clock)
                               for key in definition.methods} if definition.stage_throttle else {}
        self.key_bucket = (TokenBucket(definition.usage_plan_throttle, clock)
                           if definition.usage_plan_throttle else None)
        self.quota = QuotaCounter(definition.usage_plan_quota) if definition.usage_plan_quota else None
        self.forwarded: dict[Service, int] = dict.fromkeys(definition.services, 0)
        self._http: httpx.AsyncClient | None = None

    # --- ASGI ---------------------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = Request(
            request_id=str(uuid.uuid4()), method=scope["method"], path="", query=scope.get("query_string", b""),
            headers={k.decode("latin-1").lower(): v.decode("utf-8", "replace") for k, v in scope["headers"]},
            client_ip=(scope.get("client") or ("127.0.0.1", 0))[0], scheme=scope.get("scheme", "http"),
            raw_headers=list(scope["headers"]))
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        status, headers, body = await self._handle(request, raw_path, receive)
        headers = [*headers, ("x-amzn-requestid", request.request_id)]
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]})
        await send({"type": "http.response.body", "body": body})
        log.info(json.dumps({"requestId": request.request_id, "httpMethod": request.method,
                             "resourcePath": request.resource_path, "path": raw_path, "status": status,
                             "latencyMs": round((time.perf_counter() - started) * 1000, 1)}))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._http is not None:
                    await self._http.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, request: Request, raw_path: str,
                      receive: Receive) -> tuple[int, list[tuple[str, str]], bytes]:
        if raw_path in ("/ping", "/sping"):  # reserved by API Gateway for its health check
            return 200, [("content-type", "application/json")], b"{}"
        if raw_path != self.prefix and not raw_path.startswith(self.prefix + "/"):
            return 403, [("content-type", "application/json")], b'{"message":"Forbidden"}'
        request.path = raw_path[len(self.prefix):] or "/"
        try:
            method = self._route(request)
            body = await _read_body(receive)
            self._authorize(method, request)
            self._check_api_key(method, request)
            self._throttle(method, request)
            self._check_parameters(method, request)
            if len(body) > INLINE_VALIDATION_BYTES:
                await asyncio.to_thread(self._validate, method, request, body)
            else:
                self._validate(method, request, body)
            if method.integration.type == "MOCK":
                return method.integration.mock_status, list(method.integration.mock_headers.items()), b""
            return await self._integrate(method, request, body)
        except GatewayError as error:
            return self._gateway_response(error, request)

    # --- the steps, in API Gateway's order -------------------------------------------------------------------------
    def _route(self, request: Request) -> Method:
        segments = [s for s in request.path.split("/") if s]
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for resource in self.definition.resource_paths:
            parts = [p for p in resource.split("/") if p]
            if len(parts) != len(segments):
                continue
            params: dict[str, str] = {}
            rank: list[int] = []
            for part, segment in zip(parts, segments, strict=True):
                if part.startswith("{") and part.endswith("}"):
                    params[part[1:-1]] = segment
                    rank.append(0)
                elif part == segment:
                    rank.append(1)
                else:
                    break
            else:
                if best is None or tuple(rank) > best[0]:
                    best = (tuple(rank), resource, params)
        if best is None or (best[1], request.method) not in self.definition.methods:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
        request.resource_path, request.path_params = best[1], best[2]
        return self.definition.methods[(best[1], request.method)]

    def _authorize(self, method: Method, request: Request) -> None:
        if method.authorization != "COGNITO_USER_POOLS":
            return
        try:
            self.authorizer.authorize(request.headers.get("authorization"), method.scopes)
        except Unauthorized as exc:
            log.info(json.dumps({"requestId": request.request_id, "authorizer": str(exc)}))
            raise GatewayError("UNAUTHORIZED") from None

    def _check_api_key(self, method: Method, request: Request) -> None:
        if not method.api_key_required:
            return
        if not self.definition.usage_plan_has_key or request.headers.get("x-api-key") != self.api_key:
            raise GatewayError("INVALID_API_KEY")

    def _throttle(self, method: Method, request: Request) -> None:
        buckets = [self.account_bucket]
        bucket = self.method_buckets.get((method.resource_path, method.http_method))
        if bucket is not None:
            buckets.append(bucket)
        if method.api_key_required and self.key_bucket is not None:
            buckets.append(self.key_bucket)
        if not self.gate.admit(buckets):
            raise GatewayError("THROTTLED")
        if method.api_key_required and self.quota is not None and not self.quota.admit(self.api_key):
            raise GatewayError("QUOTA_EXCEEDED")

    def _check_parameters(self, method: Method, request: Request) -> None:
        if method.validate_parameters:
            missing = [name for name in method.required_parameters if not self._parameter(request, name).strip()]
            if missing:
                names = ", ".join(n.rsplit(".", 1)[1] for n in missing)
                raise GatewayError("BAD_REQUEST_PARAMETERS", f"Missing required request parameters: [{names}]")

    def _validate(self, method: Method, request: Request, body: bytes) -> None:
        """The body against its model: measured before it is parsed (nesting and values, contract/limits.py), then
        validated reporting at most VALIDATION_ERRORS failures, each naming its field and the keyword that failed,
        quoting at most an excerpt of the input."""
        if not (method.validate_body and method.models):
            return
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        validators = self.validators[(method.resource_path, method.http_method)]
        validator = validators.get(content_type) or validators.get("$default")
        if validator is None:
            return
        refusal = json_refusal(body)
        if refusal is not None:
            raise GatewayError.of(refusal)
        try:
            document = json.loads(body)
        except ValueError:
            raise GatewayError("BAD_REQUEST_BODY", validation="[body is not valid JSON]") from None
        found = list(itertools.islice(validator.iter_errors(document), VALIDATION_ERRORS.value + 1))
        errors = sorted(found[:VALIDATION_ERRORS.value], key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            detail = ", ".join(_failure(e) for e in errors)
            if len(found) > len(errors):
                detail += f", and more (at most {VALIDATION_ERRORS.describe()} are listed)"
            raise GatewayError("BAD_REQUEST_BODY", validation=f"[{detail}]")

    def _parameter(self, request: Request, name: str) -> str:
        """Value of ``method.request.<path|querystring|header>.<name>``; empty when absent."""
        _, _, where, key = name.split(".", 3)
        if where == "path":
            return (request.path_params or {}).get(key, "")
        if where == "header":
            return request.headers.get(key.lower(), "")
        if where == "querystring":
            for pair in request.query.decode("latin-1").split("&"):
                k, _, v = pair.partition("=")
                if unquote(k) == key:
                    return unquote(v)
            return ""
        raise DefinitionError(f"request parameter {name} is not emulated")

    async def _integrate(self, method: Method, request: Request,
                         body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        integration = method.integration
        assert integration.service is not None
        path = integration.path
        # Passed on as received: bytes, repeated headers included (httpx would refuse to encode a non-ASCII str).
        headers = [(k, v) for k, v in request.raw_headers or () if k.decode("latin-1").lower() not in HOP_BY_HOP]
        mapped: dict[str, str] = {}
        for target, source in integration.request_parameters.items():
            _, _, where, name = target.split(".", 3)
            value = self._source(request, source)
            if where == "path":
                path = path.replace("{" + name + "}", value)
            elif where == "header":
                mapped[name.lower()] = value
            else:
                raise DefinitionError(f"integration parameter {target} is not emulated")
        mapped["x-forwarded-for"] = request.client_ip
        mapped["x-forwarded-proto"] = request.scheme
        if self.definition.tracing:
            mapped["x-amzn-trace-id"] = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        headers = [(k, v) for k, v in headers if k.decode("latin-1").lower() not in mapped]
        headers += [(k.encode("latin-1"), v.encode()) for k, v in mapped.items()]
        url = self.upstreams[integration.service] + path + (f"?{request.query.decode('latin-1')}"
                                                            if request.query else "")
        self.forwarded[integration.service] += 1
        try:
            async with asyncio.timeout(integration.timeout_seconds):
                upstream = self._client().build_request(integration.http_method, url, headers=headers, content=body)
                response = await self._client().send(upstream, stream=True)
                try:
                    content = b"".join([chunk async for chunk in response.aiter_raw()])
                finally:
                    await response.aclose()
        except TimeoutError:
            raise GatewayError("INTEGRATION_TIMEOUT") from None
        except httpx.HTTPError as exc:
            log.warning(json.dumps({"requestId": request.request_id, "integrationError": repr(exc)}))
            raise GatewayError("INTEGRATION_FAILURE") from None
        out = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP]
        return response.status_code, out, content

    def _source(self, request: Request, source: str) -> str:
        if source == "context.requestId":
            return request.request_id
        if source.startswith("method.request."):
            return self._parameter(request, source)
        if source.startswith("'") and source.endswith("'"):
            return source[1:-1]
        raise DefinitionError(f"integration parameter source {source} is not emulated")

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # The integration's own timeout (asyncio.timeout above) bounds each call; this one is only a backstop.
            # Idle connections are dropped after 2 s, before uvicorn closes its side (5 s keep-alive): httpx's
            # default of 5 s raced the server's close and a reused connection failed as a 504 now and then.
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0), follow_redirects=False,
                                           limits=httpx.Limits(max_connections=200, max_keepalive_connections=50,
                                                               keepalive_expiry=2.0))
        return self._http

    # --- gateway responses ------------------------------------------------------------------------------------------
    def _gateway_response(self, error: GatewayError, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        default_status, _ = DEFAULT_RESPONSES[error.response_type]
        fallback = "DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX"
        own = self.definition.gateway_responses.get(error.response_type)
        general = self.definition.gateway_responses.get(fallback)
        chosen: GatewayResponse | None = own or general
        status = (own.status if own and own.status else None) or error.status \
            or (general.status if general else None) or default_status
        content_type, template = "application/json", DEFAULT_TEMPLATE
        if chosen and chosen.templates:
            content_type = "application/json" if "application/json" in chosen.templates else next(
                iter(chosen.templates))
            template = chosen.templates[content_type]
        body = _render(template, error, request, self.definition.stage)
        headers = [("content-type", content_type), ("x-amzn-errortype", ERROR_TYPES[error.response_type]),
                   *((chosen.headers.items()) if chosen else ())]
        return status, headers, body.encode()


def _context_values(error: GatewayError, request: Request, stage: str) -> dict[str, str]:
    escaped = json.dumps(error.validation)[1:-1]
    return {
        "error.message": error.message,
        "error.messageString": json.dumps(error.message),
        "error.responseType": error.response_type,
        "error.validationErrorString": escaped,
        "requestId": request.request_id,
        "extendedRequestId": request.request_id,
        "stage": stage,
        "resourcePath": request.resource_path,
        "httpMethod": request.method,
    }


_CONTEXT_VALUES = frozenset(_context_values(GatewayError("UNAUTHORIZED"), Request("", "", "", b"", {}, "", ""), ""))


def _render(template: str, error: GatewayError, request: Request, stage: str) -> str:
    """A gateway response template: simple $context substitution, no VTL (as API Gateway renders them)."""
    values = _context_values(error, request, stage)
    return _CONTEXT_VARIABLE.sub(lambda m: values[m[1] or m[2]], template)


def _pointer(path: Any) -> str:
    return excerpt("/" + "/".join(str(p) for p in path))


def _failure(error: Any) -> str:
    """``<JSON pointer>: <what failed>`` without jsonschema's message, which quotes the whole instance (a 1.5 MB name
    came back in full): the keyword and its bound, and an excerpt of the value."""
    keyword, bound = error.validator, error.validator_value
    if keyword in ("maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum", "type", "enum",
                   "multipleOf", "maxProperties", "minProperties"):
        what = f"{keyword} {json.dumps(bound)[:EXCERPT_CHARS.value]}"
    elif keyword == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {}))) if isinstance(
            error.instance, dict) else []
        what = f"additionalProperties false ({', '.join(repr(excerpt(str(k), 32)) for k in extra[:3])})"
    elif keyword == "required":
        what = excerpt(error.message)
    else:
        what = keyword
    return f"{_pointer(error.absolute_path)}: failed {what}, got {_value_excerpt(error.instance)}"


def _value_excerpt(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    return excerpt(json.dumps(value[:40] if isinstance(value, str) else value), 32)


def edge_protocol(edge: LocalEdge) -> type[GuardedH11Protocol]:
    """The services' HTTP protocol (the same head limits, the same decoding of header values) with API Gateway's
    limit on the header values, answering with the edge's gateway responses."""

    class EdgeProtocol(GuardedH11Protocol):
        header_limit = HEADER_BYTES.value

        def error_response(self, refusal: Refusal) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            request = Request(str(uuid.uuid4()), "", "", b"", {}, "", "")
            status, headers, body = edge._gateway_response(GatewayError.of(refusal), request)
            return status, [(k.encode("latin-1"), v.encode()) for k, v in
                            [*headers, ("x-amzn-requestid", request.request_id)]], body

    return EdgeProtocol


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_PAYLOAD:
            raise GatewayError.of(too_large())
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


@contextlib.contextmanager
def serve(app: LocalEdge, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the edge in a background thread of this process; yields its base URL (stage included)."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                           access_log=False, http=edge_protocol(app)))
    thread = threading.Thread(target=server.run, name="local-edge", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("local edge did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}/{app.definition.stage}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def api_key_from_env() -> str:
    key = os.environ.get("LOCAL_EDGE_API_KEY", "")
    if not key:
        raise SystemExit("configuration error: LOCAL_EDGE_API_KEY is not set")
    return key
