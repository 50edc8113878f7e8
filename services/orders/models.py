"""Request bodies and required headers of the orders API: the one definition the service validates with and API
Gateway's request models are derived from (cdk_constructs/api_models.py). Side-effect free: pydantic only."""

from __future__ import annotations

from typing import Annotated

from common.fields import RequestModel, line, prose
from pydantic import BaseModel, Field

IDEMPOTENCY_KEY = "Idempotency-Key"


class OrderLineIn(RequestModel):
    product_id: Annotated[str, line(min_length=1, max_length=64)]
    quantity: int = Field(ge=1, le=1000)


ShippingAddress = Annotated[str, prose(min_length=1, max_length=500)]


class OrderIn(RequestModel):
    lines: list[OrderLineIn] = Field(min_length=1, max_length=20)
    shipping_address: ShippingAddress | None = None


class OrderChangeIn(RequestModel):
    """A change of an open (unpaid) order: all of its lines, which replace the order's, a new shipping address, or
    both (the service refuses a body with neither, naming ``lines``)."""

    lines: list[OrderLineIn] | None = Field(default=None, min_length=1, max_length=20)
    shipping_address: ShippingAddress | None = None


REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/orders"): OrderIn,
    ("PUT", "/orders/{orderId}"): OrderChangeIn,
}
"""(method, route path) -> the model of its JSON body, for every route of this service that takes one."""
REQUIRED_HEADERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/orders"): (IDEMPOTENCY_KEY,),
    ("PUT", "/orders/{orderId}"): (IDEMPOTENCY_KEY,),
}
"""Headers a route cannot do without; the edge refuses a request missing one before it reaches the service."""
