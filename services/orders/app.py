"""Orders API (PostgreSQL). Placing an order prices its products from the products read model in the orders database
(fed by product events; OrderService.read_products states its staleness bound), asking the products service over REST
only for a product the read model does not know yet, then writes the order (PENDING) with its OrderPlaced event and
ReserveStock command in one transaction."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cache
from typing import Annotated, Any
from uuid import UUID

import psycopg
from common import aws
from common import logging as jlog
from common.api import ApiError, Unavailable, auth_dependencies, create_app, field_error
from common.auth import Principal, Verifier
from common.fields import HeaderText, PlainText, Printable
from common.pg import OutboxFlusher
from common.publisher import Publisher
from common.service_auth import ClientCredentials, secret_from_secrets_manager
from contract.limits import IDEMPOTENCY_KEY_CHARS
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from orders import db, webhook
from orders import settings as settings_mod
from orders.models import (
    IDEMPOTENCY_KEY,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    OrderChangeIn,
    OrderIn,
    OrderLineIn,
    PaymentWebhookIn,
)
from orders.products_client import ProductsAuthRejected, ProductsClient, ProductsUnavailable
from orders.service import (
    CurrencyChange,
    Deadlines,
    IdempotencyMismatch,
    InvalidTransition,
    Line,
    OrderNotFound,
    OrderService,
    ProductPrice,
    request_hash,
)

SERVICE = "orders"
jlog.configure(SERVICE)
log = logging.getLogger("orders.api")
settings = settings_mod.load()
products = ProductsClient(settings.products_url, ClientCredentials(
    settings.products_token_url, settings_mod.PRODUCTS_SCOPE,
    secret_from_secrets_manager(settings.service_client_secret_arn)))
_state: dict[str, Any] = {}
signing_secret = webhook.signing_secret(lambda: str(aws.client("secretsmanager").get_secret_value(
    SecretId=settings.payment_webhook_secret_arn)["SecretString"]))


@cache
def verifier() -> Verifier:
    return Verifier(settings.jwks_url, settings.issuer, settings.client_id)


current_user, _admin = auth_dependencies(verifier)
User = Annotated[Principal, Depends(current_user)]
OrderId = Annotated[UUID, Path(alias="orderId")]
IdempotencyKey = Annotated[str, Header(alias=IDEMPOTENCY_KEY, min_length=1, max_length=IDEMPOTENCY_KEY_CHARS.value,
                                       description="Any printable UTF-8 text, up to "
                                                   f"{IDEMPOTENCY_KEY_CHARS.value} characters"),
                           HeaderText, Printable]


def service() -> OrderService:
    svc: OrderService = _state["service"]
    return svc


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    products.tokens.credentials()  # read the app client secret now: a missing secret fails startup, not an order
    signing_secret()  # and the webhook's: a missing one fails startup, not a payment
    pool: ConnectionPool = db.open_pool(settings.conninfo, settings.db_pool_max, settings.db_pool_max_idle_seconds)
    db.migrate(pool)  # also proves the database reachable before the pod is ready
    # The Publisher itself, not its publish method: the flusher then publishes in batches (publish_many).
    flusher = OutboxFlusher(pool, Publisher(settings.service, settings.destinations))
    _state["service"] = OrderService(pool, Deadlines(settings.pending_deadline_seconds,
                                                     settings.payment_deadline_seconds), after_commit=flusher)
    try:
        yield
    finally:
        flusher.close()
        pool.close()


def _ready() -> bool:
    # No query: a readiness probe every few seconds would keep a pooled connection busy and dev's Aurora from
    # pausing. Startup proved the database reachable (migrations); an outage later answers 503 per request.
    return not service().pool.closed


class OrderLine(BaseModel):
    product_id: str
    quantity: int
    unit_price_cents: int


class Order(BaseModel):
    order_id: str
    customer_id: str
    status: str = Field(description="PENDING, RESERVED, CONFIRMED, REJECTED or CANCELLED")
    lines: list[OrderLine]
    total_cents: int
    currency: str
    reason: str | None
    shipping_address: str | None
    revision: int = Field(description="0 as placed; +1 each time the customer changes the lines")
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    items: list[Order]
    next: str | None


app = create_app(
    SERVICE,
    "Orders API",
    "Place, read, change and cancel orders. POST /orders and PUT /orders/{orderId} require an Idempotency-Key "
    "header.",
    ready=_ready,
    cors_origin=settings.cors_origin,
    unavailable_errors=(psycopg.OperationalError, PoolTimeout),
    lifespan=lifespan,
)


@app.post("/orders", status_code=201, response_model=Order, tags=["orders"],
          responses={401: {}, 409: {"description": "Idempotency-Key reused with another body"}, 422: {},
                     502: {"description": "products service refused orders' service credentials"},
                     503: {"description": "products service or database unavailable"}})
def place_order(
    body: OrderIn,
    user: User,
    idempotency_key: IdempotencyKey,
) -> Any:
    # Without the absent optional fields: a body without them hashes as it did before they existed.
    body_hash = request_hash(body.model_dump(exclude_none=True))
    try:
        existing, known = service().lookup(user.sub, idempotency_key, body_hash,
                                           [ln.product_id for ln in body.lines])
    except IdempotencyMismatch:
        raise ApiError(409, "idempotency_key_reused", "Idempotency-Key was used with a different request") from None
    if existing is not None:
        return JSONResponse(status_code=201, content=Order(**existing).model_dump(mode="json"),
                            headers={"Idempotent-Replayed": "true"})
    lines, currency, learned = _priced(body.lines, known)
    try:
        order, created = service().place_idempotent(user.sub, idempotency_key, body_hash, lines, currency,
                                                    body.shipping_address, learned)
    except IdempotencyMismatch:
        raise ApiError(409, "idempotency_key_reused", "Idempotency-Key was used with a different request") from None
    headers = {} if created else {"Idempotent-Replayed": "true"}
    return JSONResponse(status_code=201, content=Order(**order).model_dump(mode="json"), headers=headers)


def _priced(body_lines: list[OrderLineIn],
            known: dict[str, ProductPrice]) -> tuple[list[Line], str, list[ProductPrice]]:
    """The lines with the products' prices and versions, their currency, and the products learned on the way: each
    from ``known`` (the read model's rows), else from the products service (the synchronous call, for a product
    whose ProductCreated has not reached the read model: the caller stores the answer). A 422 naming the line of an
    unknown or discontinued product, a duplicate or a mix of currencies."""
    seen: set[str] = set()
    lines: list[Line] = []
    currencies: set[str] = set()
    learned: list[ProductPrice] = []
    for i, ln in enumerate(body_lines):
        if ln.product_id in seen:
            raise field_error(f"lines[{i}].product_id", "duplicate product; combine the quantities")
        seen.add(ln.product_id)
        product = known.get(ln.product_id)
        if product is None and (product := _fetch(ln.product_id)) is not None:
            learned.append(product)
        if product is None or product.status != "ACTIVE":
            raise field_error(f"lines[{i}].product_id", f"unknown or discontinued product {ln.product_id}")
        currencies.add(product.currency)
        lines.append(Line(ln.product_id, ln.quantity, product.price_cents, product.version))
    if len(currencies) > 1:
        raise field_error("lines", "all products of an order must have the same currency")
    return lines, currencies.pop(), learned


def _fetch(product_id: str) -> ProductPrice | None:
    """The product from the products service if it is ACTIVE, None if it is unknown or discontinued there."""
    try:
        info = products.get(product_id)
    except ProductsUnavailable:
        raise Unavailable("products service unavailable") from None
    except ProductsAuthRejected:
        raise ApiError(502, "bad_gateway", "products service refused this service's credentials") from None
    return None if info is None else ProductPrice(info.product_id, info.price_cents, info.currency, "ACTIVE",
                                                  info.version)


@app.put("/orders/{orderId}", response_model=Order, tags=["orders"],
         responses={401: {}, 404: {},
                    409: {"description": "order no longer open (paid, rejected or cancelled), or Idempotency-Key "
                                         "reused with another body"},
                    422: {}, 502: {"description": "products service refused orders' service credentials"},
                    503: {"description": "products service or database unavailable"}})
def change_order(
    order_id: OrderId,
    body: OrderChangeIn,
    user: User,
    idempotency_key: IdempotencyKey,
) -> Any:
    """Change an order that is not paid yet (PENDING or RESERVED): new lines replace its lines at today's prices
    and the reservation follows (the order is PENDING until inventory reserves them), a new shipping address
    replaces the old. The same Idempotency-Key with the same body answers as the first time."""
    if body.lines is None and body.shipping_address is None:
        raise field_error("lines", "give the new lines, a shipping_address, or both")
    body_hash = request_hash({"change": str(order_id), **body.model_dump(exclude_none=True)})
    priced = _priced(body.lines, service().read_products([ln.product_id for ln in body.lines])) \
        if body.lines is not None else None
    try:
        order, changed = service().change(str(order_id), user.sub, idempotency_key, body_hash,
                                          priced[0] if priced else None, priced[1] if priced else None,
                                          body.shipping_address, priced[2] if priced else None)
    except OrderNotFound:
        raise ApiError(404, "not_found", f"order {order_id} not found") from None
    except IdempotencyMismatch:
        raise ApiError(409, "idempotency_key_reused", "Idempotency-Key was used with a different request") from None
    except InvalidTransition as exc:
        raise ApiError(409, "invalid_state", f"order is {exc.status}: only an order that is not paid yet (PENDING "
                                             f"or RESERVED) can be changed") from None
    except CurrencyChange as exc:
        raise field_error("lines", f"{exc}; its lines must all be priced in {exc.currency}") from None
    headers = {} if changed else {"Idempotent-Replayed": "true"}
    return JSONResponse(status_code=200, content=Order(**order).model_dump(mode="json"), headers=headers)


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        ts, oid = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|", 1)
        return datetime.fromisoformat(ts), str(UUID(oid))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise field_error("next", "invalid pagination cursor") from None


@app.get("/orders", response_model=OrderPage, tags=["orders"], responses={401: {}, 422: {}})
def list_orders(
    user: User,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next: Annotated[str | None, Query(max_length=200)] = None,
) -> OrderPage:
    rows = service().list_for(user.sub, limit, _decode_cursor(next) if next else None)
    cursor = None
    if len(rows) == limit:
        last = rows[-1]
        cursor = base64.urlsafe_b64encode(f"{last['created_at'].isoformat()}|{last['order_id']}".encode()
                                          ).decode().rstrip("=")
    return OrderPage(items=[Order(**r) for r in rows], next=cursor)


@app.get("/orders/{orderId}", response_model=Order, tags=["orders"], responses={401: {}, 404: {}, 422: {}})
def get_order(order_id: OrderId, user: User) -> Order:
    try:
        return Order(**service().get(str(order_id), user.sub))
    except OrderNotFound:
        raise ApiError(404, "not_found", f"order {order_id} not found") from None


@app.post("/orders/{orderId}/cancel", response_model=Order, tags=["orders"],
          responses={401: {}, 404: {}, 409: {"description": "order already confirmed or rejected"}, 422: {}})
def cancel_order(order_id: OrderId, user: User) -> Order:
    try:
        return Order(**service().cancel(str(order_id), user.sub))
    except OrderNotFound:
        raise ApiError(404, "not_found", f"order {order_id} not found") from None
    except InvalidTransition as exc:
        raise ApiError(409, "invalid_state", f"order is {exc.status} and can no longer be cancelled") from None


class PaymentAccepted(BaseModel):
    event_id: str
    event: str = Field(description="PaymentConfirmed or PaymentFailed, published through the outbox")


@app.post("/payments/webhook", status_code=202, response_model=PaymentAccepted, tags=["payments"],
          responses={401: {"description": "bad_signature, bad_timestamp or stale_timestamp"},
                     409: {"description": "replayed_event: this event_id was accepted before"},
                     422: {"description": "invalid body or headers, unknown_order or amount_mismatch"},
                     503: {"description": "database or Secrets Manager unavailable"}})
async def payment_webhook(
    request: Request,
    report: PaymentWebhookIn,
    signed: Annotated[str, Header(alias=SIGNATURE_HEADER, min_length=1, max_length=200), PlainText],
    timestamp: Annotated[str, Header(alias=TIMESTAMP_HEADER, min_length=1, max_length=20), PlainText],
) -> Any:
    """The payment provider reports a payment's outcome (orders/webhook.py: HMAC-SHA256 over "<timestamp>.<body>",
    a replay window and one acceptance per event id). Refusals are recorded and answered with a 4xx JSON body
    naming the problem."""
    body = await request.body()  # the bytes that were signed, not the parsed model

    def handle() -> PaymentAccepted:
        try:
            webhook.verify(signing_secret, timestamp, signed, body, time.time())
            env = service().accept_payment_report(report)
        except webhook.Rejection as rejection:
            service().record_webhook_rejection(rejection, body, report)
            log.warning("payment webhook refused", extra={"error": rejection.error, "event_id": report.event_id})
            raise ApiError(rejection.status, rejection.error, rejection.message) from None
        return PaymentAccepted(event_id=report.event_id, event=env.type)

    return await run_in_threadpool(handle)
