"""Bounces and complaints: SES's events for the notifications configuration set, and the suppression they cause.

SES publishes each event to the email-events topic in its own JSON (``eventType``, ``mail``, ``bounce`` or
``complaint``; Amazon SES developer guide, "Event publishing data"), not in the platform's envelope; the
users-email-events queue receives it raw. :func:`parse` reads that JSON into an envelope (EmailBounced or
EmailComplained, validated against their schemas like any event), so the shared consumer loop applies it, and a
message that is not a bounce or a complaint SES could have sent is invalid and goes to the queue's DLQ.

A permanent bounce or a complaint suppresses each address it names: a ``SUPPRESSED#<address>`` item, written once
(a redelivery changes nothing). The notifier never mails a suppressed address. A transient bounce (mailbox full,
message too large) suppresses nothing. Lifting a suppression is an operator's decision: delete the item.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from common import aws, ddb
from common.ddb import to_item
from common.envelope import Envelope, InvalidEnvelope
from common.logging import new_id
from contract import EventType

SOURCE = "ses"
log = logging.getLogger("users.email_feedback")


def _addresses(recipients: Any) -> list[str]:
    return [str(r["emailAddress"]).strip().lower() for r in recipients]


def parse(body: str) -> Envelope:
    """An SES bounce or complaint event as an EmailBounced / EmailComplained envelope; InvalidEnvelope otherwise."""
    try:
        raw = json.loads(body)
        if not isinstance(raw, dict):
            raise InvalidEnvelope(f"not a JSON object: {type(raw).__name__}")
        kind = raw.get("eventType")
        mail = raw.get("mail") or {}
        if kind == "Bounce":
            detail = raw["bounce"]
            event_type = EventType.EMAIL_BOUNCED
            data: dict[str, Any] = {"addresses": _addresses(detail["bouncedRecipients"]),
                                    "bounce_type": detail["bounceType"],
                                    "bounce_sub_type": detail["bounceSubType"]}
        elif kind == "Complaint":
            detail = raw["complaint"]
            event_type = EventType.EMAIL_COMPLAINED
            data = {"addresses": _addresses(detail["complainedRecipients"]),
                    "complaint_feedback_type": detail.get("complaintFeedbackType")}
        else:
            raise InvalidEnvelope(f"not an SES bounce or complaint event (eventType {kind!r})")
        feedback_id = str(detail["feedbackId"])
        data |= {"feedback_id": feedback_id, "ses_message_id": str(mail.get("messageId", ""))}
        when = detail.get("timestamp")
        event = Envelope(
            type=event_type, source=SOURCE, data=data,
            # SES's feedback id names the event; the envelope's id has a bounded length, so it is derived from it.
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"ses:{kind}:{feedback_id}")),
            time=when if isinstance(when, str) and when else
            datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            correlation_id=str(mail.get("messageId") or new_id())[:128], trace_id=None)
    except InvalidEnvelope:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidEnvelope(f"not an SES event: {type(exc).__name__}: {str(exc)[:200]}") from None
    return event.validate()


def _key(address: str) -> dict[str, Any]:
    return to_item({"pk": f"SUPPRESSED#{address.strip().lower()}", "sk": "SUPPRESSED"})


def is_suppressed(table: str, address: str) -> bool:
    item = aws.client("dynamodb").get_item(TableName=table, Key=_key(address), ConsistentRead=True)
    return "Item" in item


class FeedbackHandlers:
    def __init__(self, table: str) -> None:
        self.table = table

    def on_bounced(self, event: Envelope) -> None:
        d = event.data
        if d["bounce_type"] != "Permanent":
            log.info("transient bounce: address kept", extra={"bounce_type": d["bounce_type"],
                                                              "bounce_sub_type": d["bounce_sub_type"],
                                                              "ses_message_id": d["ses_message_id"]})
            return
        for address in d["addresses"]:
            self._suppress(address, f"bounce: {d['bounce_type']}/{d['bounce_sub_type']}", event)

    def on_complained(self, event: Envelope) -> None:
        d = event.data
        for address in d["addresses"]:
            self._suppress(address, f"complaint: {d.get('complaint_feedback_type') or 'unspecified'}", event)

    def _suppress(self, address: str, reason: str, event: Envelope) -> None:
        item = {"address": address.strip().lower(), "reason": reason, "feedback_id": event.data["feedback_id"],
                "ses_message_id": event.data["ses_message_id"], "reported_at": event.time,
                "suppressed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        try:
            aws.client("dynamodb").put_item(TableName=self.table, Item={**_key(address), **to_item(item)},
                                            ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if ddb.is_conditional_failure(exc):
                return  # suppressed before: the first reason stays
            raise
        log.warning("address suppressed", extra={"reason": reason, "ses_message_id": event.data["ses_message_id"]})
