"""Request bodies and required headers of the orders API: the one definition the service validates with and API
Gateway's request models are derived from (cdk_constructs/api_models.py). Side-effect free: pydantic only."""

from __future__ import annotations

from typing import Annotated

from common.fields import RequestModel, line
from pydantic import BaseModel, Field

IDEMPOTENCY_KEY = "Idempotency-Key"


class OrderLineIn(RequestModel):
    product_id: Annotated[str, line(min_length=1, max_length=64)]
    quantity: int = Field(ge=1, le=1000)


class OrderIn(RequestModel):
    lines: list[OrderLineIn] = Field(min_length=1, max_length=20)


REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/orders"): OrderIn,
}
"""(method, route path) -> the model of its JSON body, for every route of this service that takes one."""
REQUIRED_HEADERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/orders"): (IDEMPOTENCY_KEY,),
}
"""Headers a route cannot do without; the edge refuses a request missing one before it reaches the service."""
