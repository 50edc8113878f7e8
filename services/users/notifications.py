"""The notifier: tells customers by email (Amazon SES) when their order is confirmed, cancelled or rejected.

Where it lives: in the users service's worker. The users service owns what a notification needs besides the order,
the customer's email address, name and preferences (language, opt-outs), and the suppression list that bounces and
complaints feed; a separate service would have to copy all of it from user events or call the users API for every
mail. It has the users table (the notification records live there) and the outbox relay already; the notifier adds
two consumers and one loop to its worker Deployment, and SES rights to its role.

How a status change becomes exactly one email:

1. **Record.** The consumer of the users-order-events queue (OrderConfirmed, OrderCancelled from the order-events
   topic) writes one notification item per (order, status), ``pk=NOTIFICATION#<order id>``,
   ``sk=STATUS#<status>``, with a conditional put: a redelivered or republished event finds it and changes nothing.
   The item is due at once: it is in the sparse NotificationsDue index (``due_shard``, ``due_at``). Only DynamoDB is
   needed here, so the SQS message is deleted whatever state SES is in: an SES outage never holds the queue, and
   the order workflow never waits for mail (orders publishes and moves on; nothing in it reads this).
2. **Claim.** The sender loop queries the index for items due by now and claims each with a conditional update
   that moves ``due_at`` to the end of a lease (``LEASE_SECONDS``): of several worker replicas one wins; an item whose
   sender died is due again when its lease ends.
3. **Decide and send.** The sender reads the profile: no profile, order updates switched off, or a suppressed
   address end the item as SKIPPED (with the reason). Otherwise it renders the email in the user's language and
   calls SESv2 SendEmail once (no SDK retry: a retried request whose first attempt SES accepted would mail twice).
4. **Mark.** SENT with SES's message id, removed from the index; kept ``RETENTION_DAYS`` (longer than any message or
   DLQ retention, so a redrive still finds it), then TTL deletes it.

SES refusing or unreachable: a throttle, quota, paused sending, 5xx, timeout or a connection failure leaves the
item due again after an exponential backoff (``RETRY_BASE_SECONDS`` doubling to ``RETRY_MAX_SECONDS``), and the
loop backs off (it claims nothing more until SES answers), for up to ``GIVE_UP_SECONDS``; then the item ends FAILED.
SES rejecting this message (BadRequest, MessageRejected) ends it FAILED at once. Every failed attempt counts in the
NotificationSendFailures metric, which alarms.

What can still go wrong, honestly: SES accepted the mail but the process died (or DynamoDB refused the SENT mark for
longer than ``MARK_RETRY_SECONDS``) before the item was marked SENT. The lease then ends and the mail is sent a
second time. The window is the time between SES's answer and the mark (milliseconds; the mark is retried for
``MARK_RETRY_SECONDS`` inside the lease), plus a send whose answer never came back (a read timeout after SES
accepted): in both cases a duplicate is preferred to a lost notification. A process paused for longer than the lease
in the middle of a send (a frozen node) could also let another replica send; the lease is ten times the SES call's
timeout. Nothing can make an email and a database write atomic; SES has no idempotency key for SendEmail.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formataddr
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from common import aws, ddb, liveness, telemetry
from common.ddb import from_item, to_item, values
from common.envelope import Envelope
from contract import EventType, OrderStatus

from users import email_feedback, messages, preferences

log = logging.getLogger("users.notifications")

KIND = "order_updates"  # the opt-out (preferences.notifications.email.<kind>) an order update obeys
DUE_INDEX = "NotificationsDue"  # config/topology.py, the users table
DUE_SHARDS = 1  # at most one notification per order status: far below one index partition's write rate
LEASE_SECONDS = 120
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 900.0
GIVE_UP_SECONDS = 3 * 24 * 3600
MARK_RETRY_SECONDS = 60.0
RETENTION_DAYS = 30
IDLE_SECONDS = 1.0
LOOP_MAX_BACKOFF_SECONDS = 30.0
# Metrics (EMF, common/telemetry.py): what the users service's alarms and dashboard read.
SENT_METRIC = telemetry.NOTIFICATIONS_SENT_METRIC
FAILURES_METRIC = telemetry.NOTIFICATION_SEND_FAILURES_METRIC
BACKLOG_METRIC = telemetry.NOTIFICATION_BACKLOG_METRIC
# SESv2 errors that are about this message, so that retrying cannot help (every other error is the account's, the
# configuration's or the service's, and may clear: throttling, quota, paused sending, missing configuration set,
# access denied while a policy is fixed, 5xx).
PERMANENT_SES_ERRORS = frozenset({"BadRequestException", "MessageRejected"})
# OrderCancelled carries its status (CANCELLED or REJECTED).
STATUS_OF_EVENT: dict[str, str] = {EventType.ORDER_CONFIRMED: OrderStatus.CONFIRMED}


class SesUnavailable(RuntimeError):
    """SES could not take the mail now; the item is due again later and the sender loop backs off."""


def stamp(epoch: float) -> str:
    """A fixed-width UTC time: the index's sort key, so string order is time order."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def retry_delay(attempts: int) -> float:
    return float(min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def is_permanent(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) in PERMANENT_SES_ERRORS
    return isinstance(exc, ParamValidationError)


def ses_client() -> Any:
    # One attempt per call: the notifier's own schedule retries, after the lease protects the item.
    return aws.client("sesv2", max_attempts=1)


@dataclass(frozen=True)
class Sender:
    """Who the notifications come from: an address of the SES identity, its display name, the configuration set."""

    address: str
    name: str
    configuration_set: str

    @property
    def from_header(self) -> str:
        return formataddr((self.name, self.address))


class Notifier:
    def __init__(self, *, table: str, sender: Sender, ses: Any | None = None,
                 clock: Callable[[], float] = time.time, service: str = "users") -> None:
        self.table = table
        self.sender = sender
        self.ses = ses if ses is not None else ses_client()
        self.clock = clock
        self.service = service

    # --- 1. record (the users-order-events consumer) ---------------------------------------------------------
    def on_order_event(self, event: Envelope) -> None:
        d = event.data
        status = STATUS_OF_EVENT.get(event.type) or str(d.get("status", OrderStatus.CANCELLED))
        if status not in messages.STATUSES:
            log.warning("no notification for this order status", extra={"order_id": d["order_id"], "status": status})
            return
        now = self.clock()
        item = {"pk": f"NOTIFICATION#{d['order_id']}", "sk": f"STATUS#{status}", "kind": KIND,
                "user_id": d["customer_id"], "order_id": d["order_id"], "order_status": status,
                "total_cents": d.get("total_cents"), "currency": d.get("currency"), "reason": d.get("reason"),
                "event_id": event.id, "correlation_id": event.correlation_id, "created_at": stamp(now),
                "state": "PENDING", "attempts": 0,
                "due_shard": self._shard(str(d["order_id"])), "due_at": stamp(now)}
        try:
            aws.client("dynamodb").put_item(TableName=self.table, Item=to_item(item),
                                            ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if ddb.is_conditional_failure(exc):
                log.info("notification already recorded", extra={"order_id": d["order_id"], "status": status})
                return
            raise
        log.info("notification recorded", extra={"order_id": d["order_id"], "status": status})

    @staticmethod
    def _shard(order_id: str) -> str:
        return f"N{sum(order_id.encode()) % DUE_SHARDS}"

    # --- 2-4. claim, send, mark (the sender loop) ------------------------------------------------------------
    def send_due(self, limit: int = 25) -> int:
        """Claim and handle the items due by now; how many were handled. Raises SesUnavailable when SES failed
        (the item is rescheduled first), so that the loop backs off instead of failing every due item in turn."""
        handled = 0
        ddb_client = aws.client("dynamodb")
        for shard in range(DUE_SHARDS):
            resp = ddb_client.query(
                TableName=self.table, IndexName=DUE_INDEX,
                KeyConditionExpression="due_shard = :s AND due_at <= :now",
                ExpressionAttributeValues=values(s=f"N{shard}", now=stamp(self.clock())), Limit=limit)
            for raw in resp.get("Items", []):
                claimed = self._claim(from_item(raw))
                if claimed is None:
                    continue
                try:
                    self._deliver(claimed)
                except (SesUnavailable, ClientError, BotoCoreError):
                    raise  # the item is due again (rescheduled, or when its lease ends)
                except Exception as exc:  # a bug meeting this item: end it rather than retry it forever
                    log.exception("notification failed", extra={"order_id": claimed["order_id"]})
                    telemetry.emit(FAILURES_METRIC, 1, self.service)
                    self._end(claimed, "FAILED", reason=f"internal error: {type(exc).__name__}: {exc}"[:500])
                handled += 1
        return handled

    def due_count(self) -> int:
        """Items not yet sent or ended: due now, or waiting for a retry or a lease to end."""
        ddb_client = aws.client("dynamodb")
        return sum(int(ddb_client.query(TableName=self.table, IndexName=DUE_INDEX,
                                        KeyConditionExpression="due_shard = :s",
                                        ExpressionAttributeValues=values(s=f"N{shard}"),
                                        Select="COUNT").get("Count", 0))
                   for shard in range(DUE_SHARDS))

    def _claim(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        now = self.clock()
        try:
            resp = aws.client("dynamodb").update_item(
                TableName=self.table, Key=to_item({"pk": rec["pk"], "sk": rec["sk"]}),
                UpdateExpression="SET due_at = :lease ADD attempts :one",
                ConditionExpression="attribute_exists(due_shard) AND due_at <= :now",
                ExpressionAttributeValues=values(lease=stamp(now + LEASE_SECONDS), now=stamp(now), one=1),
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            if ddb.is_conditional_failure(exc):
                return None  # another replica holds it, or it ended since the (eventually consistent) query
            raise
        return from_item(resp["Attributes"])

    def _deliver(self, rec: dict[str, Any]) -> None:
        context = {"order_id": rec["order_id"], "status": rec["order_status"], "attempt": rec["attempts"],
                   "correlation_id": rec.get("correlation_id")}
        profile = self._profile(str(rec["user_id"]))
        if profile is None:
            self._end(rec, "SKIPPED", reason="no profile for this customer")
            return
        prefs = preferences.of_profile(profile)
        if not prefs.email_wanted(KIND):
            self._end(rec, "SKIPPED", reason="order updates by email switched off")
            return
        address = str(profile["email"])
        if email_feedback.is_suppressed(self.table, address):
            self._end(rec, "SKIPPED", reason="address suppressed after a bounce or complaint")
            return
        mail = messages.order_update(
            language=prefs.language, status=str(rec["order_status"]), order_id=str(rec["order_id"]),
            name=str(profile.get("name") or address), sender_name=self.sender.name,
            total_cents=rec.get("total_cents"), currency=rec.get("currency"), reason=rec.get("reason"))
        try:
            resp = self.ses.send_email(
                FromEmailAddress=self.sender.from_header, Destination={"ToAddresses": [address]},
                Content={"Simple": {"Subject": {"Data": mail.subject, "Charset": "UTF-8"},
                                    "Body": {"Text": {"Data": mail.body, "Charset": "UTF-8"}}}},
                ConfigurationSetName=self.sender.configuration_set,
                EmailTags=[{"Name": "kind", "Value": KIND}, {"Name": "status", "Value": str(rec["order_status"])}])
        except (ClientError, BotoCoreError) as exc:
            telemetry.emit(FAILURES_METRIC, 1, self.service)
            error = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
            if is_permanent(exc):
                log.error("SES refused the notification", extra={**context, "error": error})
                self._end(rec, "FAILED", reason=f"refused by SES: {error}")
                return
            if self.clock() - _epoch(str(rec["created_at"])) > GIVE_UP_SECONDS:
                log.error("notification given up", extra={**context, "error": error})
                self._end(rec, "FAILED", reason=f"gave up after {rec['attempts']} attempts: {error}")
                return
            delay = retry_delay(int(rec["attempts"]))
            self._reschedule(rec, delay, error)
            log.warning("SES unavailable; notification will be retried", extra={**context, "error": error,
                                                                                 "retry_in": delay})
            raise SesUnavailable(error) from exc
        telemetry.emit(SENT_METRIC, 1, self.service)
        self._end(rec, "SENT", message_id=str(resp.get("MessageId", "")), language=mail.language,
                  retry_for=MARK_RETRY_SECONDS)
        log.info("notification sent", extra={**context, "language": mail.language})

    def _profile(self, user_id: str) -> dict[str, Any] | None:
        item = aws.client("dynamodb").get_item(TableName=self.table, ConsistentRead=True,
                                               Key=to_item({"pk": f"USER#{user_id}", "sk": "PROFILE"})).get("Item")
        return from_item(item) if item else None

    def _reschedule(self, rec: dict[str, Any], delay: float, error: str) -> None:
        aws.client("dynamodb").update_item(
            TableName=self.table, Key=to_item({"pk": rec["pk"], "sk": rec["sk"]}),
            UpdateExpression="SET due_at = :next, last_error = :error",
            ConditionExpression="attribute_exists(due_shard)",
            ExpressionAttributeValues=values(next=stamp(self.clock() + delay), error=error))

    def _end(self, rec: dict[str, Any], state: str, *, retry_for: float = 0.0, **outcome: str) -> None:
        """The item's final state, out of the index. ``retry_for``: keep trying that long (the SENT mark: until it
        lands, the lease is all that stands between this mail and a second one)."""
        now = self.clock()
        fields = {"state": state, "ended_at": stamp(now),
                  "expires_at": int(now) + RETENTION_DAYS * 24 * 3600, **outcome}
        names = {f"#{k}": k for k in fields}
        deadline = time.monotonic() + retry_for
        while True:
            try:
                aws.client("dynamodb").update_item(
                    TableName=self.table, Key=to_item({"pk": rec["pk"], "sk": rec["sk"]}),
                    UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields) + " REMOVE due_shard, due_at",
                    ExpressionAttributeNames=names, ExpressionAttributeValues=values(**fields))
                return
            except (ClientError, BotoCoreError) as exc:
                if time.monotonic() >= deadline:
                    raise
                log.warning("could not mark the notification; retrying",
                            extra={"order_id": rec["order_id"], "state": state, "error": repr(exc)})
                time.sleep(1.0)


def _epoch(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def sender_loop(notifier: Notifier) -> Callable[[threading.Event], None]:
    """The worker loop of steps 2-4: send what is due, idle a second when nothing is, back off while SES or DynamoDB
    fails; report the backlog (NotificationBacklog) about once a minute."""

    def run(stop: threading.Event) -> None:
        backoff = 0.5
        next_report = 0.0
        log.info("notification sender started")
        while not stop.is_set():
            liveness.beat()
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + telemetry.METRICS_INTERVAL_SECONDS
                try:
                    telemetry.emit(BACKLOG_METRIC, notifier.due_count(), notifier.service)
                except (ClientError, BotoCoreError) as exc:
                    log.warning("could not count the notification backlog", extra={"error": repr(exc)})
            try:
                handled = notifier.send_due()
            except (SesUnavailable, ClientError, BotoCoreError) as exc:
                log.warning("notifications paused; will retry", extra={"error": repr(exc), "retry_in": backoff})
                liveness.sleep(stop, backoff)
                backoff = min(backoff * 2, LOOP_MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.5
            if handled == 0:
                liveness.sleep(stop, IDLE_SECONDS)
        log.info("notification sender stopped")

    return run
