"""The internal product lookup only answers callers holding a client-credentials token of an allowed service client
with the products/read scope, checked against the running products API.

Tokens come from the local client-credentials endpoint (tools/local/local_token_endpoint.py, decided against moto's
Cognito
state) wherever one can be had that way; the cases Cognito would never issue (expired, ID token, no scope) are signed
here with the same moto key, and the foreign-pool keys are a key pair made here.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from config.topology import RESOURCE_SERVER_SCOPES, SERVICE_CALLS, Service
from tools.local.local_platform import LocalPlatform
from tools.local.local_token_endpoint import access_token_claims, sign
from tools.local.testkit import Api

P = Service.PRODUCTS
SCOPE = "products/read"


def client_token(platform: LocalPlatform, client_id: str, secret: str, scope: str = SCOPE) -> str:
    r = httpx.post(platform.token_url, auth=(client_id, secret), data={"grant_type": "client_credentials",
                                                                        "scope": scope})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture(scope="module")
def orders_client(platform: LocalPlatform) -> tuple[str, str]:
    raw = platform.client("secretsmanager").get_secret_value(
        SecretId=platform.resources.service_secret_arns[Service.ORDERS])["SecretString"]
    doc = json.loads(raw)
    return str(doc["client_id"]), str(doc["client_secret"])


@pytest.fixture(scope="module")
def product_id(api: Api, admin: dict[str, str]) -> str:
    r = api.call("POST", P, "/products", admin, json={"name": "Internal", "price_cents": 1234})
    assert r.status_code == 201, r.text
    return str(r.json()["product_id"])


def lookup(api: Api, pid: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else None
    return api.call("GET", P, f"/internal/products/{pid}", headers)


def assert_error(resp: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = dict(resp.json())
    assert body["error"] == error and body["message"], body
    assert resp.headers["www-authenticate"].startswith("Bearer")
    return body


def test_scope_constant_matches_topology() -> None:
    from products import settings

    assert settings.READ_SCOPE == SCOPE == f"{P.value}/{RESOURCE_SERVER_SCOPES[P][0]}"
    assert SCOPE in SERVICE_CALLS[Service.ORDERS]


def test_orders_token_passes(platform: LocalPlatform, api: Api, orders_client: tuple[str, str],
                             product_id: str) -> None:
    token = client_token(platform, *orders_client)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["client_id"] == orders_client[0] and claims["scope"] == SCOPE and claims["token_use"] == "access"
    r = lookup(api, product_id, token)
    assert r.status_code == 200, r.text
    assert r.json()["price_cents"] == 1234
    assert lookup(api, "no-such-product", token).status_code == 404


def test_no_token_is_401(api: Api, product_id: str) -> None:
    assert_error(lookup(api, product_id, None), 401, "unauthorized")
    assert_error(lookup(api, product_id, "not-a-jwt"), 401, "unauthorized")
    r = api.call("GET", P, f"/internal/products/{product_id}", {"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(r, 401, "unauthorized")


def test_expired_token_is_401(platform: LocalPlatform, api: Api, orders_client: tuple[str, str],
                              product_id: str) -> None:
    claims = access_token_claims(platform.resources.user_pool_id, orders_client[0], [SCOPE], expires_in=3600)
    claims["iat"] = claims["auth_time"] = claims["exp"] - 3600 - 300
    claims["exp"] -= 3600 + 300  # expired five minutes ago (beyond the 30 s leeway)
    body = assert_error(lookup(api, product_id, sign(claims)), 401, "unauthorized")
    assert "expired" in body["message"]


def test_token_of_another_pool_is_401(platform: LocalPlatform, api: Api, product_id: str) -> None:
    # A real client-credentials token of another pool in moto: moto signs every pool with one key, so only the
    # issuer check stops it here.
    idp = platform.client("cognito-idp")
    other_pool = idp.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    platform.create_resource_servers(other_pool)
    cid, secret, _ = platform.add_service_client("other-pool-orders", (SCOPE,), user_pool_id=other_pool)
    token = client_token(platform, cid, secret)
    assert_error(lookup(api, product_id, token), 401, "unauthorized")

    # Another pool's own keys (key id unknown to our JWKS), with the other pool's issuer...
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = access_token_claims("us-east-1_Foreign1", cid, [SCOPE], expires_in=3600)
    forged = jwt.encode(claims, foreign, algorithm="RS256", headers={"kid": "foreign-key"})
    assert_error(lookup(api, product_id, forged), 401, "unauthorized")
    # ...and a forgery claiming our pool and the orders client, signed with a foreign key under our key id.
    orders_id = platform.resources.service_client_ids[Service.ORDERS]
    ours = access_token_claims(platform.resources.user_pool_id, orders_id, [SCOPE], expires_in=3600)
    kid = jwt.get_unverified_header(client_token(platform, cid, secret))["kid"]
    forged = jwt.encode(ours, foreign, algorithm="RS256", headers={"kid": kid})
    assert_error(lookup(api, product_id, forged), 401, "unauthorized")


def test_id_token_is_401(platform: LocalPlatform, api: Api, orders_client: tuple[str, str], product_id: str) -> None:
    claims = access_token_claims(platform.resources.user_pool_id, orders_client[0], [SCOPE], expires_in=3600)
    claims["token_use"] = "id"
    assert_error(lookup(api, product_id, sign(claims)), 401, "unauthorized")


@pytest.mark.parametrize("scope", ["", "products/write", "inventory/read", "products/readonly"])
def test_allowed_client_without_the_scope_is_403(platform: LocalPlatform, api: Api, orders_client: tuple[str, str],
                                                 product_id: str, scope: str) -> None:
    claims = access_token_claims(platform.resources.user_pool_id, orders_client[0], scope.split(), expires_in=3600)
    body = assert_error(lookup(api, product_id, sign(claims)), 403, "forbidden")
    assert SCOPE in body["message"]


def test_client_not_allowed_is_403(platform: LocalPlatform, api: Api, product_id: str) -> None:
    # A real service client of our pool, with the scope, that products was not configured to accept.
    cid, secret, _ = platform.add_service_client(f"intruder-{uuid.uuid4().hex[:6]}", (SCOPE,))
    assert cid not in platform.callers_of(P)
    body = assert_error(lookup(api, product_id, client_token(platform, cid, secret)), 403, "forbidden")
    assert cid in body["message"]
    # An end user's access token (web app client) is a valid pool token too, but not a service's.
    assert_error(lookup(api, product_id, platform.user_token(f"u-{uuid.uuid4().hex[:6]}@example.com")), 403,
                 "forbidden")


def test_token_endpoint_enforces_the_client_configuration(platform: LocalPlatform,
                                                          orders_client: tuple[str, str]) -> None:
    """The local endpoint decides like Cognito: bad secret, scope not allowed, wrong grant are refused."""
    cid, secret = orders_client
    grant = {"grant_type": "client_credentials"}
    assert httpx.post(platform.token_url, auth=(cid, "wrong"), data=grant).status_code == 401
    r = httpx.post(platform.token_url, auth=(cid, secret), data={**grant, "scope": "inventory/read"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = httpx.post(platform.token_url, auth=(cid, secret), data={"grant_type": "password"})
    assert r.json()["error"] == "unsupported_grant_type"
    r = httpx.post(platform.token_url, auth=(cid, secret), data=grant)  # no scope: all the client's scopes
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["scope"] == SCOPE
    assert 0 < r.json()["expires_in"] <= 86400
