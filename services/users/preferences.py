"""A user's preferences: stored on the profile item, changed with their UserPreferencesChanged event in one
transaction (the outbox), read by the API and by the notifier.

The profile item holds ``preferences`` (the whole set: language, currency, notification opt-outs) and
``preferences_version`` (one more per change). A user who never chose anything has the defaults at version 0:
English, euros, order updates by email on (they are the customer's own transactions), marketing off (opt-in).
A change is a compare-and-set on the version, so two concurrent changes cannot both be published as the successor
of the same version; the loser re-reads and tries again. Writing the same set again changes nothing and publishes
nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from common import aws, ddb
from common.ddb import from_item, to_item, values
from common.envelope import Envelope
from contract import EventType

SOURCE = "users"
DEFAULTS: dict[str, Any] = {
    "language": "en",
    "currency": "EUR",
    "notifications": {"email": {"order_updates": True, "marketing": False}},
}
ATTEMPTS = 3


class ProfileMissing(LookupError):
    """No profile item for this user."""


class ConcurrentChange(RuntimeError):
    """The preferences kept changing under this update (another request won each compare-and-set)."""


@dataclass(frozen=True)
class Preferences:
    values: dict[str, Any]
    version: int
    updated_at: str | None

    def email_wanted(self, kind: str) -> bool:
        return bool(self.values["notifications"]["email"].get(kind, False))

    @property
    def language(self) -> str:
        return str(self.values["language"])


def _merged(defaults: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` over ``defaults``, key by key, so a preference added later has its default for older items."""
    out = copy.deepcopy(defaults)
    for key, value in stored.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        elif key in out:
            out[key] = value
    return out


def of_profile(profile: dict[str, Any]) -> Preferences:
    return Preferences(values=_merged(DEFAULTS, dict(profile.get("preferences") or {})),
                       version=int(profile.get("preferences_version", 0)),
                       updated_at=profile.get("preferences_updated_at"))


def _key(user_id: str) -> dict[str, Any]:
    return to_item({"pk": f"USER#{user_id}", "sk": "PROFILE"})


def _profile(table: str, user_id: str) -> dict[str, Any]:
    item = aws.client("dynamodb").get_item(TableName=table, Key=_key(user_id), ConsistentRead=True).get("Item")
    if item is None:
        raise ProfileMissing(user_id)
    return from_item(item)


def load(table: str, user_id: str) -> Preferences:
    return of_profile(_profile(table, user_id))


def update(table: str, user_id: str, wanted: dict[str, Any]) -> tuple[Preferences, bool]:
    """Store ``wanted`` (a whole set) and publish UserPreferencesChanged with it, unless it is what is stored.
    Returns the preferences now stored and whether they changed."""
    for _ in range(ATTEMPTS):
        current = load(table, user_id)
        new = _merged(DEFAULTS, wanted)
        if new == current.values:
            return current, False
        version = current.version + 1
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        event = Envelope(type=EventType.USER_PREFERENCES_CHANGED, source=SOURCE,
                         data={"user_id": user_id, "version": version, **new})
        guard = ("attribute_not_exists(preferences_version)" if current.version == 0
                 else "preferences_version = :seen")
        seen = {"seen": current.version} if current.version else {}
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=[
                {"Update": {"TableName": table, "Key": _key(user_id),
                            "UpdateExpression": "SET preferences = :p, preferences_version = :v, "
                                                "preferences_updated_at = :now, updated_at = :now",
                            "ConditionExpression": f"attribute_exists(pk) AND {guard}",
                            "ExpressionAttributeValues": values(p=new, v=version, now=now, **seen)}},
                ddb.outbox_put(table, event),
            ])
        except ClientError as exc:
            if ddb.cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:
                continue  # changed (or deleted) since we read it: read again
            raise
        return Preferences(values=new, version=version, updated_at=now), True
    raise ConcurrentChange(user_id)
