"""Request bodies of the users API: the one definition the service validates with and API Gateway's request models
are derived from (cdk_constructs/api_models.py). Side-effect free: pydantic only, no environment."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from common.fields import Email, RequestModel, line, prose
from pydantic import BaseModel, Field

# Cognito checks the pool's password policy itself (and answers InvalidPasswordException, which the service maps to
# a 422 naming `password`); these bounds only keep absurd input away from it.
Password = Annotated[str, line(min_length=8, max_length=256)]

# The languages a user may choose (BCP-47 tags). Notifications are written in the user's language where a
# translation exists (users/messages.py: the tag, else its primary language), else in English.
Language = Literal["en", "en-GB", "en-US", "de", "de-AT", "de-CH", "de-DE", "es", "es-ES", "es-MX", "fr", "fr-FR",
                   "it", "nl", "pt-BR", "pt-PT"]
# Display currencies (ISO 4217). Orders are charged in the currency of their products' prices.
Currency = Literal["EUR", "USD", "GBP", "CHF", "SEK", "DKK", "NOK", "PLN", "CZK", "MXN"]
SUPPORTED_LANGUAGES: tuple[str, ...] = get_args(Language)
SUPPORTED_CURRENCIES: tuple[str, ...] = get_args(Currency)


class Registration(RequestModel):
    email: Email
    password: Password
    name: Annotated[str, line(min_length=1, max_length=200)]


class Credentials(RequestModel):
    email: Email
    password: Annotated[str, line(min_length=1, max_length=256)]


class Confirmation(RequestModel):
    """The code Cognito emailed to a new user, which confirms the address and the account."""

    email: Email
    code: Annotated[str, line(min_length=1, max_length=64)]


class TokenRefresh(RequestModel):
    """A refresh token from sign-in, exchanged for a new access and ID token before they expire."""

    refresh_token: Annotated[str, line(min_length=1, max_length=4096)]


class ProfileUpdate(RequestModel):
    name: Annotated[str, line(min_length=1, max_length=200)]
    address: Annotated[str, prose(max_length=500)] | None = None


class EmailNotifications(RequestModel):
    """Opt-outs of the email channel, per kind of message."""

    order_updates: bool = Field(description="An email when an order is confirmed, cancelled or rejected")
    marketing: bool = Field(description="Offers and news (opt-in; nothing sends them yet)")


class Notifications(RequestModel):
    """Notification channels; email is the one the platform sends through today."""

    email: EmailNotifications


class PreferencesUpdate(RequestModel):
    """The whole set of a user's preferences (PUT replaces it; GET returns it with its version)."""

    language: Language = Field(description="BCP-47 tag of the language of notifications and clients")
    currency: Currency = Field(description="ISO 4217 code of the currency clients display prices in")
    notifications: Notifications


REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/users/register"): Registration,
    ("POST", "/users/login"): Credentials,
    ("POST", "/users/confirm"): Confirmation,
    ("POST", "/users/token"): TokenRefresh,
    ("PUT", "/users/me"): ProfileUpdate,
    ("PUT", "/users/me/preferences"): PreferencesUpdate,
}
"""(method, route path) -> the model of its JSON body, for every route of this service that takes one."""
