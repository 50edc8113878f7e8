"""Products API: the catalog (DynamoDB). Reads are public; writes need the Cognito `admin` group.

Every write commits the product item and its ProductCreated/ProductUpdated outbox record in one TransactWriteItems.

Internal route, for other services only (not routed through API Gateway, so not in config/topology.py ROUTES;
reached inside the cluster on the products Service):
  GET /internal/products/{productId} - the product if ACTIVE, else 404; orders validates products and prices with
  it. It needs a Cognito access token from the client-credentials grant (common/service_auth.py) of an app client
  listed in SERVICE_CLIENT_IDS carrying the `products/read` scope: no/invalid/expired/foreign-pool token -> 401,
  other client or missing scope -> 403.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from botocore.exceptions import ClientError
from common import aws
from common import logging as jlog
from common.api import ApiError, auth_dependencies, field_error
from common.auth import Principal, Verifier
from common.ddb import cancellation_codes, from_item, outbox_put, to_item, values
from common.ddb_service import create_table_app
from common.envelope import Envelope
from common.fields import PlainText
from common.service_auth import ServicePrincipal, ServiceTokenVerifier, service_caller
from contract import EventType
from fastapi import Depends, Path, Query, Response
from pydantic import BaseModel, Field

from products import settings as settings_mod
from products.availability import Availability, availability
from products.models import ProductIn
from products.read_cache import ReadCache

SERVICE = "products"
jlog.configure(SERVICE)
settings = settings_mod.load()
CATALOG = "catalog"
MAX_RETRIES = 3
# Public reads of one product: served from memory for at most this long (products/read_cache.py).
PUBLIC_READ_CACHE_SECONDS = 2.0


@cache
def verifier() -> Verifier:
    return Verifier(settings.jwks_url, settings.issuer, settings.client_id)


current_user, admin_user = auth_dependencies(verifier)
AdminUser = Annotated[Principal, Depends(admin_user)]


@cache
def service_verifier() -> ServiceTokenVerifier:
    return ServiceTokenVerifier(settings.jwks_url, settings.issuer, settings.service_client_ids)


ProductsReader = Annotated[ServicePrincipal, Depends(service_caller(service_verifier, settings_mod.READ_SCOPE))]
ProductId = Annotated[str, Path(alias="productId", min_length=1, max_length=64, description="Product id"), PlainText]


class Product(BaseModel):
    product_id: str
    name: str
    description: str
    price_cents: int
    currency: str
    status: str
    version: int
    created_at: str
    updated_at: str
    availability: Availability = Field(
        default=Availability.OUT_OF_STOCK,
        description="IN_STOCK, LOW_STOCK or OUT_OF_STOCK, from the inventory service's InventoryUpdated events")


class ProductPage(BaseModel):
    items: list[Product]
    next: str | None = Field(description="Opaque cursor for the next page; absent on the last page")


app = create_table_app(SERVICE, "Products API",
                       "Product catalog. GET is public; POST/PUT/DELETE require a token of the `admin` group.",
                       table=settings.table,
                       cors_origin=settings.cors_origin)


def _key(product_id: str) -> dict[str, Any]:
    return to_item({"pk": f"PRODUCT#{product_id}", "sk": "PRODUCT"})


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _product(item: dict[str, Any]) -> Product:
    d = from_item(item)
    return Product(**{k: v for k, v in d.items() if k in Product.model_fields},
                   availability=availability(int(d.get("stock_available", 0))))


def _event(event_type: str, p: Product) -> Envelope:
    return Envelope(
        type=event_type,
        source=SERVICE,
        data={
            "product_id": p.product_id,
            "name": p.name,
            "price_cents": p.price_cents,
            "currency": p.currency,
            "status": p.status,
            "product_version": p.version,
        },
    )


def _active(product_id: str) -> Product | None:
    p = _get(product_id)
    return p if p is not None and p.status == "ACTIVE" else None


public_reads: ReadCache[Product] = ReadCache(PUBLIC_READ_CACHE_SECONDS, max_entries=10_000)


def _get(product_id: str) -> Product | None:
    item = aws.client("dynamodb").get_item(TableName=settings.table, Key=_key(product_id), ConsistentRead=True)
    return _product(item["Item"]) if "Item" in item else None


@app.post("/products", status_code=201, response_model=Product, tags=["products"],
          responses={401: {}, 403: {}, 422: {}})
def create_product(body: ProductIn, _: AdminUser) -> Product:
    now = _now()
    p = Product(product_id=str(uuid.uuid4()), status="ACTIVE", version=1, created_at=now, updated_at=now,
                **body.model_dump())
    # availability is derived on read from stock_available, which only the availability consumer writes.
    item = {"pk": f"PRODUCT#{p.product_id}", "sk": "PRODUCT", "catalog": CATALOG,
            **p.model_dump(mode="json", exclude={"availability"})}
    aws.client("dynamodb").transact_write_items(
        TransactItems=[
            {"Put": {"TableName": settings.table, "Item": to_item(item),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            outbox_put(settings.table, _event(EventType.PRODUCT_CREATED, p)),
        ]
    )
    return p


def _write_version(current: Product, new: Product, discontinue: bool) -> bool:
    """Optimistic write: applies only if nobody changed the product since it was read. False on a lost race."""
    update = ("SET #n = :name, description = :desc, price_cents = :price, currency = :cur, #s = :status, "
              "version = :version, updated_at = :now")
    if discontinue:
        update += " REMOVE #c"  # the Catalog index is sparse: discontinued products drop out of listings
    try:
        aws.client("dynamodb").transact_write_items(
            TransactItems=[
                {"Update": {
                    "TableName": settings.table,
                    "Key": _key(current.product_id),
                    "UpdateExpression": update,
                    "ConditionExpression": "version = :expected AND #s = :active",
                    # name, status and catalog are DynamoDB reserved words
                    "ExpressionAttributeNames": {"#n": "name", "#s": "status",
                                                 **({"#c": "catalog"} if discontinue else {})},
                    "ExpressionAttributeValues": values(
                        name=new.name, desc=new.description, price=new.price_cents, cur=new.currency,
                        status=new.status, version=new.version, now=new.updated_at, expected=current.version,
                        active="ACTIVE",
                    ),
                }},
                outbox_put(settings.table, _event(EventType.PRODUCT_UPDATED, new)),
            ]
        )
    except ClientError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc) or "TransactionConflict" in cancellation_codes(exc):
            return False
        raise
    return True


def _change(product_id: str, body: ProductIn | None) -> Product:
    for _ in range(MAX_RETRIES):
        current = _get(product_id)
        if current is None or current.status != "ACTIVE":
            raise ApiError(404, "not_found", f"product {product_id} not found")
        changes: dict[str, Any] = body.model_dump() if body else {"status": "DISCONTINUED"}
        new = current.model_copy(update={**changes, "version": current.version + 1, "updated_at": _now()})
        if _write_version(current, new, discontinue=body is None):
            public_reads.drop(product_id)
            return new
    raise ApiError(409, "conflict", "product changed concurrently; retry")


@app.put("/products/{productId}", response_model=Product, tags=["products"],
         responses={401: {}, 403: {}, 404: {}, 409: {}, 422: {}})
def update_product(product_id: ProductId, body: ProductIn, _: AdminUser) -> Product:
    return _change(product_id, body)


@app.delete("/products/{productId}", status_code=204, tags=["products"], responses={401: {}, 403: {}, 404: {}})
def delete_product(product_id: ProductId, _: AdminUser) -> Response:
    """Soft delete: the product becomes DISCONTINUED (ProductUpdated), so pending orders of it are rejected."""
    _change(product_id, None)
    return Response(status_code=204)


@app.get("/products/{productId}", response_model=Product, tags=["products"], responses={404: {}})
def get_product(product_id: ProductId) -> Product:
    p = public_reads.get(product_id, _active)
    if p is None:
        raise ApiError(404, "not_found", f"product {product_id} not found")
    return p


@app.get("/internal/products/{productId}", response_model=Product, tags=["internal"],
         responses={401: {"description": "no, invalid, expired or foreign-pool service token"},
                    403: {"description": "service client not allowed, or token without products/read"},
                    404: {}})
def get_product_internal(product_id: ProductId, _: ProductsReader) -> Product:
    """Product lookup for other services (orders validates products and prices): a consistent read, never the
    public reads' cache. Not exposed by API Gateway."""
    p = _active(product_id)
    if p is None:
        raise ApiError(404, "not_found", f"product {product_id} not found")
    return p


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(from_item(key), separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, dict) or set(raw) != {"pk", "sk", "catalog", "product_id"}:
            raise ValueError("unexpected cursor shape")
        if not all(isinstance(v, str) for v in raw.values()):
            raise ValueError("unexpected cursor values")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise field_error("next", "invalid pagination cursor") from None
    return to_item(raw)


@app.get("/products", response_model=ProductPage, tags=["products"], responses={422: {}})
def list_products(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next: Annotated[str | None, Query(max_length=1024, description="Cursor from the previous page")] = None,
) -> ProductPage:
    kw: dict[str, Any] = {}
    if next:
        kw["ExclusiveStartKey"] = _decode_cursor(next)
    resp = aws.client("dynamodb").query(
        TableName=settings.table,
        IndexName="Catalog",
        KeyConditionExpression="#c = :c",
        ExpressionAttributeNames={"#c": "catalog"},
        ExpressionAttributeValues=values(c=CATALOG),
        Limit=limit,
        **kw,
    )
    last = resp.get("LastEvaluatedKey")
    return ProductPage(items=[_product(i) for i in resp.get("Items", [])], next=_encode_cursor(last) if last else None)
