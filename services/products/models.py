"""Request bodies of the products API: the one definition the service validates with and API Gateway's request
models are derived from (cdk_constructs/api_models.py). Side-effect free: pydantic only, no environment."""

from __future__ import annotations

from typing import Annotated

from common.fields import RequestModel, line, prose
from pydantic import BaseModel, Field


class ProductIn(RequestModel):
    """A product as an admin writes it: create (POST) and full replacement (PUT)."""

    name: Annotated[str, line(min_length=1, max_length=200)]
    description: Annotated[str, prose(max_length=2000)] = ""
    price_cents: int = Field(ge=0, le=100_000_000, description="Unit price in minor units (cents)")
    currency: str = Field(default="EUR", pattern="^[A-Z]{3}(?![\\s\\S])", description="ISO 4217 code")


REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/products"): ProductIn,
    ("PUT", "/products/{productId}"): ProductIn,
}
"""(method, route path) -> the model of its JSON body, for every route of this service that takes one."""
