"""Synchronous REST calls from orders to products, with timeouts and bounded retries with backoff."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx
from common.logging import current_correlation_id, trace_id_var

log = logging.getLogger("orders.products")
ATTEMPTS = 3
BACKOFF_SECONDS = 0.1


class ProductsUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class ProductInfo:
    product_id: str
    price_cents: int
    currency: str
    version: int


class ProductsClient:
    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(5.0, connect=1.0),  # read: products answers from DynamoDB in ms; 5 s absorbs bursts
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    def get(self, product_id: str) -> ProductInfo | None:
        """The product if it is ACTIVE, None if it does not exist (404); ProductsUnavailable otherwise."""
        headers = {"X-Correlation-Id": current_correlation_id()}
        if trace := trace_id_var.get():
            headers["X-Amzn-Trace-Id"] = trace
        last: str = ""
        for attempt in range(ATTEMPTS):
            try:
                resp = self._http.get(f"/products/{product_id}", headers=headers)
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if resp.status_code == 404:
                    return None
                if resp.status_code == 200:
                    body = resp.json()
                    return ProductInfo(body["product_id"], int(body["price_cents"]), body["currency"],
                                       int(body["version"]))
                last = f"HTTP {resp.status_code}"
                if resp.status_code < 500 and resp.status_code != 429:
                    break  # a client error will not go away by retrying
            if attempt + 1 < ATTEMPTS:
                time.sleep(BACKOFF_SECONDS * 2**attempt)
        log.warning("products unavailable", extra={"product_id": product_id, "error": last})
        raise ProductsUnavailable(last)
