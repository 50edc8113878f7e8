"""Cognito JWT verification against the user pool's JWKS.

API Gateway's Cognito authorizer already checks tokens at the edge; the services check again (defence in depth:
the NLB is internal but a compromised pod must not be able to call another service as any user). Checked:
RS256 signature with a key from COGNITO_JWKS_URL, issuer == COGNITO_ISSUER, expiry, token_use, and the app client
(`client_id` claim of access tokens, `aud` of ID tokens) == COGNITO_CLIENT_ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

ADMIN_GROUP = "admin"


class AuthError(Exception):
    """The token is missing, malformed, expired or not issued for this platform."""


def bearer_token(header: str | None) -> str | None:
    """The token of an Authorization header, in the forms API Gateway's Cognito authorizer takes: ``Bearer <token>``
    (the scheme in any case) or the token alone. None when the header is absent or blank.

    The one definition of the accepted forms: the services' auth dependency (common/api.py) and the local edge's
    authorizer (tools/local/local_edge/authorizer.py) both call it, so a request the edge lets through is never
    refused behind it for the form of its header (services/common/tests/test_raw_http_fuzz.py sends each form
    through the edge and to each service).
    """
    if header is None:
        return None
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


@dataclass(frozen=True)
class Principal:
    sub: str
    username: str | None
    email: str | None
    groups: tuple[str, ...]
    token_use: str

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def decode_pool_token(jwks: jwt.PyJWKClient, token: str, issuer: str, required: tuple[str, ...]) -> dict[str, Any]:
    """Claims of a Cognito token after checking its RS256 signature against the pool's keys, its issuer, expiry (30 s
    leeway) and that ``required`` claims are present; :class:`AuthError` otherwise."""
    try:
        key = jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer,
                                            options={"require": list(required), "verify_aud": False}, leeway=30)
    except jwt.PyJWKClientConnectionError as exc:
        raise AuthError(f"cannot fetch signing keys: {exc}") from None
    except jwt.PyJWTError as exc:
        raise AuthError(str(exc)) from None
    return claims


class Verifier:
    def __init__(self, jwks_url: str, issuer: str, client_id: str) -> None:
        self.issuer = issuer
        self.client_id = client_id
        # Keys are cached; an unknown `kid` (key rotation) triggers one refetch inside PyJWKClient.
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)

    def verify(self, token: str) -> Principal:
        claims = decode_pool_token(self._jwks, token, self.issuer, ("exp", "iss", "sub", "token_use"))
        token_use = str(claims.get("token_use"))
        # Access tokens name the app client in `client_id`, ID tokens in `aud`.
        client_claim = {"access": "client_id", "id": "aud"}.get(token_use)
        if client_claim is None:
            raise AuthError("token_use must be access or id")
        if claims.get(client_claim) != self.client_id:
            raise AuthError("token was issued to another app client")
        groups = claims.get("cognito:groups") or []
        return Principal(
            sub=str(claims["sub"]),
            username=claims.get("username") or claims.get("cognito:username"),
            email=claims.get("email"),
            groups=tuple(str(g) for g in groups),
            token_use=str(token_use),
        )
