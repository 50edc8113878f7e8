"""API Gateway's Cognito user pool authorizer, for the local user pool (moto's, or any pool with a JWKS URL)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from common.auth import bearer_token


@dataclass(frozen=True)
class CognitoPool:
    """The user pool behind the template's Cognito authorizer: the issuer its tokens carry and its JWKS."""

    issuer: str
    jwks_url: str


class Unauthorized(Exception):
    """The authorizer refuses the token: API Gateway answers 401 (UNAUTHORIZED)."""


class CognitoAuthorizer:
    def __init__(self, pool: CognitoPool) -> None:
        self.pool = pool
        self._keys = jwt.PyJWKClient(pool.jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def authorize(self, header: str | None, scopes: tuple[str, ...]) -> dict[str, Any]:
        """Claims of the token in the Authorization header, or :class:`Unauthorized`.

        With method scopes the token must be an access token whose ``scope`` claim holds one of them; without, an
        ID token. Either way: RS256 signature by a key of the pool's JWKS, the pool as issuer, not expired.
        """
        token = bearer_token(header)  # the forms the services accept too: one definition
        if token is None:
            raise Unauthorized("no token")
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["RS256"], issuer=self.pool.issuer,
                                                options={"require": ["exp", "iss", "token_use"], "verify_aud": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(str(exc)) from None
        if claims["exp"] <= time.time():
            raise Unauthorized("token expired")
        if scopes:
            if claims.get("token_use") != "access":
                raise Unauthorized("method has authorization scopes: an access token is required")
            granted = set(str(claims.get("scope", "")).split())
            if not granted & set(scopes):
                raise Unauthorized("token has none of the method's scopes")
        elif claims.get("token_use") != "id" or not claims.get("aud"):
            raise Unauthorized("method has no authorization scopes: an ID token is required")
        return claims
