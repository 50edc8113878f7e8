"""Users API: registration and sign-in through Cognito, profiles in DynamoDB.

Registration signs the user up in Cognito (public app client, no secret), then writes the profile item and its
UserRegistered outbox record in one TransactWriteItems. Cognito and DynamoDB cannot share a transaction, so the
profile write is idempotent (keyed by the Cognito `sub`) and is repeated at sign-in: if it failed at registration,
the first login creates the profile and publishes UserRegistered exactly once.

Confirmation: the pool verifies the email address (AutoVerifiedAttributes=email), so a new user is UNCONFIRMED
until they follow the code Cognito sends; login answers 403 `user_not_confirmed` until then. This service never
confirms users itself (that would need admin rights on the pool); the local platform's tests confirm with
AdminConfirmSignUp, standing in for the user following the email.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from botocore.exceptions import ClientError
from common import aws, ddb
from common import logging as jlog
from common.api import ApiError, auth_dependencies, field_error
from common.auth import AuthError, Principal, Verifier
from common.ddb import from_item, to_item, values
from common.ddb_service import create_table_app
from common.envelope import Envelope
from contract import EventType
from fastapi import Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from users import preferences
from users import settings as settings_mod
from users.models import (
    Confirmation,
    Credentials,
    Notifications,
    PreferencesUpdate,
    ProfileUpdate,
    Registration,
    TokenRefresh,
)

SERVICE = "users"
jlog.configure(SERVICE)
settings = settings_mod.load()


@cache
def verifier() -> Verifier:
    return Verifier(settings.jwks_url, settings.issuer, settings.client_id)


current_user, _admin = auth_dependencies(verifier)
User = Annotated[Principal, Depends(current_user)]


class Profile(BaseModel):
    user_id: str
    email: str
    name: str
    address: str | None = None
    created_at: str
    updated_at: str


class Preferences(BaseModel):
    language: str = Field(description="BCP-47 tag")
    currency: str = Field(description="ISO 4217 code")
    notifications: Notifications
    version: int = Field(description="0 until the user first changes a preference; one more per change")
    updated_at: str | None = None


class Registered(BaseModel):
    user_id: str
    email: str
    confirmed: bool = Field(description="False until the user confirms the code Cognito emailed")


class Tokens(BaseModel):
    access_token: str
    id_token: str
    refresh_token: str | None = Field(description="From sign-in only; a refresh answers without one")
    expires_in: int = Field(description="Seconds until the access and ID tokens expire")
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


class Confirmed(BaseModel):
    email: str
    confirmed: bool


app = create_table_app(SERVICE, "Users API",
                       "Registration and sign-in (Cognito), the signed-in user's profile and preferences.",
                       table=settings.table,
                       cors_origin=settings.cors_origin)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _key(sub: str) -> dict[str, Any]:
    return to_item({"pk": f"USER#{sub}", "sk": "PROFILE"})


def _ensure_profile(sub: str, email: str, name: str) -> None:
    """Profile + UserRegistered in one transaction, once per user (the condition makes repeats no-ops)."""
    now = _now()
    event = Envelope(type=EventType.USER_REGISTERED, source=SERVICE,
                     data={"user_id": sub, "email": email, "name": name})
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=[
            {"Put": {"TableName": settings.table, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": to_item({"pk": f"USER#{sub}", "sk": "PROFILE", "user_id": sub, "email": email,
                                      "name": name, "created_at": now, "updated_at": now})}},
            ddb.outbox_put(settings.table, event),
        ])
    except ClientError as exc:
        if ddb.cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:
            return  # profile exists: registered before
        raise


def _cognito_error(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@app.post("/users/register", status_code=201, response_model=Registered, tags=["users"],
          responses={409: {"description": "email already registered"}, 422: {}})
def register(body: Registration) -> Registered:
    idp = aws.client("cognito-idp")
    try:
        resp = idp.sign_up(ClientId=settings.client_id, Username=body.email, Password=body.password,
                           UserAttributes=[{"Name": "email", "Value": body.email},
                                           {"Name": "name", "Value": body.name}])
    except ClientError as exc:
        code = _cognito_error(exc)
        if code == "UsernameExistsException":
            raise ApiError(409, "already_registered", "an account with this email exists") from None
        if code == "InvalidPasswordException":
            raise field_error("password", exc.response["Error"].get("Message", "password does not meet the policy")
                              ) from None
        if code == "InvalidParameterException":
            raise field_error("email", exc.response["Error"].get("Message", "invalid")) from None
        raise
    sub = str(resp["UserSub"])
    _ensure_profile(sub, body.email, body.name)
    return Registered(user_id=sub, email=body.email, confirmed=bool(resp.get("UserConfirmed")))


@app.post("/users/login", response_model=Tokens, tags=["users"],
          responses={401: {"description": "wrong email or password"}, 403: {"description": "not confirmed"}, 422: {}})
def login(body: Credentials) -> Tokens:
    idp = aws.client("cognito-idp")
    try:
        resp = idp.initiate_auth(ClientId=settings.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": body.email, "PASSWORD": body.password})
    except ClientError as exc:
        code = _cognito_error(exc)
        if code in ("NotAuthorizedException", "UserNotFoundException"):
            # Same answer for both, so the endpoint does not reveal which emails are registered.
            raise ApiError(401, "invalid_credentials", "wrong email or password") from None
        if code == "UserNotConfirmedException":
            raise ApiError(403, "user_not_confirmed", "confirm the code sent to your email first") from None
        raise
    result = resp.get("AuthenticationResult")
    if not result:  # no route takes a second factor: the pool's MFA is off so that it issues no challenge
        raise ApiError(401, "challenge_required", f"sign-in needs challenge {resp.get('ChallengeName')}")
    try:
        claims = verifier().verify(result["IdToken"])
    except AuthError as exc:
        raise ApiError(502, "bad_token", f"Cognito returned a token that does not verify: {exc}") from None
    # Repair path for a registration whose profile write failed after sign-up (see module docstring).
    if not _profile(claims.sub):
        name = claims.username or body.email
        _ensure_profile(claims.sub, str(claims.email or body.email), name)
    return Tokens(access_token=result["AccessToken"], id_token=result["IdToken"],
                  refresh_token=result.get("RefreshToken"), expires_in=int(result.get("ExpiresIn", 3600)))


@app.post("/users/confirm", response_model=Confirmed, tags=["users"],
          responses={409: {"description": "already confirmed"}, 422: {"description": "wrong or expired code"},
                     429: {"description": "too many attempts"}})
def confirm(body: Confirmation) -> Confirmed:
    """Confirm a new account with the code Cognito emailed (ConfirmSignUp); sign-in works from then on."""
    try:
        aws.client("cognito-idp").confirm_sign_up(ClientId=settings.client_id, Username=body.email,
                                                  ConfirmationCode=body.code)
    except ClientError as exc:
        code = _cognito_error(exc)
        # An unknown address gets the wrong code's answer, so the endpoint does not reveal which emails exist.
        # InvalidParameterException: a code Cognito's own pattern refuses (e.g. with a space).
        if code in ("CodeMismatchException", "UserNotFoundException", "InvalidParameterException"):
            raise field_error("code", "this code does not match; check the email we sent") from None
        if code == "ExpiredCodeException":
            raise field_error("code", "this code has expired") from None
        if code == "NotAuthorizedException":
            raise ApiError(409, "already_confirmed", "this account is confirmed already; sign in") from None
        if code == "AliasExistsException":
            raise ApiError(409, "already_registered", "another account already uses this email") from None
        if code in ("LimitExceededException", "TooManyFailedAttemptsException"):
            raise ApiError(429, "too_many_attempts", "too many attempts; wait a while and try again") from None
        raise
    return Confirmed(email=body.email, confirmed=True)


@app.post("/users/token", response_model=Tokens, tags=["users"],
          responses={401: {"description": "refresh token expired, revoked or unknown"}, 422: {}})
def refresh(body: TokenRefresh) -> Tokens:
    """New access and ID tokens for a refresh token from sign-in (REFRESH_TOKEN_AUTH); the refresh token stays."""
    try:
        resp = aws.client("cognito-idp").initiate_auth(ClientId=settings.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                                       AuthParameters={"REFRESH_TOKEN": body.refresh_token})
    except ClientError as exc:
        if _cognito_error(exc) in ("NotAuthorizedException", "UserNotFoundException", "ResourceNotFoundException",
                                   "InvalidParameterException"):
            raise ApiError(401, "invalid_refresh_token", "sign in again") from None
        raise
    result = resp["AuthenticationResult"]
    return Tokens(access_token=result["AccessToken"], id_token=result["IdToken"], refresh_token=None,
                  expires_in=int(result.get("ExpiresIn", 3600)))


_access_token = HTTPBearer(auto_error=False, description="The access token to sign out with")


@app.post("/users/logout", status_code=204, tags=["users"], responses={401: {}})
def logout(user: User, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_access_token)]) -> Response:
    """Sign out: Cognito revokes every refresh token of the user (GlobalSignOut), so no session of theirs can get
    new tokens; access tokens already issued stay valid at the API until they expire (the edge and the services
    check signatures, not revocations). Signing out twice is not an error."""
    if user.token_use != "access" or creds is None:  # noqa: S105 - the token type, not a secret
        raise ApiError(401, "unauthorized", "sign out with the access token")
    try:
        aws.client("cognito-idp").global_sign_out(AccessToken=creds.credentials)
    except ClientError as exc:
        if _cognito_error(exc) != "NotAuthorizedException":  # revoked already: signed out before
            raise
    return Response(status_code=204)


def _profile(sub: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb").get_item(TableName=settings.table, Key=_key(sub), ConsistentRead=True)
    return from_item(item["Item"]) if "Item" in item else None


@app.get("/users/me", response_model=Profile, tags=["users"], responses={401: {}, 404: {}})
def get_me(user: User) -> Profile:
    p = _profile(user.sub)
    if p is None:
        raise ApiError(404, "not_found", "no profile for this user")
    return Profile(**{k: v for k, v in p.items() if k in Profile.model_fields})


@app.put("/users/me", response_model=Profile, tags=["users"], responses={401: {}, 404: {}, 422: {}})
def put_me(body: ProfileUpdate, user: User) -> Profile:
    expr = "SET #n = :name, updated_at = :now" + (", address = :addr" if body.address is not None else "")
    if body.address is None:
        expr += " REMOVE address"
    vals = {"name": body.name, "now": _now(), **({"addr": body.address} if body.address is not None else {})}
    try:
        resp = aws.client("dynamodb").update_item(
            TableName=settings.table, Key=_key(user.sub), UpdateExpression=expr,
            ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues=values(**vals), ReturnValues="ALL_NEW")
    except ClientError as exc:
        if ddb.is_conditional_failure(exc):
            raise ApiError(404, "not_found", "no profile for this user") from None
        raise
    p = from_item(resp["Attributes"])
    return Profile(**{k: v for k, v in p.items() if k in Profile.model_fields})


def _preferences(p: preferences.Preferences) -> Preferences:
    return Preferences(**p.values, version=p.version, updated_at=p.updated_at)


@app.get("/users/me/preferences", response_model=Preferences, tags=["users"], responses={401: {}, 404: {}})
def get_preferences(user: User) -> Preferences:
    try:
        return _preferences(preferences.load(settings.table, user.sub))
    except preferences.ProfileMissing:
        raise ApiError(404, "not_found", "no profile for this user") from None


@app.put("/users/me/preferences", response_model=Preferences, tags=["users"],
         responses={401: {}, 404: {}, 409: {"description": "changed concurrently; read and try again"}, 422: {}})
def put_preferences(body: PreferencesUpdate, user: User) -> Preferences:
    """Replace the user's preferences; when they differ from those stored, UserPreferencesChanged is published."""
    try:
        stored, _ = preferences.update(settings.table, user.sub, body.model_dump())
    except preferences.ProfileMissing:
        raise ApiError(404, "not_found", "no profile for this user") from None
    except preferences.ConcurrentChange:
        raise ApiError(409, "conflict", "preferences changed concurrently; read them and try again") from None
    return _preferences(stored)
