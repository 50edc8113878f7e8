"""Inventory API: read stock (any signed-in user) and adjust it (admin). Reservations happen in the worker."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from common import logging as jlog
from common.api import ApiError, auth_dependencies
from common.auth import Principal, Verifier
from common.ddb_service import create_table_app
from common.fields import PlainText
from fastapi import Depends, Path
from pydantic import BaseModel

from inventory import settings as settings_mod
from inventory.models import Adjustment
from inventory.store import Conflict, InsufficientStock, InventoryStore, NotFound

SERVICE = "inventory"
jlog.configure(SERVICE)
settings = settings_mod.load()
store = InventoryStore(settings.table)


@cache
def verifier() -> Verifier:
    return Verifier(settings.jwks_url, settings.issuer, settings.client_id)


current_user, admin_user = auth_dependencies(verifier)
ProductId = Annotated[str, Path(alias="productId", min_length=1, max_length=64), PlainText]


class StockLevel(BaseModel):
    product_id: str
    available: int
    reserved: int


app = create_table_app(SERVICE, "Inventory API", "Stock levels. Reservations for orders are made asynchronously "
                       "from the inventory-reservations queue.", table=settings.table,
                       cors_origin=settings.cors_origin)


@app.get("/inventory/{productId}", response_model=StockLevel, tags=["inventory"], responses={401: {}, 404: {}})
def get_stock(product_id: ProductId, _: Annotated[Principal, Depends(current_user)]) -> StockLevel:
    s = store.get_stock(product_id)
    if s is None:
        raise ApiError(404, "not_found", f"no stock record for product {product_id}")
    return StockLevel(product_id=s.product_id, available=s.available, reserved=s.reserved)


@app.post("/inventory/{productId}/adjust", response_model=StockLevel, tags=["inventory"],
          responses={401: {}, 403: {}, 404: {}, 409: {}, 422: {}})
def adjust_stock(product_id: ProductId, body: Adjustment, _: Annotated[Principal, Depends(admin_user)]) -> StockLevel:
    try:
        s = store.adjust(product_id, body.delta, body.reason)
    except NotFound:
        raise ApiError(404, "not_found", f"no stock record for product {product_id}") from None
    except InsufficientStock as exc:
        raise ApiError(409, "insufficient_stock", str(exc)) from None
    except Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return StockLevel(product_id=s.product_id, available=s.available, reserved=s.reserved)
