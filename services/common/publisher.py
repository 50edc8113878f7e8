"""Publishing an envelope to SNS (events) or SQS (commands), with the `type` message attribute.

The SNS subscriptions filter on the `type` attribute (contract.EVENT_TYPE_ATTRIBUTE) and use raw message
delivery, so the SQS body a consumer receives is exactly the envelope JSON published here.

An outbox record names its destination by the contract's logical name (``topic/order-events``,
``queue/inventory-reservations``; :func:`destination_of` from the event type). Records written before that name
the environment variable holding the physical name (``TOPIC_ARN_ORDER_EVENTS``); both are read. A record that can
no longer be published (its destination is gone from the contract or this service does not publish there, or its
payload fails the current schema) raises :class:`Undeliverable`: the relays set it aside (dead-letter it) with the
reason instead of retrying it forever in front of the records behind it.

:meth:`Publisher.publish_many` sends records in batches (SNS PublishBatch, SQS SendMessageBatch: up to 10 messages
and 256 KiB a call): the outbox relays and the after-commit flusher publish every record they hold that way. An AWS
call costs the process about as much CPU as the work of placing an order (botocore's request building, signing and
parsing), so one call per record made publishing most of the orders API's CPU (docs/performance.md); batched, a
backlog of N records costs about N/10 calls. Each record keeps its own outcome: a batch's failed entries stay
pending (retried later), an undeliverable one is set aside, the others are published.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contract import CONTRACT, EVENT_TYPE_ATTRIBUTE, Destination, DestinationKind, Service, env_var

from common import aws, telemetry
from common.envelope import InvalidEnvelope, validate
from common.tracing import producer_span

__all__ = ["EVENT_TYPE_ATTRIBUTE", "Publish", "Publisher", "Record", "Undeliverable", "destination_of", "publish_all",
           "read_destination"]

BATCH_ENTRIES = 10  # PublishBatch and SendMessageBatch take at most 10 entries
BATCH_BYTES = 256 * 1024  # and at most 256 KiB of messages and attributes in all
Record = tuple[str, str, str]  # an outbox record: (stored destination, event type, payload JSON)

log = logging.getLogger("outbox")
_LEGACY: dict[str, Destination] = {
    **{env_var("topic", t.name): Destination(DestinationKind.TOPIC, t.name) for t in CONTRACT.topics},
    **{env_var("queue", q.name): Destination(DestinationKind.QUEUE, q.name) for q in CONTRACT.queues},
}


class Undeliverable(Exception):
    """An outbox record that no retry can publish; ``reason`` says why."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(reason)
        self.service = service
        self.reason = reason


def destination_of(event_type: str) -> str:
    """The destination an outbox record of this type stores: its topic or command queue in the contract."""
    return str(CONTRACT.destination_of(event_type))


def read_destination(stored: str) -> Destination | None:
    """A stored destination, in either form (``topic/order-events`` or the older ``TOPIC_ARN_ORDER_EVENTS``);
    None when it names nothing the contract knows."""
    if stored in _LEGACY:
        return _LEGACY[stored]
    try:
        destination = Destination.parse(stored)
    except ValueError:
        return None
    return destination if CONTRACT.has_destination(destination) else None


def dead_lettered(exc: Undeliverable, record_id: str, event_type: str, destination: str) -> None:
    """Report a record set aside: an error line with the reason, and one OutboxDeadLettered data point (alarmed)."""
    log.error("outbox record dead-lettered: it can no longer be published",
              extra={"record_id": record_id, "event_type": event_type, "destination": destination,
                     "reason": exc.reason})
    telemetry.emit(telemetry.OUTBOX_DEAD_LETTERED_METRIC, 1, exc.service)


class Publisher:
    def __init__(self, service: Service, physical: Mapping[Destination, str]) -> None:
        # logical destination -> topic ARN / queue URL, for the service's own topics and command queues
        self.service = service
        self._physical = dict(physical)

    def publish(self, destination: str, event_type: str, payload: str) -> None:
        target, message = self._checked(destination, payload)
        attrs = _attributes(event_type)
        # In the trace of the request or message that wrote the record.
        with producer_span(target.name, message, system=_system(target)):
            if target.kind is DestinationKind.TOPIC:
                aws.client("sns").publish(TopicArn=self._physical[target], Message=payload, MessageAttributes=attrs)
            else:
                aws.client("sqs").send_message(QueueUrl=self._physical[target], MessageBody=payload,
                                               MessageAttributes=attrs)

    def publish_many(self, records: Sequence[Record], *, validated: bool = False) -> list[Exception | None]:
        """Publish ``records`` in batches per destination; what each came to, in order: None (published),
        Undeliverable (never will be), or the error that kept it from being published this time. ``validated``:
        this process validated the payloads against the schemas it has now (it wrote them moments ago: the
        after-commit flusher), so they are not validated again."""
        outcomes: list[Exception | None] = [None] * len(records)
        by_target: dict[Destination, list[tuple[int, str, str, dict[str, Any]]]] = {}
        for i, (destination, event_type, payload) in enumerate(records):
            try:
                target, message = self._checked(destination, payload, validate_payload=not validated)
            except Undeliverable as exc:
                outcomes[i] = exc
                continue
            by_target.setdefault(target, []).append((i, event_type, payload, message))
        batches = [(target, batch) for target, entries in by_target.items() for batch in _batches(entries)]
        for n, (target, batch) in enumerate(batches):
            try:
                failed = self._send_batch(target, batch)
            except Exception as exc:  # the call failed (AWS unreachable...): the rest waits for the next attempt
                for _, later in batches[n:]:
                    for i, *_ in later:
                        outcomes[i] = exc
                break
            for i, error in failed.items():
                outcomes[i] = error
        return outcomes

    def _send_batch(self, target: Destination, batch: list[tuple[int, str, str, dict[str, Any]]]
                    ) -> dict[int, Exception]:
        """One PublishBatch / SendMessageBatch call; the entries it did not publish, with why."""
        with contextlib.ExitStack() as spans:
            # A PRODUCER span per record, each in the trace of the request or message that wrote it (the AWS
            # call's own span lands in the trace of the batch's last record).
            for _, _, _, message in batch:
                spans.enter_context(producer_span(target.name, message, system=_system(target)))
            if target.kind is DestinationKind.TOPIC:
                response = aws.client("sns").publish_batch(TopicArn=self._physical[target], PublishBatchRequestEntries=[
                    {"Id": str(i), "Message": payload, "MessageAttributes": _attributes(event_type)}
                    for i, event_type, payload, _ in batch])
            else:
                response = aws.client("sqs").send_message_batch(QueueUrl=self._physical[target], Entries=[
                    {"Id": str(i), "MessageBody": payload, "MessageAttributes": _attributes(event_type)}
                    for i, event_type, payload, _ in batch])
        return {int(f["Id"]): PublishFailed(str(f.get("Code")), str(f.get("Message", "")))
                for f in response.get("Failed", [])}

    def _checked(self, destination: str, payload: str, *,
                 validate_payload: bool = True) -> tuple[Destination, dict[str, Any]]:
        """The record's target and its message, or Undeliverable when no retry can publish it."""
        target = read_destination(destination)
        if target is None:
            raise Undeliverable(self.service, f"destination {destination!r} is not in the contract")
        if target not in self._physical:
            raise Undeliverable(self.service, f"{self.service} does not publish to {target}")
        try:
            message = json.loads(payload)
            if validate_payload:
                validate(message)  # a record that no longer validates must not reach consumers
        except InvalidEnvelope as exc:
            raise Undeliverable(self.service, f"payload fails its schema: {exc}") from None
        except ValueError as exc:
            raise Undeliverable(self.service, f"payload is not JSON: {exc}") from None
        return target, message


class PublishFailed(Exception):
    """An entry of a batch that SNS or SQS did not accept (its code and message): it stays pending."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


Publish = Callable[[str, str, str], None] | Publisher


def publish_all(publish: Publish, records: Sequence[Record], *, validated: bool = False) -> list[Exception | None]:
    """``records`` through a Publisher's batches, or one by one through a plain publish function (tests' doubles);
    the outcome of each as :meth:`Publisher.publish_many` gives it."""
    if isinstance(publish, Publisher):
        return publish.publish_many(records, validated=validated)
    outcomes: list[Exception | None] = []
    for n, record in enumerate(records):
        try:
            publish(*record)
            outcomes.append(None)
        except Undeliverable as exc:
            outcomes.append(exc)
        except Exception as exc:  # as a failed batch call: the rest waits for the next attempt
            return outcomes + [exc] * (len(records) - n)
    return outcomes


def _attributes(event_type: str) -> dict[str, Any]:
    return {EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event_type}}


def _system(target: Destination) -> str:
    return "aws_sns" if target.kind is DestinationKind.TOPIC else "aws_sqs"


def _batches(entries: list[tuple[int, str, str, dict[str, Any]]]) -> list[list[tuple[int, str, str, dict[str, Any]]]]:
    """Consecutive entries in batches of at most BATCH_ENTRIES and BATCH_BYTES (a message's bytes plus its type
    attribute; a single record over the limit goes alone, and AWS answers for it)."""
    out: list[list[tuple[int, str, str, dict[str, Any]]]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry[2].encode()) + len(EVENT_TYPE_ATTRIBUTE) + len(entry[1]) + len("String")
        if not out or len(out[-1]) == BATCH_ENTRIES or size + entry_size > BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(entry)
        size += entry_size
    return out
