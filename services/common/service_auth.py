"""Service-to-service authentication with Cognito client-credentials access tokens (the seed: "cognito ensures that
only allowed microservices could get connected to other one").

Caller side, `ClientCredentials`: the calling service has its own app client in the user pool (client id + secret
kept in Secrets Manager as {"client_id": ..., "client_secret": ...}). It asks the pool's token endpoint
(`https://<domain>.auth.<region>.amazoncognito.com/oauth2/token`) for an access token with the OAuth2
client-credentials grant and one resource-server scope, and reuses the token until shortly before it expires.

Callee side, `ServiceTokenVerifier` and the `service_caller` FastAPI dependency, checked on every internal route:
  * 401 - no bearer token, bad signature (not one of the pool's JWKS keys), other issuer (another pool), expired,
    or not an access token (`token_use` != "access");
  * 403 - a valid token of this pool, but its app client is not in the allowed service clients (`client_id`), or
    it lacks the route's scope (`scope` claim, space-separated).

No `from __future__ import annotations`: FastAPI resolves the dependency annotations of the closure in
`service_caller` at runtime (see common/api.py).
"""

import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from common import aws
from common.auth import AuthError, decode_pool_token

log = logging.getLogger("service_auth")

# A token is renewed this long before its `exp` (at most half its lifetime), so a request never leaves with a token
# that expires on the way or while the callee's clock is slightly ahead.
REFRESH_MARGIN_SECONDS = 60.0


# --- caller side ------------------------------------------------------------------------------------------------
class TokenUnavailable(RuntimeError):
    """The token endpoint could not be reached or failed (transport error, 5xx, 429): retry later (503)."""


class TokenRejected(RuntimeError):
    """The token endpoint refused this client (bad credentials, grant or scope not allowed): a configuration error."""


@dataclass(frozen=True)
class ClientSecret:
    client_id: str
    client_secret: str


def secret_from_secrets_manager(secret_arn: str) -> Callable[[], ClientSecret]:
    """Loader of the app client's credentials from a Secrets Manager secret {"client_id", "client_secret"}."""

    def load() -> ClientSecret:
        raw = aws.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        doc = json.loads(raw)
        return ClientSecret(client_id=str(doc["client_id"]), client_secret=str(doc["client_secret"]))

    return load


class ClientCredentials:
    """Access tokens from the OAuth2 client-credentials grant, cached until REFRESH_MARGIN_SECONDS before expiry.

    Thread-safe (sync FastAPI routes run in a thread pool): one request fetches, the others wait for its token.
    The client secret is read once and read again only if the token endpoint rejects it (the secret was rotated).
    """

    def __init__(
        self,
        token_url: str,
        scope: str,
        credentials: Callable[[], ClientSecret],
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.scope = scope
        self._load_credentials = credentials
        self._http = http or httpx.Client(timeout=httpx.Timeout(5.0, connect=1.0))
        self._clock = clock
        self._lock = threading.Lock()
        self._secret: ClientSecret | None = None
        self._token: str | None = None
        self._renew_at = 0.0

    def credentials(self) -> ClientSecret:
        """The app client's id and secret (read from the store on first use; call at startup to fail early)."""
        if self._secret is None:
            try:
                self._secret = self._load_credentials()
            except Exception as exc:  # store unreachable, secret missing or malformed: never a bare 500
                raise TokenUnavailable(f"cannot read the client secret: {exc!r}") from None
        return self._secret

    def token(self) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            try:
                self._fetch()
            except TokenRejected:
                # The secret may have been rotated since we read it: read it again and retry once.
                self._secret = None
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the callee rejected it, e.g. after a signing-key rotation)."""
        with self._lock:
            self._token = None

    def _fetch(self) -> None:
        secret = self.credentials()
        started = self._clock()
        try:
            resp = self._http.post(
                self.token_url,
                auth=(secret.client_id, secret.client_secret),  # client_secret_basic, as Cognito documents
                data={"grant_type": "client_credentials", "scope": self.scope},
                headers={"Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            raise TokenUnavailable(f"token endpoint unreachable: {exc!r}") from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TokenUnavailable(f"token endpoint answered HTTP {resp.status_code}")
        try:
            body: dict[str, Any] = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200:
            raise TokenRejected(f"token endpoint answered HTTP {resp.status_code}: {body.get('error', resp.text)}")
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not isinstance(expires_in, int | float) or expires_in <= 0:
            raise TokenUnavailable("token endpoint answered without access_token/expires_in")
        self._token = token
        self._renew_at = started + expires_in - min(REFRESH_MARGIN_SECONDS, expires_in / 2)
        log.info("service token obtained", extra={"scope": self.scope, "expires_in": expires_in})


# --- callee side ------------------------------------------------------------------------------------------------
class ServiceForbidden(Exception):
    """A valid token of this pool that is not allowed here (app client not allowed, or scope missing)."""


@dataclass(frozen=True)
class ServicePrincipal:
    client_id: str
    scopes: frozenset[str]


class ServiceTokenVerifier:
    """Checks a pool's client-credentials access tokens: signature (JWKS), issuer, expiry, token_use, client, scope."""

    def __init__(self, jwks_url: str, issuer: str, allowed_client_ids: Iterable[str]) -> None:
        self.issuer = issuer
        self.allowed_client_ids = frozenset(allowed_client_ids)
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)

    def verify(self, token: str, required_scope: str) -> ServicePrincipal:
        claims = decode_pool_token(self._jwks, token, self.issuer, ("exp", "iss", "token_use", "client_id"))
        if claims.get("token_use") != "access":
            raise AuthError("an access token is required")
        client_id = str(claims["client_id"])
        if client_id not in self.allowed_client_ids:
            raise ServiceForbidden(f"app client {client_id} is not allowed to call this service")
        scopes = frozenset(str(claims.get("scope") or "").split())
        if required_scope not in scopes:
            raise ServiceForbidden(f"scope {required_scope} required")
        return ServicePrincipal(client_id=client_id, scopes=scopes)


_service_bearer = HTTPBearer(auto_error=False, scheme_name="ServiceToken",
                             description="Cognito access token from the client-credentials grant of a service client")


def service_caller(
    verifier: Callable[[], ServiceTokenVerifier], scope: str
) -> Callable[..., Awaitable[ServicePrincipal]]:
    """FastAPI dependency: the calling service, or 401/403 JSON errors (with RFC 6750 WWW-Authenticate)."""

    async def caller(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_service_bearer)],
    ) -> ServicePrincipal:
        if creds is None or creds.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        try:
            # JWKS fetch is blocking I/O (first call, key rotation): keep it off the event loop.
            return await run_in_threadpool(verifier().verify, creds.credentials, scope)
        except AuthError as exc:
            log.warning("service token rejected", extra={"status": 401, "reason": str(exc)})
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        except ServiceForbidden as exc:
            log.warning("service token rejected", extra={"status": 403, "reason": str(exc)})
            raise HTTPException(403, str(exc), headers={
                "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'}) from None

    return caller
