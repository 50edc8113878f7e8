"""Synchronous REST calls from orders to products, with timeouts and bounded retries with backoff.

The call goes to products' internal route with a Cognito client-credentials access token (scope products/read,
common/service_auth.py). A 401 from products drops the cached token and retries once with a new one; a 401 again
or a 403 raises ProductsAuthRejected (products does not accept this service: a configuration error, answered 502);
an unreachable products or token endpoint raises ProductsUnavailable (503).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from common.logging import current_correlation_id, trace_id_var
from common.service_auth import ClientCredentials, TokenRejected, TokenUnavailable

log = logging.getLogger("orders.products")
ATTEMPTS = 3
BACKOFF_SECONDS = 0.1


class ProductsUnavailable(RuntimeError):
    pass


class ProductsAuthRejected(RuntimeError):
    """Products (401/403) or the token endpoint refused this service's credentials."""


@dataclass(frozen=True)
class ProductInfo:
    product_id: str
    price_cents: int
    currency: str
    version: int


class ProductsClient:
    def __init__(self, base_url: str, tokens: ClientCredentials) -> None:
        self.tokens = tokens
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(5.0, connect=1.0),  # read: products answers from DynamoDB in ms; 5 s absorbs bursts
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    def get(self, product_id: str) -> ProductInfo | None:
        """The product if it is ACTIVE, None if it does not exist (404); ProductsUnavailable or
        ProductsAuthRejected otherwise."""
        headers = {"X-Correlation-Id": current_correlation_id()}
        if trace := trace_id_var.get():
            headers["X-Amzn-Trace-Id"] = trace
        last: str = ""
        renewed = False
        for attempt in range(ATTEMPTS):
            try:
                headers["Authorization"] = f"Bearer {self.tokens.token()}"
                # One path segment whatever the id holds: control characters, "/", "?", "#" and "%" are escaped
                # (unescaped, httpx refuses some as an invalid URL and others would address another route).
                resp = self._http.get(f"/internal/products/{quote(product_id, safe='')}", headers=headers)
            except TokenUnavailable as exc:
                last = str(exc)
            except TokenRejected as exc:
                log.error("token endpoint rejected this service's client", extra={"error": str(exc)})
                raise ProductsAuthRejected(str(exc)) from None
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if resp.status_code == 401 and not renewed:
                    # The token may have been revoked or signed with a rotated-out key: one retry with a new one.
                    self.tokens.invalidate()
                    renewed = True
                    last = "HTTP 401"
                    continue
                if resp.status_code in (401, 403):
                    log.error("products rejected this service's token",
                              extra={"product_id": product_id, "status": resp.status_code, "body": resp.text[:500]})
                    raise ProductsAuthRejected(f"products answered HTTP {resp.status_code}")
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
