"""Regression (found by services/common/tests/test_fuzz_openapi.py): a line's product_id went unescaped into the URL
of orders' call to products' internal route. A control character made httpx refuse the URL (500); "/", "?", "#"
could address another route, e.g. "../../healthz" reached products' /healthz, whose body is no product (500).
Now the id is one escaped path segment: products answers 404 and the order is a 422 naming the line's field."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config.topology import Service
from tools.local.testkit import Api, UserSession, fields


@pytest.mark.parametrize("product_id", ["\x1f", "bad\nid", "../../healthz", "../../readyz", "x?y=1", "x#y", "a/b",
                                        "%2e%2e", ".."])
def test_odd_product_id_is_an_unknown_product(api: Api, new_user: Callable[[], UserSession], product_id: str) -> None:
    r = api.call("POST", Service.ORDERS, "/orders", new_user().order_headers(),
                 json={"lines": [{"product_id": product_id, "quantity": 1}]})
    assert r.status_code == 422, r.text
    assert fields(r) == ["lines[0].product_id"]


def test_escaped_id_still_finds_the_product(api: Api, new_user: Callable[[], UserSession],
                                            make_product: Callable[..., str]) -> None:
    pid = make_product(price_cents=250, stock=1)
    r = api.call("POST", Service.ORDERS, "/orders", new_user().order_headers(),
                 json={"lines": [{"product_id": pid, "quantity": 1}]})
    assert r.status_code == 201, r.text
    assert r.json()["total_cents"] == 250
