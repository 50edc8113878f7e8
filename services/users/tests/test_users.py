from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from config.topology import Service
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, fields

USR = Service.USERS


def _email() -> str:
    return f"u-{uuid.uuid4().hex[:10]}@example.com"


@pytest.mark.parametrize(("body", "field"), [
    ({"password": "Passw0rd-1", "name": "N"}, "email"),
    ({"email": "not-an-email", "password": "Passw0rd-1", "name": "N"}, "email"),
    ({"email": "a@example.com", "name": "N"}, "password"),
    ({"email": "a@example.com", "password": "short", "name": "N"}, "password"),
    ({"email": "a@example.com", "password": "alllowercase1", "name": "N"}, "password"),  # pool policy (Cognito)
    ({"email": "a@example.com", "password": "Passw0rd-1"}, "name"),
    ({"email": "a@example.com", "password": "Passw0rd-1", "name": ""}, "name"),
    ({"email": "a@example.com", "password": "Passw0rd-1", "name": "N", "admin": True}, "admin"),
])
def test_register_bad_input_names_the_field(api: Api, body: dict[str, object], field: str) -> None:
    r = api.call("POST", USR, "/users/register", json=body)
    assert r.status_code == 422, r.text
    assert field in fields(r)


def test_register_login_profile(platform: LocalPlatform, api: Api) -> None:
    email, pw = _email(), "Passw0rd-ok"
    r = api.call("POST", USR, "/users/register", json={"email": email, "password": pw, "name": "Ann"})
    assert r.status_code == 201 and r.json()["confirmed"] is False
    assert api.call("POST", USR, "/users/register", json={"email": email, "password": pw, "name": "Ann"}
                    ).status_code == 409
    r = api.call("POST", USR, "/users/login", json={"email": email, "password": pw})
    assert r.status_code == 403 and r.json()["error"] == "user_not_confirmed"
    platform.client("cognito-idp").admin_confirm_sign_up(UserPoolId=platform.resources.user_pool_id, Username=email)
    assert api.call("POST", USR, "/users/login", json={"email": email, "password": "Wrong-pass1"}).status_code == 401
    assert api.call("POST", USR, "/users/login", json={"email": _email(), "password": pw}).status_code == 401
    assert fields(api.call("POST", USR, "/users/login", json={"email": email})) == ["password"]
    tokens = api.call("POST", USR, "/users/login", json={"email": email, "password": pw}).json()
    for tok in (tokens["access_token"], tokens["id_token"]):
        me = api.call("GET", USR, "/users/me", {"Authorization": f"Bearer {tok}"})
        assert me.status_code == 200 and me.json()["email"] == email and me.json()["name"] == "Ann"
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = api.call("PUT", USR, "/users/me", h, json={"name": "Ann B", "address": "1 Main St"})
    assert r.status_code == 200 and r.json()["name"] == "Ann B" and r.json()["address"] == "1 Main St"
    assert fields(api.call("PUT", USR, "/users/me", h, json={"name": ""})) == ["name"]
    assert fields(api.call("PUT", USR, "/users/me", h, json={"name": "x", "address": "a" * 501})) == ["address"]
    assert api.call("GET", USR, "/users/me").status_code == 401


def test_tokens_from_elsewhere_are_refused(platform: LocalPlatform, api: Api) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    good_claims = {"iss": platform.issuer, "sub": "x", "token_use": "access", "client_id": platform.resources.client_id,
                   "exp": now + 600, "iat": now}
    forged = jwt.encode(good_claims, key, algorithm="RS256", headers={"kid": "dummy"})
    assert api.call("GET", USR, "/users/me", {"Authorization": f"Bearer {forged}"}).status_code == 401
    unsigned = jwt.encode(good_claims, "", algorithm="none")
    assert api.call("GET", USR, "/users/me", {"Authorization": f"Bearer {unsigned}"}).status_code == 401
    # a genuine token of the pool but for another app client
    idp = platform.client("cognito-idp")
    other = idp.create_user_pool_client(UserPoolId=platform.resources.user_pool_id, ClientName="other",
                                        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    email = _email()
    platform.user_token(email)
    tok = idp.initiate_auth(ClientId=other, AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": email, "PASSWORD": "Passw0rd-local"}
                            )["AuthenticationResult"]["AccessToken"]
    r = api.call("GET", USR, "/users/me", {"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401 and "another app client" in r.json()["message"]


def test_confirm_refresh_and_sign_out(platform: LocalPlatform, api: Api) -> None:
    """The storefront's session: the emailed code confirms the account, the refresh token renews the access token,
    sign-out revokes the refresh token (GlobalSignOut) and may be repeated."""
    email, pw = _email(), "Passw0rd-ok"
    assert api.call("POST", USR, "/users/register", json={"email": email, "password": pw, "name": "Cy"}
                    ).status_code == 201
    assert fields(api.call("POST", USR, "/users/confirm", json={"email": email, "code": ""})) == ["code"]
    # An unknown address is answered as a wrong code would be: no account enumeration.
    unknown = api.call("POST", USR, "/users/confirm", json={"email": _email(), "code": "123456"})
    assert unknown.status_code == 422 and fields(unknown) == ["code"]
    # moto accepts any code (Cognito compares it with the one it emailed).
    r = api.call("POST", USR, "/users/confirm", json={"email": email, "code": "123456"})
    assert r.status_code == 200 and r.json() == {"email": email, "confirmed": True}
    tokens = api.call("POST", USR, "/users/login", json={"email": email, "password": pw}).json()
    assert tokens["refresh_token"]
    renewed = api.call("POST", USR, "/users/token", json={"refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200 and renewed.json()["refresh_token"] is None, renewed.text
    h = {"Authorization": f"Bearer {renewed.json()['access_token']}"}
    assert api.call("GET", USR, "/users/me", h).json()["email"] == email
    assert api.call("POST", USR, "/users/token", json={"refresh_token": "not-a-token"}).json()["error"] == \
        "invalid_refresh_token"
    assert api.call("POST", USR, "/users/logout").status_code == 401
    id_token = {"Authorization": f"Bearer {tokens['id_token']}"}
    assert api.call("POST", USR, "/users/logout", id_token).status_code == 401
    assert api.call("POST", USR, "/users/logout", h).status_code == 204
    after = api.call("POST", USR, "/users/token", json={"refresh_token": tokens["refresh_token"]})
    assert after.status_code == 401 and after.json()["error"] == "invalid_refresh_token"
    assert api.call("POST", USR, "/users/logout", h).status_code == 204


def test_answers_may_be_read_by_the_storefront_alone(platform: LocalPlatform, api: Api) -> None:
    """Every answer, errors included, names the storefront's origin for CORS (the local one stands for it)."""
    for r in (api.call("GET", Service.PRODUCTS, "/products"), api.call("GET", USR, "/users/me"),
              api.call("POST", USR, "/users/login", json={}), api.call("GET", Service.ORDERS, "/orders")):
        assert r.headers["access-control-allow-origin"] == platform.web_origin, r.request.url
        assert r.headers["vary"] == "Origin"
