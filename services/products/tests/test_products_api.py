from __future__ import annotations

from collections.abc import Callable

import pytest

from config.topology import Service
from tools.local.testkit import Api, UserSession, fields

P = Service.PRODUCTS


def test_crud_and_admin_only(api: Api, admin: dict[str, str], new_user: Callable[[], UserSession]) -> None:
    body = {"name": "Kettle", "description": "1.7 l", "price_cents": 3999, "currency": "EUR"}
    assert api.call("POST", P, "/products", json=body).status_code == 401
    assert api.call("POST", P, "/products", new_user().headers, json=body).status_code == 403
    r = api.call("POST", P, "/products", admin, json=body)
    assert r.status_code == 201
    product = r.json()
    assert product["status"] == "ACTIVE" and product["version"] == 1
    pid = product["product_id"]
    assert api.call("GET", P, f"/products/{pid}").json()["name"] == "Kettle"
    r = api.call("PUT", P, f"/products/{pid}", admin, json={**body, "price_cents": 4499})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["price_cents"] == 4499
    assert api.call("GET", P, f"/products/{pid}").json()["price_cents"] == 4499  # the read cache dropped its entry
    assert api.call("DELETE", P, f"/products/{pid}", new_user().headers).status_code == 403
    assert api.call("DELETE", P, f"/products/{pid}", admin).status_code == 204
    assert api.call("GET", P, f"/products/{pid}").status_code == 404
    assert api.call("DELETE", P, f"/products/{pid}", admin).status_code == 404
    assert api.call("PUT", P, f"/products/{pid}", admin, json=body).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"price_cents": 100}, "name"),
    ({"name": "", "price_cents": 100}, "name"),
    ({"name": "x" * 201, "price_cents": 100}, "name"),
    ({"name": "A", "description": "d" * 2001, "price_cents": 100}, "description"),
    ({"name": "A"}, "price_cents"),
    ({"name": "A", "price_cents": -1}, "price_cents"),
    ({"name": "A", "price_cents": "ten"}, "price_cents"),
    ({"name": "A", "price_cents": 100, "currency": "euro"}, "currency"),
    ({"name": "A", "price_cents": 100, "colour": "red"}, "colour"),
])
def test_bad_input_names_the_field(api: Api, admin: dict[str, str], body: dict[str, object], field: str) -> None:
    r = api.call("POST", P, "/products", admin, json=body)
    assert r.status_code == 422
    assert field in fields(r)


def test_malformed_json_and_bad_path(api: Api, admin: dict[str, str]) -> None:
    r = api.call("POST", P, "/products", {**admin, "Content-Type": "application/json"}, content=b"{nope")
    assert r.status_code == 422 and fields(r) == ["body"]
    assert "productId" in fields(api.call("GET", P, "/products/" + "x" * 65))


def test_pagination_with_opaque_cursor(api: Api, admin: dict[str, str]) -> None:
    created = {api.call("POST", P, "/products", admin, json={"name": f"Page {i}", "price_cents": i}).json()[
        "product_id"] for i in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["next"] = cursor
        page = api.call("GET", P, "/products", params=params).json()
        assert len(page["items"]) <= 2
        seen += [p["product_id"] for p in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert created <= set(seen)
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    assert fields(api.call("GET", P, "/products", params={"next": "garbage!"})) == ["next"]
    assert fields(api.call("GET", P, "/products", params={"limit": 0})) == ["limit"]
    assert fields(api.call("GET", P, "/products", params={"limit": "many"})) == ["limit"]


def test_invalid_tokens_are_refused(api: Api, admin: dict[str, str]) -> None:
    body = {"name": "A", "price_cents": 1}
    token = admin["Authorization"].split()[1]
    head, payload, sig = token.split(".")
    tampered = f"{head}.{payload}.{sig[:-4]}AAAA"
    for value in ("Bearer nonsense", f"Bearer {tampered}", f"Basic {token}"):
        r = api.call("POST", P, "/products", {"Authorization": value}, json=body)
        assert r.status_code == 401, value
        assert r.json()["error"] == "unauthorized"


def test_openapi_published(api: Api) -> None:
    spec = api.call("GET", P, "/openapi.json").json()
    assert "/products/{productId}" in spec["paths"]
