"""Request bodies of the inventory API: the one definition the service validates with and API Gateway's request
models are derived from (cdk_constructs/api_models.py). Side-effect free: pydantic only, no environment."""

from __future__ import annotations

from typing import Annotated

from common.fields import RequestModel, line
from pydantic import BaseModel, Field, field_validator


class Adjustment(RequestModel):
    # `not: {enum: [0]}` puts the nonzero rule in the JSON Schema too, so the edge model enforces it as well.
    delta: int = Field(ge=-1_000_000, le=1_000_000, json_schema_extra={"not": {"enum": [0]}},
                       description="Units to add (positive) or remove (negative); not zero")
    reason: Annotated[str, line(min_length=1, max_length=200)] = "admin adjustment"

    @field_validator("delta")
    @classmethod
    def nonzero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("delta must not be zero")
        return v


REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/inventory/{productId}/adjust"): Adjustment,
}
"""(method, route path) -> the model of its JSON body, for every route of this service that takes one."""
