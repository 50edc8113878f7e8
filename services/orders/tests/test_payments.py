"""Payments: the provider's signed webhook (POST /payments/webhook) and the payment records orders keeps.

A signed report becomes PaymentConfirmed / PaymentFailed in the outbox; the worker records the payment once
whatever is redelivered; every refused request (bad signature, stale timestamp, replay, unknown order, wrong amount)
is answered with a 4xx JSON body naming the problem and recorded; bad input names the field."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from config.topology import EVENT_TYPE_ATTRIBUTE, Service
from orders.webhook import TOLERANCE_SECONDS
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession, fields, queue_drained, wait_status, wait_until
from tools.local.workflows import payment_report, signed

ORD = Service.ORDERS


def reserved_order(api: Api, user: UserSession, make_product: Callable[..., str]) -> dict[str, Any]:
    pid = make_product(price_cents=1500, stock=5)
    r = api.call("POST", ORD, "/orders", user.order_headers(), json={"lines": [{"product_id": pid, "quantity": 2}]})
    assert r.status_code == 201, r.text
    wait_status(api, user, r.json()["order_id"], "RESERVED")
    return dict(r.json())


def post(api: Api, platform: LocalPlatform, report: dict[str, Any], *, secret: str | None = None,
         timestamp: int | None = None) -> httpx.Response:
    body = json.dumps(report).encode()
    headers = signed(secret or platform.resources.payment_webhook_secret, body, timestamp)
    return api.call("POST", ORD, "/payments/webhook", headers, content=body)


def payments(platform: LocalPlatform, order_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(platform.orders_dsn()) as conn:
        return conn.execute("SELECT provider, provider_reference, method_type, amount_cents, currency, status, "
                            "failure_reason FROM payments WHERE order_id = %s ORDER BY recorded_at",
                            (order_id,)).fetchall()


def rejections(platform: LocalPlatform, event_id: str) -> list[str]:
    with psycopg.connect(platform.orders_dsn()) as conn:
        return [r[0] for r in conn.execute("SELECT error FROM payment_webhook_rejections WHERE event_id = %s "
                                           "ORDER BY id", (event_id,)).fetchall()]


def test_a_signed_confirmation_confirms_the_order_and_records_the_payment(
        platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    u = new_user()
    order = reserved_order(api, u, make_product)
    report = payment_report(order)
    r = post(api, platform, report)
    assert r.status_code == 202 and r.json() == {"event_id": report["event_id"], "event": "PaymentConfirmed"}
    wait_status(api, u, order["order_id"], "CONFIRMED")
    assert payments(platform, order["order_id"]) == [
        ("payment-provider", report["payment_id"], "card", 3000, "EUR", "CONFIRMED", None)]


def test_a_field_the_provider_adds_is_ignored_not_refused(
        platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    """Issue 22, finding 5: a provider adds fields without telling us; its signed report is still accepted (the
    signature covers the raw body) and the added field is stored nowhere."""
    u = new_user()
    order = reserved_order(api, u, make_product)
    report = {**payment_report(order), "risk_score": {"level": "low"}, "api_version": "2027-01"}
    r = post(api, platform, report)
    assert r.status_code == 202, r.text
    wait_status(api, u, order["order_id"], "CONFIRMED")
    assert payments(platform, order["order_id"]) == [
        ("payment-provider", report["payment_id"], "card", 3000, "EUR", "CONFIRMED", None)]


def test_refusals_name_the_problem_and_are_recorded(platform: LocalPlatform, api: Api,
                                                    new_user: Callable[[], UserSession],
                                                    make_product: Callable[..., str]) -> None:
    u = new_user()
    order = reserved_order(api, u, make_product)
    cases: list[tuple[dict[str, Any], dict[str, Any], int, str]] = [
        (payment_report(order), {"secret": "wrong"}, 401, "bad_signature"),
        (payment_report(order), {"timestamp": int(time.time()) - TOLERANCE_SECONDS - 60}, 401, "stale_timestamp"),
        (payment_report(order), {"timestamp": int(time.time()) + TOLERANCE_SECONDS + 60}, 401, "stale_timestamp"),
        (payment_report(order, amount_cents=2999), {}, 422, "amount_mismatch"),
        (payment_report({**order, "currency": "USD"}), {}, 422, "amount_mismatch"),
        (payment_report({**order, "order_id": str(uuid.uuid4())}), {}, 422, "unknown_order"),
        (payment_report({**order, "order_id": "not-an-order"}), {}, 422, "unknown_order"),
    ]
    for report, how, status, error in cases:
        r = post(api, platform, report, **how)
        assert r.status_code == status and r.json()["error"] == error, (error, r.text)
        assert rejections(platform, report["event_id"]) == [error]
    body = json.dumps(payment_report(order)).encode()
    r = api.call("POST", ORD, "/payments/webhook", {**signed(platform.resources.payment_webhook_secret, body),
                                                     "Webhook-Timestamp": "yesterday"}, content=body)
    assert r.status_code == 401 and r.json()["error"] == "bad_timestamp"
    # nothing refused reached the order
    assert payments(platform, order["order_id"]) == []
    assert api.call("GET", ORD, f"/orders/{order['order_id']}", u.headers).json()["status"] == "RESERVED"


def test_a_replay_is_refused_and_a_redelivered_event_records_one_payment(
        platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    u = new_user()
    order = reserved_order(api, u, make_product)
    report = payment_report(order)
    body = json.dumps(report).encode()
    headers = signed(platform.resources.payment_webhook_secret, body)
    assert api.call("POST", ORD, "/payments/webhook", headers, content=body).status_code == 202
    again = api.call("POST", ORD, "/payments/webhook", headers, content=body)
    assert again.status_code == 409 and again.json()["error"] == "replayed_event", again.text
    resigned = post(api, platform, report)  # the provider's retry: same event, new signature
    assert resigned.status_code == 409 and resigned.json()["error"] == "replayed_event"
    assert rejections(platform, report["event_id"]) == ["replayed_event", "replayed_event"]
    wait_status(api, u, order["order_id"], "CONFIRMED")
    # SQS redelivers the published event: the same envelope twice more
    with psycopg.connect(platform.orders_dsn()) as conn:
        (payload,) = conn.execute("SELECT payload FROM outbox WHERE type = 'PaymentConfirmed' AND "
                                  "payload -> 'data' ->> 'order_id' = %s", (order["order_id"],)).fetchone() or (None,)
    assert payload is not None
    for _ in range(2):
        platform.client("sns").publish(
            TopicArn=platform.resources.topic_arns["payment-events"], Message=json.dumps(payload),
            MessageAttributes={EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": "PaymentConfirmed"}})
    # the same payment reported by another event id: still one record
    assert post(api, platform, {**report, "event_id": f"evt-{uuid.uuid4().hex}"}).status_code == 202
    # Every delivery handled (none waiting, none in flight), rather than a fixed 3 s of the worker's polls.
    wait_until(lambda: queue_drained(platform, "orders-payment-events"), what="the redeliveries handled")
    assert len(payments(platform, order["order_id"])) == 1
    with psycopg.connect(platform.orders_dsn()) as conn:
        confirmed = conn.execute("SELECT count(*) FROM outbox WHERE type = 'OrderConfirmed' AND "
                                 "payload -> 'data' ->> 'order_id' = %s", (order["order_id"],)).fetchone()
    assert confirmed == (1,)


def test_a_failed_payment_is_recorded_and_the_order_waits(platform: LocalPlatform, api: Api,
                                                          new_user: Callable[[], UserSession],
                                                          make_product: Callable[..., str]) -> None:
    u = new_user()
    order = reserved_order(api, u, make_product)
    failed = payment_report(order, succeeded=False)
    r = post(api, platform, failed)
    assert r.status_code == 202 and r.json()["event"] == "PaymentFailed"
    wait_until(lambda: payments(platform, order["order_id"]), 30, "the failed payment recorded")
    assert payments(platform, order["order_id"]) == [
        ("payment-provider", failed["payment_id"], "card", 3000, "EUR", "FAILED", "card declined")]
    assert api.call("GET", ORD, f"/orders/{order['order_id']}", u.headers).json()["status"] == "RESERVED"
    assert post(api, platform, payment_report(order)).status_code == 202  # paid on the second attempt
    wait_status(api, u, order["order_id"], "CONFIRMED")
    assert [p[5] for p in payments(platform, order["order_id"])] == ["FAILED", "CONFIRMED"]


@pytest.mark.parametrize(("change", "field"), [
    ({"event_id": ""}, "event_id"),
    ({"type": "payment.refunded"}, "type"),
    ({"occurred_at": "now"}, "occurred_at"),
    ({"order_id": None}, "order_id"),
    ({"payment_id": "x" * 129}, "payment_id"),
    ({"amount_cents": -1}, "amount_cents"),
    ({"amount_cents": "30.00"}, "amount_cents"),
    ({"currency": "euro"}, "currency"),
    ({"method_type": "visa-4242"}, "method_type"),
    ({"card_number": "4242424242424242"}, "card_number"),
])
def test_bad_input_names_the_field(platform: LocalPlatform, api: Api, change: dict[str, Any], field: str) -> None:
    report = {**payment_report({"order_id": str(uuid.uuid4()), "total_cents": 100, "currency": "EUR"}), **change}
    r = post(api, platform, report)
    assert r.status_code == 422 and field in fields(r), r.text


def test_unsigned_requests_name_the_missing_header(api: Api) -> None:
    body = json.dumps(payment_report({"order_id": str(uuid.uuid4()), "total_cents": 1, "currency": "EUR"}))
    r = api.call("POST", ORD, "/payments/webhook", {"Content-Type": "application/json"}, content=body)
    assert r.status_code == 422 and {"Webhook-Signature", "Webhook-Timestamp"} <= set(fields(r)), r.text


def test_a_rotated_secret_is_read_again_once_a_signature_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from orders import webhook

    reads: list[str] = []

    def load() -> str:  # rotated after the first read
        reads.append("new-secret" if reads else "old-secret")
        return reads[-1]

    monkeypatch.setattr(webhook, "SECRET_REFRESH_SECONDS", 0)
    secret = webhook.signing_secret(load)
    now = int(time.time())
    body = b'{"x": 1}'
    webhook.verify(secret, str(now), signed("old-secret", body, now)["Webhook-Signature"], body, now)
    # the provider switched to the rotated value: one more read, then it verifies
    webhook.verify(secret, str(now), signed("new-secret", body, now)["Webhook-Signature"], body, now)
    assert reads == ["old-secret", "new-secret"]
    with pytest.raises(webhook.Rejection) as refused:
        webhook.verify(secret, str(now), "v1=" + "0" * 64, body, now)
    assert refused.value.error == "bad_signature"


@pytest.mark.parametrize("timestamp", ["\u00b2", "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660",
                                       "+1700000000", " 1700000000", "1" * 13, ""])
def test_a_timestamp_that_is_not_ascii_digits_is_refused_even_when_signed(timestamp: str) -> None:
    """'²' and Arabic-Indic digits pass str.isdigit(), and int() then raised (a 500) or read another number: the
    timestamp is 1 to 12 ASCII digits, checked before the signature."""
    from orders import webhook

    body = b'{"x": 1}'
    secret = webhook.signing_secret(lambda: "the-secret")
    with pytest.raises(webhook.Rejection) as refused:
        webhook.verify(secret, timestamp, webhook.signature("the-secret", timestamp, body), body, time.time())
    assert refused.value.error == "bad_timestamp"
