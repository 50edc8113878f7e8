"""Request bodies of the users API: the one definition the service validates with and API Gateway's request models
are derived from (cdk_constructs/api_models.py). Side-effect free: pydantic only, no environment."""

from __future__ import annotations

from typing import Annotated

from common.fields import Email, RequestModel, line, prose
from pydantic import BaseModel

# Cognito checks the pool's password policy itself (and answers InvalidPasswordException, which the service maps to
# a 422 naming `password`); these bounds only keep absurd input away from it.
Password = Annotated[str, line(min_length=8, max_length=256)]


class Registration(RequestModel):
    email: Email
    password: Password
    name: Annotated[str, line(min_length=1, max_length=200)]


class Credentials(RequestModel):
    email: Email
    password: Annotated[str, line(min_length=1, max_length=256)]


class ProfileUpdate(RequestModel):
    name: Annotated[str, line(min_length=1, max_length=200)]
    address: Annotated[str, prose(max_length=500)] | None = None


REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/users/register"): Registration,
    ("POST", "/users/login"): Credentials,
    ("PUT", "/users/me"): ProfileUpdate,
}
"""(method, route path) -> the model of its JSON body, for every route of this service that takes one."""
