"""SQS consumer loop.

Long-polls a queue, validates each message against its schema, hands it to the handler for its type and deletes it
only after the handler returned. Handlers apply each event id at most once by writing a dedupe record in the same
transaction as the effect, so a redelivery is harmless. A message that fails (invalid, unknown type, handler error)
is not deleted: its visibility is extended with exponential backoff and, after the queue's maxReceiveCount, SQS's
redrive policy moves it to the DLQ. On stop (SIGTERM) the message in hand is finished; the rest of the batch is made
visible again at once for another replica.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from common import aws
from common.envelope import Envelope, InvalidEnvelope
from common.envelope import parse as parse_envelope
from common.logging import correlation_id_var, trace_id_var
from common.tracing import consumer_span

Handler = Callable[[Envelope], None]
log = logging.getLogger("consumer")

MAX_BACKOFF_SECONDS = 300


class Consumer:
    """``parse``: how a body becomes an envelope (the platform's envelope JSON by default; an adapter for a queue
    fed by an AWS service in its own format). It raises InvalidEnvelope for anything that must not be applied."""

    def __init__(self, name: str, queue_url: str, handlers: Mapping[str, Handler], wait_seconds: int = 20, *,
                 parse: Callable[[str], Envelope] = parse_envelope) -> None:
        self.name = name
        self.queue_url = queue_url
        self.handlers = dict(handlers)
        self.wait_seconds = wait_seconds
        self.parse = parse

    def run(self, stop: threading.Event) -> None:
        sqs = aws.client("sqs")
        log.info("consumer started", extra={"queue": self.name})
        while not stop.is_set():
            try:
                resp = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self.wait_seconds,
                    AttributeNames=["ApproximateReceiveCount"],
                    MessageAttributeNames=["All"],
                )
            except Exception:
                log.exception("receive failed", extra={"queue": self.name})
                stop.wait(2.0)
                continue
            messages: list[dict[str, Any]] = resp.get("Messages", [])
            for i, message in enumerate(messages):
                if stop.is_set():
                    self._release(messages[i:])
                    break
                self.handle(message)
        log.info("consumer stopped", extra={"queue": self.name})

    def handle(self, message: dict[str, Any]) -> bool:
        sqs = aws.client("sqs")
        receipt = message["ReceiptHandle"]
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        cid_token = correlation_id_var.set(None)
        trace_token = trace_id_var.set(None)
        try:
            try:
                envelope = self.parse(message["Body"])
            except InvalidEnvelope as exc:
                log.error(
                    "invalid message left for the DLQ",
                    extra={"queue": self.name, "message_id": message.get("MessageId"), "error": str(exc),
                           "receive_count": receives},
                )
                self._backoff(receipt, receives)
                return False
            correlation_id_var.set(envelope.correlation_id)
            trace_id_var.set(envelope.trace_id)
            handler = self.handlers.get(envelope.type)
            if handler is None:
                log.error("no handler for event type", extra={"queue": self.name, "event_type": envelope.type})
                self._backoff(receipt, receives)
                return False
            try:
                with consumer_span(self.name, envelope.to_dict()):  # continues the trace in the envelope
                    handler(envelope)
            except Exception:
                log.exception(
                    "handler failed; message left for retry",
                    extra={"queue": self.name, "event_type": envelope.type, "event_id": envelope.id,
                           "receive_count": receives},
                )
                self._backoff(receipt, receives)
                return False
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
            log.info("event applied", extra={"queue": self.name, "event_type": envelope.type, "event_id": envelope.id})
            return True
        finally:
            correlation_id_var.reset(cid_token)
            trace_id_var.reset(trace_token)

    def _backoff(self, receipt: str, receives: int) -> None:
        # Exponential backoff between attempts instead of the queue's fixed visibility timeout: transient failures
        # (database restarting) get time to clear, and a poison message still reaches the DLQ in bounded time.
        try:
            aws.client("sqs").change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=min(2**receives, MAX_BACKOFF_SECONDS)
            )
        except Exception:
            log.exception("could not set backoff visibility", extra={"queue": self.name})

    def _release(self, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            try:
                aws.client("sqs").change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            except Exception:
                log.exception("could not release message", extra={"queue": self.name})
