"""Field types of every request body: input that storage cannot hold is refused at the door.

Pydantic only, no environment, no I/O: the CDK app imports the request models built from these types to derive API
Gateway's request models (cdk_constructs/api_models.py), so the edge and the services check the same rules.

- **Text** never carries NUL or another control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F).
  PostgreSQL text cannot store NUL (a NUL in a user's name once poisoned UserRegistered in orders), and the other
  control characters end up in logs, emails and CSV exports that cannot show them. Fields of free prose that a
  person types over several lines (a product description, a postal address) also allow TAB, LF and CR; every other
  field is a single line.
- **Strict types**: the models validate in strict mode, so `true` or `"1"` is not an integer, `1` is not a boolean,
  a number is not a string. The draft-4 models at the edge say the same (draft 4's `integer` excludes `1.0` and
  booleans; its `number` takes integers, as pydantic's strict float does).

The text rule is one regular expression, the same at the edge (API Gateway's JSON Schema validator, ECMA 262
regex), in the event schemas (services/common/schemas, Python `re`) and here (Python `re`, see RequestModel). It
ends with a negative lookahead instead of `$`, because `$` also matches before a final newline in Python and Java,
which would let `"name\\n"` through.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic.networks import validate_email

from common.request_limits import header_text

SINGLE_LINE = r"^[^\u0000-\u001F\u007F-\u009F]*(?![\s\S])"
"""No control character at all."""
MULTI_LINE = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*(?![\s\S])"
"""No control character but TAB, LF and CR."""


class RequestModel(BaseModel):
    """Base of every request body: unknown fields rejected, strict types, and Python's regex engine (pydantic's
    default Rust engine has no lookahead, which the text patterns need)."""

    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")


class CallbackModel(BaseModel):
    """Base of a body a third party sends back (the payment provider's webhook): the same strict types for the
    fields the platform reads, but fields it does not know are ignored, not refused. The sender adds fields without
    telling us, and its signature over the raw body, not the body's shape, is what authenticates the request; API
    Gateway's model derived from this one has no ``additionalProperties: false`` either."""

    model_config = ConfigDict(extra="ignore", strict=True, regex_engine="python-re")


def line(*, max_length: int, min_length: int = 0) -> StringConstraints:
    """``Annotated[str, line(max_length=...)]``: a single line of text, no control character."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=SINGLE_LINE)


def prose(*, max_length: int, min_length: int = 0) -> StringConstraints:
    """``Annotated[str, prose(max_length=...)]``: text over several lines (TAB, LF, CR), no other control character."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=MULTI_LINE)


def _email(value: str) -> str:
    return validate_email(value)[1]


Email = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=SINGLE_LINE), AfterValidator(_email),
                  Field(json_schema_extra={"format": "email"})]
"""An email address (normalised as pydantic's EmailStr does); single-line text first, so the edge checks it too."""


def reject_control_characters(value: str) -> str:
    """For path and query parameters, which FastAPI validates outside RequestModel (Rust regex engine)."""
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ValueError("must not contain control characters")
    return value


PlainText = AfterValidator(reject_control_characters)
"""Annotated metadata for path and query parameters: ``Annotated[str, Path(...), PlainText]``."""


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be printable text: no control, format or line separator characters")
    return value


HeaderText = BeforeValidator(header_text)
"""Annotated metadata for a header whose value is text: its UTF-8 decoded (Starlette hands header values over decoded
as Latin-1), before any length or pattern is checked, so lengths count characters (common/request_limits.py)."""
Printable = AfterValidator(_printable)
"""Annotated metadata: every character printable (``str.isprintable``); any script, no control or format character."""
