"""Local stand-in for a Cognito user pool's OAuth2 token endpoint (client-credentials grant only). LOCAL USE ONLY.

Why it exists: moto (server mode, 5.2.5) implements the Cognito IdP API and serves each pool's JWKS and OpenID
configuration, but not the hosted-UI domain's `/oauth2/token`, so the client-credentials grant cannot be had from it.
This endpoint fills that one gap for `make local`, `make e2e` and the services' tests; it is never part of a service
image (those are built from services/ only) and production uses Cognito's own endpoint.

It keeps no state of its own: every request is decided against moto's Cognito state over the AWS API, as Cognito
would decide it - the app client and its generated secret (DescribeUserPoolClient), the client-credentials flow and
the scopes allowed to it (AllowedOAuthFlows, AllowedOAuthFlowsUserPoolClient, AllowedOAuthScopes), the scopes the
pool's resource servers define (DescribeResourceServer), the access token validity. Tokens have the claims of a
Cognito client-credentials access token (sub = client_id, token_use = access, scope, iss = the pool) and are signed
with the key moto signs its own pool tokens with (shipped in the moto package), so the services verify them against
moto's JWKS URL exactly as they verify user tokens - no second key and no second JWKS.

    POST /oauth2/token   grant_type=client_credentials [&scope=a/b c/d]
                         client authentication: HTTP Basic (client_secret_basic) or client_id/client_secret in the body
Cognito finds the pool by its domain; one local endpoint serves every pool of moto and finds it by the client id.
Run by tools/local/local_platform.py as `uvicorn tools.local.local_token_endpoint:app` with MOTO_URL set.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import logging
import os
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import boto3
import jwt
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
log = logging.getLogger("local_token_endpoint")
REGION = os.environ.get("AWS_REGION", "us-east-1")  # the local platform passes its region
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


@functools.cache
def signing_key() -> tuple[str, Any]:
    """(kid, private key) moto signs its Cognito tokens with; its public half is what moto's JWKS URLs serve."""
    from moto.utilities.utils import load_resource

    jwk: dict[str, Any] = load_resource("cognitoidp/resources/jwks-private.json")
    return str(jwk["kid"]), RSAAlgorithm.from_jwk(json.dumps(jwk))


def sign(claims: dict[str, Any]) -> str:
    """An RS256 JWT signed with moto's Cognito key (local platform and tests only)."""
    kid, key = signing_key()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def issuer(user_pool_id: str) -> str:
    region = user_pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def access_token_claims(user_pool_id: str, client_id: str, scopes: list[str], expires_in: int) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": client_id, "token_use": "access", "scope": " ".join(scopes), "auth_time": now,
            "iss": issuer(user_pool_id), "exp": now + expires_in, "iat": now, "version": 2,
            "jti": str(uuid.uuid4()), "client_id": client_id}


class OAuthError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


@functools.cache
def _idp() -> Any:
    # moto's dummy keys, or the harness's own user's when the platform has moto enforce IAM (enforce_iam)
    return boto3.session.Session(region_name=REGION, aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                                 aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")).client(
        "cognito-idp", endpoint_url=os.environ["MOTO_URL"])


def _find_client(client_id: str) -> dict[str, Any]:
    idp = _idp()
    for pool in idp.list_user_pools(MaxResults=60)["UserPools"]:
        try:
            return dict(idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client_id)["UserPoolClient"])
        except idp.exceptions.ResourceNotFoundException:
            continue
    raise OAuthError(401, "invalid_client")


def _client_auth(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            cid, _, secret = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client") from None
        return unquote_plus(cid), unquote_plus(secret)
    if form.get("client_id") and form.get("client_secret"):
        return form["client_id"], form["client_secret"]
    raise OAuthError(401, "invalid_client")


def _access_token_seconds(client: dict[str, Any]) -> int:
    validity = client.get("AccessTokenValidity")
    if not validity:
        return 3600  # Cognito's default: 60 minutes
    unit = (client.get("TokenValidityUnits") or {}).get("AccessToken", "hours")
    return int(validity) * _UNIT_SECONDS[unit]


def issue(request: Request, form: dict[str, str]) -> dict[str, Any]:
    if form.get("grant_type") != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type")
    client_id, secret = _client_auth(request, form)
    client = _find_client(client_id)
    if not client.get("ClientSecret") or not hmac.compare_digest(str(client["ClientSecret"]), secret):
        raise OAuthError(401, "invalid_client")
    if not client.get("AllowedOAuthFlowsUserPoolClient") or "client_credentials" not in client.get(
            "AllowedOAuthFlows", []):
        raise OAuthError(400, "unauthorized_client")
    allowed = list(client.get("AllowedOAuthScopes", []))
    requested = form.get("scope", "").split() or allowed
    pool_id = str(client["UserPoolId"])
    defined: set[str] = set()
    idp = _idp()
    for rs in idp.list_resource_servers(UserPoolId=pool_id, MaxResults=50)["ResourceServers"]:
        defined |= {f"{rs['Identifier']}/{s['ScopeName']}" for s in rs.get("Scopes", [])}
    if not requested or any(s not in allowed or s not in defined for s in requested):
        raise OAuthError(400, "invalid_scope")
    expires_in = _access_token_seconds(client)
    token = sign(access_token_claims(pool_id, client_id, requested, expires_in))
    log.info("issued client_id=%s scope=%s", client_id, " ".join(requested))
    return {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}


async def token_endpoint(request: Request) -> JSONResponse:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        body = await run_in_threadpool(issue, request, form)
    except OAuthError as exc:
        return JSONResponse({"error": exc.error}, status_code=exc.status)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/oauth2/token", token_endpoint, methods=["POST"]), Route("/healthz", health)])
