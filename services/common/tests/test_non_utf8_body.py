"""Regression (found by test_fuzz_openapi.py): a JSON body that is not valid UTF-8 got FastAPI's bare 400 with the
catch-all code {"error": "error"}; it is malformed JSON like any other: 422 validation_failed naming "body"."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config.topology import Service
from tools.local.testkit import Api, UserSession, fields

ROUTES = [
    (Service.PRODUCTS, "POST", "/products", "admin"),
    (Service.PRODUCTS, "PUT", "/products/x", "admin"),
    (Service.INVENTORY, "POST", "/inventory/x/adjust", "admin"),
    (Service.ORDERS, "POST", "/orders", "user"),
    (Service.USERS, "POST", "/users/register", None),
    (Service.USERS, "POST", "/users/login", None),
    (Service.USERS, "PUT", "/users/me", "user"),
]


@pytest.mark.parametrize(("service", "method", "path", "who"), ROUTES,
                         ids=[f"{s.value}-{m}-{p}" for s, m, p, _ in ROUTES])
@pytest.mark.parametrize("body", [b"\xff\xfe{", b'{"name": "\xe9"}'], ids=["garbage", "latin1"])
def test_non_utf8_json_body_is_422_naming_body(api: Api, admin: dict[str, str], new_user: Callable[[], UserSession],
                                              service: Service, method: str, path: str, who: str | None,
                                              body: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    if who == "admin":
        headers.update(admin)
    elif who == "user":
        headers.update(new_user().order_headers())
    r = api.call(method, service, path, headers, content=body)
    assert r.status_code == 422, r.text
    assert fields(r) == ["body"]
