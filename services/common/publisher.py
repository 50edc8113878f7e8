"""Publishing an envelope to SNS (events) or SQS (commands), with the `type` message attribute.

The SNS subscriptions filter on the `type` attribute (contract.EVENT_TYPE_ATTRIBUTE) and use raw message
delivery, so the SQS body a consumer receives is exactly the envelope JSON published here.

An outbox record names its destination by the contract's logical name (``topic/order-events``,
``queue/inventory-reservations``; :func:`destination_of` from the event type). Records written before that name
the environment variable holding the physical name (``TOPIC_ARN_ORDER_EVENTS``); both are read. A record that can
no longer be published (its destination is gone from the contract or this service does not publish there, or its
payload fails the current schema) raises :class:`Undeliverable`: the relays set it aside (dead-letter it) with the
reason instead of retrying it forever in front of the records behind it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from contract import CONTRACT, EVENT_TYPE_ATTRIBUTE, Destination, DestinationKind, Service, env_var

from common import aws, telemetry
from common.envelope import InvalidEnvelope, validate
from common.tracing import producer_span

__all__ = ["EVENT_TYPE_ATTRIBUTE", "Publisher", "Undeliverable", "destination_of", "read_destination"]

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
        target = read_destination(destination)
        if target is None:
            raise Undeliverable(self.service, f"destination {destination!r} is not in the contract")
        if target not in self._physical:
            raise Undeliverable(self.service, f"{self.service} does not publish to {target}")
        try:
            message = json.loads(payload)
            validate(message)  # a record that no longer validates must not reach consumers
        except InvalidEnvelope as exc:
            raise Undeliverable(self.service, f"payload fails its schema: {exc}") from None
        except ValueError as exc:
            raise Undeliverable(self.service, f"payload is not JSON: {exc}") from None
        attrs = {EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event_type}}
        system = "aws_sns" if target.kind is DestinationKind.TOPIC else "aws_sqs"
        # In the trace of the request or message that wrote the record.
        with producer_span(target.name, message, system=system):
            if target.kind is DestinationKind.TOPIC:
                aws.client("sns").publish(TopicArn=self._physical[target], Message=payload, MessageAttributes=attrs)
            else:
                aws.client("sqs").send_message(QueueUrl=self._physical[target], MessageBody=payload,
                                               MessageAttributes=attrs)
