"""The emails' texts and the reading of SES's bounce and complaint events (no platform needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from common.envelope import InvalidEnvelope

from users import email_feedback, messages
from users.models import SUPPORTED_LANGUAGES


@pytest.mark.parametrize(("language", "translation"), [
    ("en", "en"), ("en-GB", "en"), ("es", "es"), ("es-MX", "es"), ("de-CH", "de"), ("fr", "en"), ("pt-BR", "en"),
])
def test_a_language_reads_its_own_translation_else_its_primary_language_else_english(
        language: str, translation: str) -> None:
    assert messages.translation_for(language) == translation


def test_every_supported_language_and_status_renders() -> None:
    for language in SUPPORTED_LANGUAGES:
        for status in messages.STATUSES:
            mail = messages.order_update(language=language, status=status, order_id="abc-1", name="Ann",
                                         sender_name="Shop", total_cents=123456, currency="EUR", reason="why")
            assert mail.subject and "abc" in mail.subject and "\n" not in mail.subject
            assert "abc-1" in mail.body and mail.body.endswith("-- Shop\n")
            assert ("why" in mail.body) == (status != "CONFIRMED")


def test_money_and_texts_per_translation() -> None:
    en = messages.order_update(language="en-US", status="CONFIRMED", order_id="o-1", name="Ann", sender_name="Shop",
                               total_cents=123456, currency="USD")
    assert en.language == "en" and en.subject == "Your order o is confirmed" and "Total: 1,234.56 USD" in en.body
    es = messages.order_update(language="es", status="CANCELLED", order_id="o-1", name="Ana", sender_name="Shop",
                               reason="cancelled by customer")
    assert es.subject == "Tu pedido o ha sido cancelado" and es.body.startswith("Hola, Ana:")
    assert "Motivo: cancelled by customer" in es.body and "Total" not in es.body
    de = messages.order_update(language="de-DE", status="REJECTED", order_id="o-1", name="Jo", sender_name="Shop",
                               total_cents=5, currency="EUR", reason="stock rejected")
    assert de.subject == "Ihre Bestellung o konnte nicht ausgeführt werden" and "Summe: 0,05 EUR" in de.body


def bounce(**overrides: Any) -> dict[str, Any]:
    """SES's bounce event for a configuration set (Amazon SES developer guide, event publishing examples)."""
    event: dict[str, Any] = {
        "eventType": "Bounce",
        "bounce": {"feedbackId": "0102017a-bounce-000000", "bounceType": "Permanent", "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": "Recipient@Example.com", "action": "failed",
                                          "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                   "timestamp": "2026-11-27T10:00:01.000Z", "reportingMTA": "dsn; mta.example.com"},
        "mail": {"timestamp": "2026-11-27T10:00:00.000Z", "source": "no-reply@dev.shop.example.com",
                 "sendingAccountId": "111111111111", "messageId": "0102017a-mail-000000",
                 "destination": ["Recipient@Example.com"], "tags": {"ses:configuration-set": ["notifications"]}},
    }
    event.update(overrides)
    return event


def test_bounce_and_complaint_events_become_envelopes() -> None:
    env = email_feedback.parse(json.dumps(bounce()))
    assert env.type == "EmailBounced" and env.source == "ses" and env.correlation_id == "0102017a-mail-000000"
    assert env.data == {"addresses": ["recipient@example.com"], "bounce_type": "Permanent",
                        "bounce_sub_type": "General", "feedback_id": "0102017a-bounce-000000",
                        "ses_message_id": "0102017a-mail-000000"}
    assert email_feedback.parse(json.dumps(bounce())).id == env.id  # the same event, the same id
    complaint = {"eventType": "Complaint", "mail": bounce()["mail"], "complaint": {
        "complainedRecipients": [{"emailAddress": "a@example.com"}], "timestamp": "2026-11-27T10:00:01.000Z",
        "feedbackId": "0102017a-complaint-000000"}}
    env = email_feedback.parse(json.dumps(complaint))
    assert env.type == "EmailComplained" and env.data["complaint_feedback_type"] is None
    assert env.data["addresses"] == ["a@example.com"]


@pytest.mark.parametrize("body", [
    "not json", "[]", json.dumps({"eventType": "Delivery", "mail": {}}), json.dumps({"notificationType": "Bounce"}),
    json.dumps(bounce(bounce={})), json.dumps(bounce(bounce={**bounce()["bounce"], "bounceType": "Soft"})),
    json.dumps(bounce(bounce={**bounce()["bounce"], "bouncedRecipients": [{"emailAddress": "not an address"}]})),
    json.dumps(bounce(bounce={**bounce()["bounce"], "bouncedRecipients": []})),
])
def test_anything_else_is_invalid(body: str) -> None:
    with pytest.raises(InvalidEnvelope):
        email_feedback.parse(body)
