"""The notifier's claim/send/mark protocol, driven step by step in this process: a table of the users table's shape
to itself in the session's moto (so the platform's own worker does not take its items), SES in moto, and a clock
the test moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from common import aws
from common.ddb import from_item, to_item
from common.envelope import Envelope

from config.topology import Service, table_of
from tools.local.local_platform import FAKE_CREDENTIALS, REGION, LocalPlatform, free_port
from users import notifications
from users.notifications import LEASE_SECONDS, Notifier, Sender, SesUnavailable

SENDER = Sender(address="no-reply@dev.shop.example.com", name="Shop", configuration_set="notifications-test")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {"AWS_ENDPOINT_URL": platform.moto_url, "AWS_REGION": REGION, **FAKE_CREDENTIALS}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(aws, "_clients", {})  # clients for this endpoint
    definition = table_of(Service.USERS)
    assert definition is not None
    name = platform.create_table(definition, f"users-notifier-test-{uuid.uuid4().hex[:8]}")
    yield name
    platform.client("dynamodb").delete_table(TableName=name)


def customer(platform: LocalPlatform, table: str) -> tuple[str, str]:
    user_id, email = str(uuid.uuid4()), f"n-{uuid.uuid4().hex[:10]}@example.com"
    platform.client("dynamodb").put_item(TableName=table, Item=to_item(
        {"pk": f"USER#{user_id}", "sk": "PROFILE", "user_id": user_id, "email": email, "name": "Nia"}))
    return user_id, email


def confirmed(user_id: str, order_id: str | None = None) -> Envelope:
    return Envelope(type="OrderConfirmed", source="orders", data={
        "order_id": order_id or str(uuid.uuid4()), "customer_id": user_id, "total_cents": 1000, "currency": "EUR"})


def item(platform: LocalPlatform, table: str, order_id: str, status: str = "CONFIRMED") -> dict[str, Any]:
    return from_item(platform.client("dynamodb").get_item(
        TableName=table, ConsistentRead=True,
        Key=to_item({"pk": f"NOTIFICATION#{order_id}", "sk": f"STATUS#{status}"}))["Item"])


def notifier(table: str, clock: Clock, sender: Sender = SENDER, ses: Any = None) -> Notifier:
    return Notifier(table=table, sender=sender, clock=clock, ses=ses)


def test_a_sender_that_dies_between_claim_and_send_neither_loses_nor_doubles_the_email(
        platform: LocalPlatform, table: str) -> None:
    clock = Clock()
    user_id, email = customer(platform, table)
    event = confirmed(user_id)
    first, second = notifier(table, clock), notifier(table, clock)
    first.on_order_event(event)
    first.on_order_event(event)  # a redelivery: the conditional put finds the item
    oid = event.data["order_id"]
    claimed = first._claim(item(platform, table, oid))  # ...and the first replica dies here, before SES
    assert claimed is not None and claimed["attempts"] == 1
    assert second.send_due() == 0  # leased: nobody sends it
    assert platform.sent_emails(email) == []
    clock.now += LEASE_SECONDS + 1
    assert second.send_due() == 1
    assert len(platform.sent_emails(email)) == 1
    done = item(platform, table, oid)
    assert done["state"] == "SENT" and done["attempts"] == 2 and "due_at" not in done and done["message_id"]
    clock.now += LEASE_SECONDS + 1
    assert first.send_due() == second.send_due() == 0
    assert len(platform.sent_emails(email)) == 1


def test_of_two_replicas_only_one_claims(platform: LocalPlatform, table: str) -> None:
    clock = Clock()
    user_id, _ = customer(platform, table)
    event = confirmed(user_id)
    a, b = notifier(table, clock), notifier(table, clock)
    a.on_order_event(event)
    seen = item(platform, table, event.data["order_id"])
    assert [a._claim(seen) is not None, b._claim(seen) is not None] == [True, False]


def test_ses_refusing_the_message_ends_it_failed_at_once(platform: LocalPlatform, table: str) -> None:
    """moto refuses a From address outside the verified identities, as SES does (MessageRejected)."""
    clock = Clock()
    user_id, email = customer(platform, table)
    event = confirmed(user_id)
    outsider = Sender(address="no-reply@unverified.example.org", name="Shop", configuration_set="x")
    n = notifier(table, clock, sender=outsider)
    n.on_order_event(event)
    assert n.send_due() == 1
    failed = item(platform, table, event.data["order_id"])
    assert failed["state"] == "FAILED" and "MessageRejected" in failed["reason"] and "due_shard" not in failed
    assert platform.sent_emails(email) == []


def test_ses_unreachable_is_retried_with_backoff_then_given_up(platform: LocalPlatform, table: str) -> None:
    clock = Clock()
    user_id, email = customer(platform, table)
    event = confirmed(user_id)
    dead = boto3.session.Session(region_name=REGION, **{k.lower(): v for k, v in FAKE_CREDENTIALS.items()}).client(
        "sesv2", endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}))
    n = notifier(table, clock, ses=dead)
    n.on_order_event(event)
    oid = event.data["order_id"]
    with pytest.raises(SesUnavailable):
        n.send_due()
    waiting = item(platform, table, oid)
    assert waiting["state"] == "PENDING" and waiting["attempts"] == 1 and "last_error" in waiting
    assert n.send_due() == 0  # not due before its backoff ends
    clock.now += notifications.retry_delay(1)
    with pytest.raises(SesUnavailable):
        n.send_due()
    assert item(platform, table, oid)["attempts"] == 2
    clock.now += notifications.GIVE_UP_SECONDS
    assert n.send_due() == 1
    given_up = item(platform, table, oid)
    assert given_up["state"] == "FAILED" and given_up["reason"].startswith("gave up after 3 attempts")
    assert n.due_count() == 0 and platform.sent_emails(email) == []


def test_no_profile_unknown_status_and_the_backlog(platform: LocalPlatform, table: str) -> None:
    clock = Clock()
    n = notifier(table, clock)
    stranger = confirmed(str(uuid.uuid4()))
    n.on_order_event(stranger)
    n.on_order_event(Envelope(type="OrderCancelled", source="orders", data={
        "order_id": str(uuid.uuid4()), "customer_id": "u", "reason": "r", "status": "CANCELLED"}))
    assert n.due_count() == 2
    assert n.send_due() == 2
    assert item(platform, table, stranger.data["order_id"])["reason"] == "no profile for this customer"
    assert n.due_count() == 0


def test_retry_schedule_and_error_classes() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    assert [notifications.retry_delay(a) for a in (1, 2, 3, 10, 30)] == [2.0, 4.0, 8.0, 900.0, 900.0]

    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": code}}, "SendEmail")

    assert notifications.is_permanent(client_error("MessageRejected"))
    assert notifications.is_permanent(client_error("BadRequestException"))
    for transient in ("TooManyRequestsException", "LimitExceededException", "SendingPausedException",
                      "NotFoundException", "AccessDeniedException", "InternalFailure"):
        assert not notifications.is_permanent(client_error(transient)), transient
    assert not notifications.is_permanent(EndpointConnectionError(endpoint_url="http://x"))
