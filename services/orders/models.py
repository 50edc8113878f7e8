"""Request bodies and required headers of the orders API: the one definition the service validates with and API
Gateway's request models are derived from (cdk_constructs/api_models.py). Side-effect free: pydantic only."""

from __future__ import annotations

from typing import Annotated, Literal

from common.fields import CallbackModel, RequestModel, line, prose
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


# The payment provider's webhook: the signature over "<timestamp>.<raw body>" and the Unix time it was made at.
SIGNATURE_HEADER = "Webhook-Signature"
TIMESTAMP_HEADER = "Webhook-Timestamp"


class PaymentWebhookIn(CallbackModel):
    """One payment outcome as the provider reports it. Only what the order needs: never a card number, expiry,
    security code or cardholder name (docs/security.md, "Payment data"); other fields the provider sends are
    ignored."""

    event_id: Annotated[str, line(min_length=1, max_length=128)] = Field(
        description="The provider's id of this notification: a second request with it is a replay")
    type: Literal["payment.succeeded", "payment.failed"]
    occurred_at: int = Field(ge=0, le=32_503_680_000, description="When the outcome happened (Unix seconds)")
    order_id: Annotated[str, line(min_length=1, max_length=64)]
    payment_id: Annotated[str, line(min_length=1, max_length=128)] = Field(
        description="The provider's reference of the payment")
    amount_cents: int = Field(ge=0, le=100_000_000_000)
    currency: str = Field(pattern="^[A-Z]{3}(?![\\s\\S])")
    method_type: Literal["card", "bank_transfer", "wallet", "direct_debit", "other"]
    failure_reason: Annotated[str, line(min_length=1, max_length=200)] | None = Field(
        default=None, description="Why a payment failed (payment.failed only)")
    # Cardholder data (the primary account number, cardholder name, expiry, the card's security code) must never
    # reach the platform (docs/security.md, "Payment data"): a report carrying one of these fields is refused, naming
    # it (422 here, 400 at the edge, whose model types them null), where any other field the provider adds is ignored.
    card_number: None = Field(default=None, description="Never accepted: cardholder data")
    pan: None = Field(default=None, description="Never accepted: cardholder data")
    cardholder_name: None = Field(default=None, description="Never accepted: cardholder data")
    expiry: None = Field(default=None, description="Never accepted: cardholder data")
    cvv: None = Field(default=None, description="Never accepted: sensitive authentication data")
    cvc: None = Field(default=None, description="Never accepted: sensitive authentication data")


REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/orders"): OrderIn,
    ("PUT", "/orders/{orderId}"): OrderChangeIn,
    ("POST", "/payments/webhook"): PaymentWebhookIn,
}
"""(method, route path) -> the model of its JSON body, for every route of this service that takes one."""
REQUIRED_HEADERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/orders"): (IDEMPOTENCY_KEY,),
    ("PUT", "/orders/{orderId}"): (IDEMPOTENCY_KEY,),
    ("POST", "/payments/webhook"): (SIGNATURE_HEADER, TIMESTAMP_HEADER),
}
"""Headers a route cannot do without; the edge refuses a request missing one before it reaches the service."""
