"""The framework ceilings of `make bench-services`: each measured route again, synchronous, doing no I/O.

``orders`` answers POST /orders with the service's own authentication (the same ``User`` dependency and JWKS
verifier), the same body model (``OrderIn``), the same required header and the same response model as the real
route; ``products`` answers GET /products/{productId} with the same path parameter and response model. Both are
built by ``common.api.create_app`` (the services' middleware, error handlers and tracing) and are served by the same
uvicorn command as the API pod, with the API pod's environment (tools/bench/bench_services.py starts them). What the
real route does beyond this (the database, AWS, other services) is what the endpoint's ratio to its stub measures.

No `from __future__ import annotations`: FastAPI resolves the routes' annotations at runtime, and the models are
local names of the builder functions.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from common.api import create_app
from fastapi import Header


def _orders() -> Any:
    from orders.app import Order, OrderLine, User, settings
    from orders.models import IDEMPOTENCY_KEY, OrderIn

    app = create_app("orders", "Orders API (bench stub)", "framework ceiling", ready=lambda: True,
                     cors_origin=settings.cors_origin)
    now = datetime.now(UTC)

    @app.post("/orders", status_code=201, response_model=Order)
    def place_order(body: OrderIn, user: User,
                    idempotency_key: Annotated[str, Header(alias=IDEMPOTENCY_KEY, min_length=1, max_length=128)]
                    ) -> Order:
        lines = [OrderLine(product_id=ln.product_id, quantity=ln.quantity, unit_price_cents=100) for ln in body.lines]
        return Order(order_id="00000000-0000-4000-8000-000000000000", customer_id=user.sub, status="PENDING",
                     lines=lines, total_cents=100 * sum(ln.quantity for ln in body.lines), currency="USD",
                     reason=None, created_at=now, updated_at=now, shipping_address=body.shipping_address, revision=0)

    return app


def _products() -> Any:
    from products.app import Product, ProductId, settings

    app = create_app("products", "Products API (bench stub)", "framework ceiling", ready=lambda: True,
                     cors_origin=settings.cors_origin)
    stamp = datetime.now(UTC).isoformat()

    @app.get("/products/{productId}", response_model=Product)
    def get_product(product_id: ProductId) -> Product:
        return Product(product_id=product_id, name="Bench", description="", price_cents=100, currency="USD",
                       status="ACTIVE", version=1, created_at=stamp, updated_at=stamp)

    return app


def __getattr__(name: str) -> Any:
    # Built on first access: each stub process imports only its own service (its settings read its environment).
    if name == "orders":
        return _orders()
    if name == "products":
        return _products()
    raise AttributeError(name)
