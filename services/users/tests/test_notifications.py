"""The notifier on the session's platform: order status changes reach the customer by email (moto's SES records
what it accepted), once per order and status whatever is redelivered, late but not lost while SES is down (and the
orders keep moving), never to a customer who opted out or to an address that bounced or complained."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from common.envelope import Envelope

from config.topology import EVENT_TYPE_ATTRIBUTE, Service
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, queue_drained, wait_until
from users.tests.customers import (
    Customer,
    confirmed_order,
    emails_about,
    notification,
    order_status,
    register,
    reserved_order,
    set_preferences,
)

USR, ORD = Service.USERS, Service.ORDERS
SETTLE_SECONDS = 3.0  # several polls of the notifier: a second email would have been sent by then


def one_email(platform: LocalPlatform, customer: Customer, order_id: str) -> dict[str, Any]:
    (mail,) = wait_until(lambda: emails_about(platform, customer, order_id), 30, f"the email about {order_id}")
    time.sleep(SETTLE_SECONDS)
    assert emails_about(platform, customer, order_id) == [mail]
    return mail


def publish(platform: LocalPlatform, topic: str, body: dict[str, Any], event_type: str | None = None) -> None:
    """To a topic as its publisher does: the platform's envelope with its type attribute, or SES's JSON without."""
    attributes = {EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event_type}} if event_type else {}
    platform.client("sns").publish(TopicArn=platform.resources.topic_arns[topic], Message=json.dumps(body),
                                   MessageAttributes=attributes)


def ses_event(kind: str, address: str, **detail: Any) -> dict[str, Any]:
    """A bounce or complaint as SES event publishing sends it for a configuration set (moto does not publish
    these, so the test stands in for SES)."""
    mail = {"timestamp": "2026-11-27T10:00:00.000Z", "messageId": f"0100-{uuid.uuid4().hex}-000000",
            "source": "Shop <no-reply@dev.shop.example.com>", "destination": [address]}
    feedback = f"0100-{uuid.uuid4().hex}-000000"
    if kind == "Bounce":
        return {"eventType": "Bounce", "mail": mail, "bounce": {
            "bounceType": detail.get("bounce_type", "Permanent"), "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-11-27T10:00:01.000Z", "feedbackId": feedback}}
    return {"eventType": "Complaint", "mail": mail, "complaint": {
        "complainedRecipients": [{"emailAddress": address}], "complaintFeedbackType": "abuse",
        "timestamp": "2026-11-27T10:00:01.000Z", "feedbackId": feedback}}


def decided(platform: LocalPlatform, order_id: str) -> dict[str, Any]:
    """The CONFIRMED notification of the order once the notifier has ended it (sent, skipped or failed)."""
    def ended() -> dict[str, Any] | None:
        record = notification(platform, order_id, "CONFIRMED")
        return record if record and record["state"] != "PENDING" else None

    return wait_until(ended, 30, f"the notification of {order_id} decided")


def suppressed(platform: LocalPlatform, address: str) -> bool:
    return "Item" in platform.client("dynamodb").get_item(
        TableName=platform.resources.tables[USR], ConsistentRead=True,
        Key={"pk": {"S": f"SUPPRESSED#{address}"}, "sk": {"S": "SUPPRESSED"}})


def test_a_confirmed_order_is_one_email_in_the_customers_language(
        platform: LocalPlatform, api: Api, make_product: Callable[..., str]) -> None:
    c = register(platform, api, name="Jürgen")
    set_preferences(api, c, language="de-AT")
    oid = confirmed_order(platform, api, c, make_product(price_cents=1999, stock=2))
    mail = one_email(platform, c, oid)
    assert mail["subject"] == f"Ihre Bestellung {oid.split('-')[0]} ist bestätigt"
    assert mail["body"].startswith("Hallo Jürgen,") and "Summe: 19,99 EUR" in mail["body"]
    assert mail["source"] == "Shop <no-reply@dev.shop.example.com>"
    assert mail["destinations"] == {"ToAddresses": [c.email]}
    record = notification(platform, oid, "CONFIRMED")
    assert record is not None and record["state"] == "SENT" and record["attempts"] == 1
    assert "due_shard" not in record and record["expires_at"] > time.time()


def test_cancelled_and_rejected_orders_say_so(platform: LocalPlatform, api: Api, admin: dict[str, str],
                                             make_product: Callable[..., str]) -> None:
    c = register(platform, api)
    cancelled = reserved_order(api, c, make_product(stock=2))["order_id"]
    assert api.call("POST", ORD, f"/orders/{cancelled}/cancel", c.headers).status_code == 200
    mail = one_email(platform, c, cancelled)
    assert "was cancelled" in mail["subject"] and "Reason: cancelled by customer" in mail["body"]
    pid = make_product(stock=2)
    rejected = reserved_order(api, c, pid)["order_id"]
    assert api.call("DELETE", Service.PRODUCTS, f"/products/{pid}", admin).status_code == 204
    mail = one_email(platform, c, rejected)
    assert "could not complete" in mail["subject"] and "You have not been charged" in mail["body"]
    assert notification(platform, rejected, "REJECTED") is not None
    assert notification(platform, rejected, "CANCELLED") is None


def test_redelivered_and_republished_status_changes_send_one_email(
        platform: LocalPlatform, api: Api, make_product: Callable[..., str]) -> None:
    c = register(platform, api)
    oid = confirmed_order(platform, api, c, make_product(stock=2))
    one_email(platform, c, oid)
    order = order_status(api, c, oid)
    data = {"order_id": oid, "customer_id": c.sub, "total_cents": order["total_cents"], "currency": order["currency"]}
    first = Envelope(type="OrderConfirmed", source="orders", data=data).validate()
    for event in (first, first, Envelope(type="OrderConfirmed", source="orders", data=data)):
        publish(platform, "order-events", event.to_dict(), "OrderConfirmed")  # SNS redelivery, a second publish
    wait_until(lambda: queue_drained(platform, "users-order-events"), 30, "the redeliveries handled")
    time.sleep(SETTLE_SECONDS)
    assert len(emails_about(platform, c, oid)) == 1
    assert notification(platform, oid, "CONFIRMED")["attempts"] == 1  # type: ignore[index]


def test_ses_down_delays_the_email_without_losing_it_or_holding_the_order(
        platform: LocalPlatform, api: Api, make_product: Callable[..., str]) -> None:
    c = register(platform, api)
    pid = make_product(stock=2)
    with platform.ses_down(USR):
        oid = confirmed_order(platform, api, c, pid)  # the order workflow never waits for mail
        pending = wait_until(lambda: (r := notification(platform, oid, "CONFIRMED")) and r["attempts"] >= 2 and r,
                             60, "the notifier to try SES twice")
        assert pending["state"] == "PENDING" and "due_shard" in pending
        assert "Could not connect" in pending["last_error"] or "Connect" in pending["last_error"], pending
        assert emails_about(platform, c, oid) == []
        assert queue_drained(platform, "users-order-events")  # the event is not stuck in (or lost from) the queue
    mail = one_email(platform, c, oid)
    assert "is confirmed" in mail["subject"]
    record = notification(platform, oid, "CONFIRMED")
    assert record is not None and record["state"] == "SENT" and record["attempts"] >= 3


def test_a_customer_who_switched_order_updates_off_gets_no_email(
        platform: LocalPlatform, api: Api, make_product: Callable[..., str]) -> None:
    c = register(platform, api)
    assert set_preferences(api, c, order_updates=False)["notifications"]["email"]["order_updates"] is False
    oid = confirmed_order(platform, api, c, make_product(stock=2))
    record = decided(platform, oid)
    assert record["state"] == "SKIPPED" and record["reason"] == "order updates by email switched off"
    assert platform.sent_emails(c.email) == []


def test_a_bounced_or_complaining_address_is_suppressed_and_never_mailed(
        platform: LocalPlatform, api: Api, make_product: Callable[..., str]) -> None:
    bounced, complained, transient = (register(platform, api) for _ in range(3))
    publish(platform, "email-events", ses_event("Bounce", bounced.email.upper()))  # SES may keep the case
    publish(platform, "email-events", ses_event("Complaint", complained.email))
    publish(platform, "email-events", ses_event("Bounce", transient.email, bounce_type="Transient"))
    wait_until(lambda: suppressed(platform, bounced.email) and suppressed(platform, complained.email), 30,
               "both addresses suppressed")
    wait_until(lambda: queue_drained(platform, "users-email-events"), 30, "the transient bounce handled")
    assert not suppressed(platform, transient.email)
    pid = make_product(stock=5)
    for customer in (bounced, complained):
        record = decided(platform, confirmed_order(platform, api, customer, pid))
        assert record["state"] == "SKIPPED" and "suppressed" in record["reason"]
        assert platform.sent_emails(customer.email) == []
    one_email(platform, transient, confirmed_order(platform, api, transient, pid))


def test_what_is_not_an_ses_bounce_or_complaint_reaches_the_dlq(platform: LocalPlatform) -> None:
    marker = uuid.uuid4().hex
    publish(platform, "email-events", {"eventType": "Bounce", "mail": {"messageId": marker}, "bounce": {}})
    sqs = platform.client("sqs")

    def dead_lettered() -> bool:
        messages = sqs.receive_message(QueueUrl=platform.resources.dlq_urls["users-email-events"],
                                       MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        return any(marker in m["Body"] for m in messages)

    wait_until(dead_lettered, 90, "the malformed bounce in the DLQ")
