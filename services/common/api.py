"""FastAPI scaffolding shared by the four APIs: JSON errors, request ids, health endpoints, auth dependencies.

No `from __future__ import annotations` here: FastAPI resolves the dependency annotations of the closures in
`auth_dependencies` at runtime, and postponed (string) annotations cannot see closure variables.
"""

import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Annotated, Any

from contract.limits import BODY_BYTES, MESSAGE_CHARS, VALIDATION_ERRORS, excerpt
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common import tracing
from common.auth import AuthError, Principal, Verifier, bearer_token
from common.logging import correlation_id_var, new_id, trace_id_var
from common.request_limits import Refusal, json_refusal, too_large

log = logging.getLogger("api")


class ApiError(Exception):
    """An error with a stable machine-readable code, rendered as {"error": code, "message": ..., ...}."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.extra = extra


class Unavailable(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(503, "unavailable", message)


def field_error(field: str, message: str, status: int = 422) -> ApiError:
    """A validation failure found after parsing (e.g. unknown product), shaped like FastAPI's own 422s."""
    return ApiError(status, "validation_failed", message, fields=[{"field": field, "message": message}])


class RefusedRequest(StarletteHTTPException):
    """A request refused by a limit of contract/limits.py before any work (common/request_limits.py). An
    HTTPException, so that FastAPI's body parsing lets it through to the handler that renders it."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(status_code=refusal.status, detail=refusal.message)
        self.refusal = refusal


class LimitedRequest(Request):
    """A request whose JSON body is measured (nesting, number of values) before the standard library parses it."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            refusal = json_refusal(body)
            if refusal is not None:
                raise RefusedRequest(refusal)
            try:
                self._json = json.loads(body)
            except json.JSONDecodeError:
                raise  # FastAPI's own 422 json_invalid, naming the position
            except ValueError as exc:  # not UTF-8, or a number of more than 4,300 digits (Python's int limit)
                what = "is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else f"cannot be read: {exc}"
                message = excerpt(f"JSON decode error: the body {what}", MESSAGE_CHARS.value)
                raise RefusedRequest(Refusal(422, "validation_failed", message)) from None
        return self._json


class LimitedRoute(APIRoute):
    """FastAPI's route with :class:`LimitedRequest` (FastAPI's documented "custom Request and APIRoute class")."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            return await handler(LimitedRequest(request.scope, request.receive))

        return limited


def _field_name(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    where = parts.pop(0) if parts else "body"
    if where == "body" and parts and isinstance(parts[0], int):
        return "body"  # JSON decode error position
    if where == "header" and parts:
        return "-".join(p.capitalize() for p in str(parts[0]).split("-"))
    if not parts:
        return str(where)
    name = ""
    for p in parts:
        if isinstance(p, int):
            name += f"[{p}]"
        else:
            # A name is the client's input (an unknown field may be a megabyte long): an excerpt only.
            name += f".{excerpt(str(p))}" if name else excerpt(str(p))
    return name


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    """At most VALIDATION_ERRORS fields, each message cut to MESSAGE_CHARS; how many more failed is counted."""
    errors = exc.errors()
    fields = [{"field": _field_name(e.get("loc", ())), "message": str(e.get("msg", "invalid"))[:MESSAGE_CHARS.value]}
              for e in errors[:VALIDATION_ERRORS.value]]
    content: dict[str, Any] = {"error": "validation_failed", "fields": fields}
    if len(errors) > len(fields):
        content["more_errors"] = len(errors) - len(fields)
        content["limit"] = {"name": VALIDATION_ERRORS.name, "value": VALIDATION_ERRORS.value}
    return JSONResponse(status_code=422, content=content)


def refusal_response(refusal: Refusal) -> JSONResponse:
    content = refusal.body()
    if refusal.error == "validation_failed":  # the shape of every 422 of the API: the field at fault is the body
        content["fields"] = [{"field": "body", "message": refusal.message}]
    return JSONResponse(status_code=refusal.status, content=content)


class RequestContext:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): ids into context vars, one JSON log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("utf-8", "replace") for k, v in scope.get("headers", [])}
        cid = headers.get("x-correlation-id", "")
        # Only a printable id travels on: it lands in every event of the request, whose schemas refuse control
        # characters (a client could send a TAB in a header).
        cid = cid if 0 < len(cid) <= 128 and cid.isprintable() else new_id()
        correlation_id_var.set(cid)
        # The server span's traceparent when tracing is on: every event this request writes carries it.
        trace_id_var.set(tracing.request_traceparent(cid) or headers.get("x-amzn-trace-id")
                         or headers.get("traceparent"))
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-correlation-id", cid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = scope.get("path", "")
            if path not in ("/healthz", "/readyz"):
                log.info(
                    "request",
                    extra={"method": scope.get("method"), "path": path, "status": status,
                           "duration_ms": round((time.perf_counter() - started) * 1000, 2)},
                )


class CrossOrigin:
    """Pure ASGI middleware: every answer may be read by pages of the one allowed origin (the storefront's), and no
    other. API Gateway passes an HTTP_PROXY integration's response through unchanged, so the service itself names
    the origin; the preflight (OPTIONS) and API Gateway's own errors carry the same origin from the Edge stack.
    ``Vary: Origin`` because the answer depends on it for any cache between the browser and the API."""

    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        self.headers = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_wrapper)


class UnhandledErrors:
    """Pure ASGI middleware, the innermost of the app's own: an exception no handler took becomes the JSON 500 here,
    inside :class:`CrossOrigin` and :class:`RequestContext`, so that it carries the storefront's origin and the
    correlation id like every other answer. A handler registered for ``Exception`` would not: Starlette runs it in
    ServerErrorMiddleware, outside every user middleware, and the browser could not read the 500 at all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            if started:  # part of an answer is out: nothing can replace it, the server closes the connection
                raise
            log.exception("unhandled error", extra={"path": scope.get("path", "")})
            await JSONResponse(status_code=500, content={"error": "internal", "message": "internal error"})(
                scope, receive, send)


def create_app(
    service: str,
    title: str,
    description: str,
    ready: Callable[[], bool],
    cors_origin: str,
    unavailable_errors: tuple[type[Exception], ...] = (),
    version: str = "1.0.0",
    **kw: Any,
) -> FastAPI:
    """`unavailable_errors`: exceptions meaning the store or a dependency is unreachable, answered with 503;
    `cors_origin`: the one origin whose pages may read the answers (CORS_ALLOWED_ORIGIN).

    Bodies are limited to BODY_BYTES (FastAPI's own limit: 413 when Content-Length or the bytes received pass it;
    common/http_protocol.py has already refused a larger Content-Length), JSON bodies to JSON_DEPTH and JSON_VALUES
    before they are parsed (:class:`LimitedRoute`)."""
    app = FastAPI(title=title, description=description, version=version, max_body_size=BODY_BYTES.value, **kw)
    app.router.route_class = LimitedRoute
    # The last added runs first: CrossOrigin, RequestContext, then UnhandledErrors around the routes.
    app.add_middleware(UnhandledErrors)
    app.add_middleware(RequestContext)
    app.add_middleware(CrossOrigin, origin=cors_origin)
    tracing.instrument_app(app)  # server spans around everything, RequestContext included

    for exc_type in unavailable_errors:

        @app.exception_handler(exc_type)
        async def on_unavailable(request: Request, exc: Exception) -> JSONResponse:
            log.warning("dependency unavailable", extra={"path": request.url.path, "error": repr(exc)})
            return JSONResponse(status_code=503, content={"error": "unavailable", "message": "try again later"})

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"error": exc.error,
                                                             "message": exc.message[:MESSAGE_CHARS.value], **exc.extra})

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, RefusedRequest):
            return refusal_response(exc.refusal)
        if exc.status_code == 413:  # FastAPI's body limit (max_body_size above)
            return refusal_response(too_large())
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                403: "forbidden"}.get(
            exc.status_code, "error"
        )
        return JSONResponse(status_code=exc.status_code, content={"error": code, "message": str(exc.detail)},
                            headers=getattr(exc, "headers", None))

    @app.get("/healthz", tags=["health"], summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["health"], summary="Readiness: the service's store is reachable",
             responses={503: {"description": "store unreachable"}})
    async def readyz() -> JSONResponse:
        try:
            ok = await run_in_threadpool(ready)
        except Exception as exc:
            log.warning("not ready", extra={"error": repr(exc)})
            ok = False
        return JSONResponse(status_code=200 if ok else 503,
                            content={"status": "ready" if ok else "unavailable", "service": service})

    return app


class CognitoToken(HTTPBearer):
    """The OpenAPI documents keep the bearer scheme; the token is read in every form the edge's Cognito authorizer
    takes (common/auth.py, ``bearer_token``), so that the two layers agree on which requests carry one."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        token = bearer_token(request.headers.get("Authorization"))
        return None if token is None else HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


# The scheme keeps the name FastAPI gave HTTPBearer, so the published OpenAPI documents (and clients typed from them)
# name it as before.
_bearer = CognitoToken(auto_error=False, scheme_name="HTTPBearer",
                       description="Cognito user pool access token: `Bearer <token>`, or the token alone as API "
                                   "Gateway's Cognito authorizer takes it")


def auth_dependencies(
    verifier: Callable[[], Verifier],
) -> tuple[Callable[..., Awaitable[Principal]], Callable[..., Awaitable[Principal]]]:
    """(current_user, admin_user) FastAPI dependencies bound to a lazily built verifier."""

    async def current_user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        if creds is None:
            raise ApiError(401, "unauthorized", "missing token: Authorization: Bearer <token>")
        try:
            # JWKS fetch is blocking I/O (first call, key rotation): keep it off the event loop.
            return await run_in_threadpool(verifier().verify, creds.credentials)
        except AuthError as exc:
            raise ApiError(401, "unauthorized", str(exc)) from None

    async def admin_user(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
        if not principal.is_admin:
            raise ApiError(403, "forbidden", "admin group membership required")
        return principal

    return current_user, admin_user
