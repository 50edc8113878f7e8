"""Preferences through the profile API: defaults, validation naming the field (at the service and at the edge),
replacement with its UserPreferencesChanged event (once per change, never for a write that changes nothing)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from common.envelope import parse

from config.topology import Service
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession, fields, wait_until
from tools.local.workflows import preferences_body
from users.models import SUPPORTED_CURRENCIES, SUPPORTED_LANGUAGES
from users.tests.customers import register

USR = Service.USERS
PATH = "/users/me/preferences"
GOOD = preferences_body("de-DE", "CHF", order_updates=False, marketing=True)


@pytest.fixture(scope="module")
def preference_events(platform: LocalPlatform) -> Iterator[str]:
    """A queue of the test's own on the user-events topic, receiving UserPreferencesChanged as a consumer would."""
    sqs, sns = platform.client("sqs"), platform.client("sns")
    url = sqs.create_queue(QueueName=f"test-preferences-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=platform.resources.topic_arns["user-events"], Protocol="sqs", Endpoint=arn,
                        ReturnSubscriptionArn=True,
                        Attributes={"RawMessageDelivery": "true",
                                    "FilterPolicy": json.dumps({"type": ["UserPreferencesChanged"]})})
    yield url
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])


def events_of(platform: LocalPlatform, queue_url: str, user_id: str, wait: int) -> list[dict[str, Any]]:
    out = []
    messages = platform.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                                      WaitTimeSeconds=wait).get("Messages", [])
    for m in messages:
        event = parse(m["Body"])  # the envelope and its data schema
        if event.data["user_id"] == user_id:
            out.append(event.to_dict())
    return out


def test_defaults_until_changed_then_one_event_per_change(platform: LocalPlatform, api: Api,
                                                          preference_events: str) -> None:
    c = register(platform, api)
    r = api.call("GET", USR, PATH, c.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"language": "en", "currency": "EUR", "version": 0, "updated_at": None,
                        "notifications": {"email": {"order_updates": True, "marketing": False}}}

    changed = api.call("PUT", USR, PATH, c.headers, json=GOOD)
    assert changed.status_code == 200, changed.text
    assert {k: v for k, v in changed.json().items() if k != "updated_at"} == {**GOOD, "version": 1}
    assert api.call("GET", USR, PATH, c.headers).json() == changed.json()

    (event,) = wait_until(lambda: events_of(platform, preference_events, c.sub, 1), 20, "UserPreferencesChanged")
    assert event["type"] == "UserPreferencesChanged" and event["source"] == "users"
    assert event["data"] == {"user_id": c.sub, "version": 1, **GOOD}

    same = api.call("PUT", USR, PATH, c.headers, json=GOOD)
    assert same.json()["version"] == 1  # nothing changed: no new version, no event
    again = api.call("PUT", USR, PATH, c.headers, json={**GOOD, "language": "es"})
    assert again.json()["version"] == 2 and again.json()["language"] == "es"
    (second,) = wait_until(lambda: events_of(platform, preference_events, c.sub, 1), 20, "the second change")
    assert second["data"]["version"] == 2 and second["data"]["language"] == "es"
    assert events_of(platform, preference_events, c.sub, 2) == []
    # The profile itself is untouched by preferences, and the other way round.
    assert api.call("GET", USR, "/users/me", c.headers).json()["email"] == c.email
    assert api.call("PUT", USR, "/users/me", c.headers, json={"name": "Ann B"}).status_code == 200
    assert api.call("GET", USR, PATH, c.headers).json()["language"] == "es"


def test_every_supported_value_is_accepted_and_fits_the_event_schema(platform: LocalPlatform, api: Api) -> None:
    c = register(platform, api)
    for language, currency in zip(SUPPORTED_LANGUAGES, [*SUPPORTED_CURRENCIES] * 2, strict=False):
        r = api.call("PUT", USR, PATH, c.headers, json=preferences_body(language, currency))
        assert r.status_code == 200, (language, currency, r.text)


BAD: list[tuple[dict[str, Any], str]] = [
    ({**GOOD, "language": "xx"}, "language"),
    ({**GOOD, "language": "EN"}, "language"),
    ({**GOOD, "language": 1}, "language"),
    ({**GOOD, "currency": "eur"}, "currency"),
    ({**GOOD, "currency": "BTC"}, "currency"),
    ({**GOOD, "notifications": {"email": {"order_updates": "no", "marketing": False}}},
     "notifications.email.order_updates"),
    ({**GOOD, "notifications": {"email": {"order_updates": True, "marketing": 1}}}, "notifications.email.marketing"),
    ({**GOOD, "notifications": {"email": {"order_updates": True}}}, "notifications.email.marketing"),
    ({**GOOD, "notifications": {"sms": {"order_updates": True}, "email": GOOD["notifications"]["email"]}},
     "notifications.sms"),
    ({k: v for k, v in GOOD.items() if k != "notifications"}, "notifications"),
    ({**GOOD, "timezone": "UTC"}, "timezone"),
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[f for _, f in BAD])
def test_bad_input_is_refused_naming_the_field(platform: LocalPlatform, api: Api,
                                              new_user: Callable[[], UserSession], body: dict[str, Any],
                                              field: str) -> None:
    user = new_user()
    at_service = api.call("PUT", USR, PATH, user.headers, json=body)
    assert at_service.status_code == 422, at_service.text
    assert field in fields(at_service)
    at_edge = httpx.put(f"{platform.edge_url}{PATH}", json=body,
                        headers={**user.headers, "x-api-key": platform.api_key}, timeout=30)
    assert at_edge.status_code == 400, at_edge.text
    assert at_edge.json()["error"] == "invalid_request_body"
    assert field.rsplit(".", 1)[-1] in at_edge.json()["details"], at_edge.text


def test_no_profile_is_404_and_no_token_is_401(platform: LocalPlatform, api: Api,
                                              new_user: Callable[[], UserSession]) -> None:
    user = new_user()  # a Cognito user the users service never saw sign up or sign in
    assert api.call("GET", USR, PATH, user.headers).status_code == 404
    assert api.call("PUT", USR, PATH, user.headers, json=GOOD).status_code == 404
    assert api.call("GET", USR, PATH).status_code == 401
    r = httpx.get(f"{platform.edge_url}{PATH}", headers={"x-api-key": platform.api_key}, timeout=30)
    assert r.status_code == 401
