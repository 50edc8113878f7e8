"""SQS consumer loop.

Long-polls a queue, validates each message against its schema, hands it to the handler for its type and deletes it
only after the handler returned. Handlers apply each event id at most once by writing a dedupe record in the same
transaction as the effect, so a redelivery is harmless.

What happens to a message that fails depends on why (common/failures.py), never on how often it was received:

* invalid (anything raised while decoding or validating it: not JSON, RecursionError on nested brackets, schema),
  no handler for its type, or a permanent handler failure (a business rule, a value the store cannot hold): the
  consumer copies it to the queue's dead-letter queue with the reason in message attributes (``dlq.*``), then
  deletes it. One receive, no retries.
* a dependency unavailable (database, pool, AWS endpoint, throttling): the message is retried with exponential
  backoff (its visibility), and the consumer stops receiving (backpressure): the rest of the batch is handed back
  for when it expects to resume, and it waits, backing off, until ``probe`` (a cheap call to the same dependency)
  succeeds, instead of burning receives on messages it cannot apply.
* an ordering wait (RetryLater): retried on its own, shorter schedule; the other messages go on.
* a transient failure (either of the last two) older than the retry budget (hours, from config) is dead-lettered
  with that reason.

The queue's redrive policy (maxReceiveCount, raised by config above any count the schedules can reach within the
budget) is only a safety net for messages that crash the process itself. AWS calls use the shared clients
(botocore standard retries). The messages of one receive that are done with (applied or dead-lettered) are deleted
together, one DeleteMessageBatch when the receive's messages have been handled (sooner before a pause, on stop, or
once the first of them has waited DELETE_WITHIN_SECONDS): a delete per message was a third to a half of a worker's
CPU per event. A delete that fails, the whole call or one entry of it, is logged and that message simply comes back
(its effect is recognised and it is deleted then); its batch-mates are deleted all the same. A message that failed
is never in the batch: it stays, with the visibility its retry schedule gave it. On stop (SIGTERM) the message in
hand is finished; the rest of the batch is made visible again at once for another replica.

Handled together: a service may give an event type a second handler that applies several messages of a receive at
once (``together``: a :class:`Together` in, the ids it applied out), where one call to the store can do the work of
several (the products worker applies only the newest of a product's stock levels, the inventory worker reserves
several orders in one transaction). It is an optimisation only: whatever it does not report applied, because it
declined, failed or raised, goes through the type's one-by-one handler afterwards with everything above (its retries,
its dead-lettering), so a handler-together must leave nothing half-done that the one-by-one handler would not
recognise as done (both are idempotent by the same markers and conditions).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from contract import CONTRACT, Contract, HandlerRegistrationError, Service, env_var, handler_map
from contract.environment import CONSUMER

from common import aws, liveness
from common.config import optional_int
from common.envelope import Envelope, InvalidEnvelope
from common.envelope import parse as parse_envelope
from common.failures import Kind, classify, describe
from common.logging import correlation_id_var, trace_id_var
from common.tracing import consumer_span, consumer_spans
from common.worker import Backoff, handling_batch

Handler = Callable[[Envelope], None]
log = logging.getLogger("consumer")


class Together:
    """Messages of one receive, of one type, handed to a handler-together: ``envelopes`` in the order received.
    ``on_behalf_of(envelope)``: while it is held, events written are that message's consequences (its correlation id,
    and its consumer span as their trace parent), as they are inside a one-by-one handler."""

    def __init__(self, envelopes: list[Envelope], trace_ids: list[str | None]) -> None:
        self.envelopes = envelopes
        self._trace_ids = dict(zip((e.id for e in envelopes), trace_ids, strict=True))

    @contextmanager
    def on_behalf_of(self, envelope: Envelope) -> Iterator[None]:
        cid_token = correlation_id_var.set(envelope.correlation_id)
        trace_token = trace_id_var.set(self._trace_ids[envelope.id])
        try:
            yield
        finally:
            correlation_id_var.reset(cid_token)
            trace_id_var.reset(trace_token)


# Applies what it can of a Together, returns the ids of the envelopes it applied (see the module's docstring).
HandlerTogether = Callable[[Together], set[str]]

# Environment of every consuming service (contract/environment.py, rendered from config's MessagingConfig).
CONSUMER_ENV: tuple[str, ...] = CONSUMER
RETRY_BUDGET_ENV, BACKOFF_MAX_ENV, ORDERING_BACKOFF_MAX_ENV = CONSUMER
# Message attributes a dead-lettered message carries (SQS allows 10 attributes; the original `type` is kept).
DLQ_REASON = "dlq.reason"
DLQ_KIND = "dlq.kind"
DLQ_SOURCE = "dlq.source-queue"
DLQ_MESSAGE_ID = "dlq.message-id"
DLQ_RECEIVES = "dlq.receive-count"
DLQ_FIRST_RECEIVED = "dlq.first-received"
DLQ_ATTRIBUTE_PREFIX = "dlq."
MAX_MESSAGE_ATTRIBUTES = 10
MAX_MESSAGE_BYTES = 256 * 1024
PAUSE_SECONDS = (1.0, 30.0)  # backpressure: first and largest wait between probes of a dependency that is down
RECEIVE_RETRY_SECONDS = (1.0, 30.0)
VISIBILITY_LIMIT_SECONDS = 43_200  # SQS's maximum visibility timeout
# A message done with waits for its receive's batch delete at most this long (far within any visibility timeout):
# a slow batch-mate (a handler retrying a conflict) must not let it become visible again and be handled twice.
DELETE_WITHIN_SECONDS = 5.0


def dead_letter_env(queue_env: str) -> str:
    """``QUEUE_URL_ORDERS_PAYMENT_EVENTS`` -> ``DLQ_URL_ORDERS_PAYMENT_EVENTS`` (topology.env_var("dlq", ...))."""
    return "DLQ_URL_" + queue_env.removeprefix("QUEUE_URL_")


@dataclass(frozen=True)
class RetryPolicy:
    budget_seconds: int = 4 * 3600
    backoff_max_seconds: int = 300
    ordering_backoff_max_seconds: int = 120

    @classmethod
    def from_env(cls) -> RetryPolicy:
        d = cls()
        return cls(optional_int(RETRY_BUDGET_ENV, d.budget_seconds),
                   optional_int(BACKOFF_MAX_ENV, d.backoff_max_seconds),
                   optional_int(ORDERING_BACKOFF_MAX_ENV, d.ordering_backoff_max_seconds))

    def visibility(self, kind: Kind, receives: int) -> int:
        """Seconds until a message that failed ``receives`` times is seen again: 2, 4, 8 ... for a dependency down;
        1, 2, 4 ... for an ordering wait (the outcome it waits for is usually a moment away)."""
        if kind is Kind.RETRY_LATER:
            return min(2 ** min(max(receives - 1, 0), 20), self.ordering_backoff_max_seconds)
        return min(2 ** min(max(receives, 1), 20), self.backoff_max_seconds, VISIBILITY_LIMIT_SECONDS)


class Outcome(Enum):
    APPLIED = "applied"
    DEAD_LETTERED = "dead-lettered"
    RETRY = "retry"  # ordering wait: the consumer goes on with the next message
    UNAVAILABLE = "unavailable"  # a dependency is down: the consumer pauses


@dataclass(frozen=True)
class _Received:
    message_id: str
    receipt: str
    receives: int
    first_received_ms: int


class Consumer:
    """``parse``: how a body becomes an envelope (the platform's envelope JSON by default; an adapter for a queue
    fed by an AWS service in its own format). Whatever it raises, the message is dead-lettered with the reason."""

    def __init__(self, name: str, queue_url: str, handlers: Mapping[str, Handler], wait_seconds: int = 20, *,
                 dead_letter_url: str, policy: RetryPolicy | None = None,
                 probe: Callable[[], object] | None = None,
                 parse: Callable[[str], Envelope] = parse_envelope,
                 together: Mapping[str, HandlerTogether] | None = None) -> None:
        self.name = name
        self.queue_url = queue_url
        self.dead_letter_url = dead_letter_url
        self.handlers = dict(handlers)
        self.wait_seconds = wait_seconds
        self.policy = policy or RetryPolicy()
        self.probe = probe
        self.parse = parse
        self.together = {k: v for k, v in (together or {}).items() if k in self.handlers}
        self._done: list[tuple[_Received, str | None]] = []  # deletes not yet sent: (message, event id)
        self._done_since = 0.0

    @classmethod
    def from_env(cls, name: str, queue_env: str, handlers: Mapping[str, Handler], wait_seconds: int = 20, *,
                 probe: Callable[[], object] | None = None,
                 parse: Callable[[str], Envelope] = parse_envelope,
                 together: Mapping[str, HandlerTogether] | None = None) -> Consumer:
        """A consumer of the queue in ``$queue_env`` dead-lettering to its DLQ, with the configured retry policy.
        The service's settings have checked that these variables are set (contract/environment.py)."""
        return cls(name, os.environ[queue_env], handlers, wait_seconds, dead_letter_url=os.environ[
            dead_letter_env(queue_env)], policy=RetryPolicy.from_env(), probe=probe, parse=parse, together=together)


    @property
    def sqs(self) -> Any:
        # A long poll answers only when its wait is over: the read timeout must outlast it.
        return aws.client("sqs", read_timeout=self.wait_seconds + aws.READ_TIMEOUT_SECONDS)

    # --- the loop ----------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        log.info("consumer started", extra={"queue": self.name})
        receive_retry = Backoff(*RECEIVE_RETRY_SECONDS)
        pause = Backoff(*PAUSE_SECONDS)
        probing = False  # after an outage, take one message at a time until one is applied
        while not stop.is_set():
            liveness.beat()
            try:
                resp = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=1 if probing else 10,
                    WaitTimeSeconds=self.wait_seconds,
                    AttributeNames=["ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"],
                    MessageAttributeNames=["All"],
                )
            except Exception as exc:
                delay = receive_retry.next()
                log.warning("receive failed; retrying", extra={"queue": self.name, "error": repr(exc),
                                                               "retry_in": delay})
                liveness.sleep(stop, delay)
                continue
            receive_retry.reset()
            messages: list[dict[str, Any]] = resp.get("Messages", [])
            paused: float | None = None
            # While a receive's messages are handled, this process's outbox relay holds back what they commit, to
            # publish it together when they are done (common/worker.handling_batch).
            with handling_batch():
                parsed: dict[str, Envelope] = {}
                if self.together and len(messages) > 1:
                    messages, parsed, unavailable = self._handle_together(messages)
                    if unavailable:  # the dependency is down: none of the rest is tried before it answers again
                        paused = pause.next()
                        self._release(messages, int(paused) + 1)
                        messages = []
                for i, message in enumerate(messages):
                    liveness.beat()
                    if stop.is_set():
                        self._release(messages[i:], 0)
                        break
                    outcome = self.handle(message, parsed.get(message["ReceiptHandle"]))
                    if outcome is Outcome.UNAVAILABLE:
                        paused = pause.next()
                        self._release(messages[i + 1:], int(paused) + 1)  # untried: back when we expect to resume
                        break
                    if outcome is not Outcome.RETRY:
                        pause.reset()
                        probing = False
                    if self._done and time.monotonic() - self._done_since > DELETE_WITHIN_SECONDS:
                        self.flush_deletes()
                # before an outage's pause too: what was applied must not come back while the consumer waits
                self.flush_deletes()
            if paused is not None:
                self._pause(stop, paused, pause)
                probing = True
        log.info("consumer stopped", extra={"queue": self.name})

    def _pause(self, stop: threading.Event, delay: float, pause: Backoff) -> None:
        """Backpressure: receive nothing until the dependency answers the probe again."""
        started = time.monotonic()
        log.warning("dependency unavailable; receives paused", extra={"queue": self.name, "retry_in": delay})
        while not stop.is_set():
            liveness.sleep(stop, delay)
            if self.probe is None or stop.is_set():
                break
            try:
                self.probe()
                break
            except Exception as exc:
                delay = pause.next()
                log.info("dependency still unavailable", extra={"queue": self.name, "error": repr(exc),
                                                                "retry_in": delay})
        log.info("receives resumed", extra={"queue": self.name,
                                            "paused_seconds": round(time.monotonic() - started, 1)})

    # --- messages of a receive together ------------------------------------------------------------------------
    def _handle_together(self, messages: list[dict[str, Any]]
                         ) -> tuple[list[dict[str, Any]], dict[str, Envelope], bool]:
        """Give the messages of each type that has a handler-together to it, two or more at a time; the messages
        left for the one-by-one handlers, the envelopes parsed already (by receipt handle), and whether a handler
        found its dependency unavailable (the consumer then pauses instead of trying the rest one by one)."""
        cid_token = correlation_id_var.set(None)
        trace_token = trace_id_var.set(None)
        try:
            return self._together(messages)
        finally:
            correlation_id_var.reset(cid_token)
            trace_id_var.reset(trace_token)

    def _together(self, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Envelope], bool]:
        started_cpu = time.thread_time()
        parsed: dict[str, Envelope] = {}
        by_type: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            envelope = self._parsed(message)
            if envelope is None:  # dead-lettered with its reason by the one-by-one path
                continue
            parsed[message["ReceiptHandle"]] = envelope
            if envelope.type in self.together:
                by_type.setdefault(envelope.type, []).append(message)
        parse_cpu = (time.thread_time() - started_cpu) / len(messages)
        applied_receipts: set[str] = set()
        unavailable = False
        for event_type, group in by_type.items():
            if len(group) < 2:
                continue
            liveness.beat()
            started = time.thread_time()
            envelopes = [parsed[m["ReceiptHandle"]] for m in group]
            try:
                with consumer_spans(self.name, [e.to_dict() for e in envelopes]) as spans:
                    together = Together(envelopes, spans.trace_ids)
                    applied = self.together[event_type](together)
                    spans.applied(applied)
            except Exception as exc:  # each goes through its one-by-one handler, which judges the failure
                unavailable = classify(exc) is Kind.UNAVAILABLE
                log.warning("messages could not be handled together" + ("" if unavailable else
                                                                         "; one by one instead"), extra={
                    "queue": self.name, "event_type": event_type, "messages": len(group), "error": describe(exc)})
                if unavailable:
                    break
                continue
            if not applied:
                continue
            cpu_ms = round(1000 * ((time.thread_time() - started) / len(applied) + parse_cpu), 3)
            for message, envelope in zip(group, envelopes, strict=True):
                if envelope.id not in applied:
                    continue
                applied_receipts.add(message["ReceiptHandle"])
                self._delete(self._received(message), envelope)
                # cpu_ms: this message's share of the call(s) made for the messages applied together
                with together.on_behalf_of(envelope):
                    log.info("event applied", extra={"queue": self.name, "event_type": envelope.type,
                                                     "event_id": envelope.id, "together": len(applied),
                                                     "cpu_ms": cpu_ms})
        return [m for m in messages if m["ReceiptHandle"] not in applied_receipts], parsed, unavailable

    def _parsed(self, message: dict[str, Any]) -> Envelope | None:
        try:
            return self.parse(message.get("Body", ""))
        except Exception:
            return None

    # --- one message -------------------------------------------------------------------------------------------
    @staticmethod
    def _received(message: dict[str, Any]) -> _Received:
        attrs = message.get("Attributes", {})
        return _Received(
            message_id=str(message.get("MessageId", "")), receipt=message["ReceiptHandle"],
            receives=int(attrs.get("ApproximateReceiveCount", "1")),
            first_received_ms=int(attrs.get("ApproximateFirstReceiveTimestamp", "0") or 0) or _now_ms())

    def handle(self, message: dict[str, Any], parsed: Envelope | None = None) -> Outcome:
        """Apply one message (``parsed``: its envelope, when it was decoded and validated already)."""
        started_cpu = time.thread_time()  # this thread's CPU: what one event cost, in its "event applied" line
        received = self._received(message)
        cid_token = correlation_id_var.set(None)
        trace_token = trace_id_var.set(None)
        try:
            try:
                envelope = parsed or self.parse(message.get("Body", ""))
            except InvalidEnvelope as exc:
                return self._dead_letter(message, received, Kind.PERMANENT, f"invalid message: {exc}")
            except Exception as exc:  # an adapter's parse (or a bug in one): the body can never be applied
                return self._dead_letter(message, received, Kind.PERMANENT, f"invalid message: {describe(exc)}")
            correlation_id_var.set(envelope.correlation_id)
            trace_id_var.set(envelope.trace_id)
            handler = self.handlers.get(envelope.type)
            if handler is None:
                return self._dead_letter(message, received, Kind.PERMANENT,
                                         f"no handler for event type {envelope.type} on {self.name}")
            try:
                with consumer_span(self.name, envelope.to_dict()):  # continues the trace in the envelope
                    handler(envelope)
            except Exception as exc:
                return self._failed(message, received, envelope, exc)
            self._delete(received, envelope)
            # cpu_ms: decoding, validation and the handler, on this thread (make bench-services sums it per event
            # type; the receive's batch delete and the worker's other threads, e.g. the outbox relay, are not in it).
            log.info("event applied", extra={"queue": self.name, "event_type": envelope.type, "event_id": envelope.id,
                                             "cpu_ms": round(1000 * (time.thread_time() - started_cpu), 3)})
            return Outcome.APPLIED
        finally:
            correlation_id_var.reset(cid_token)
            trace_id_var.reset(trace_token)

    def _failed(self, message: dict[str, Any], received: _Received, envelope: Envelope, exc: Exception) -> Outcome:
        kind = classify(exc)
        context = {"queue": self.name, "event_type": envelope.type, "event_id": envelope.id,
                   "receive_count": received.receives, "kind": kind.value, "error": describe(exc)}
        if kind is Kind.PERMANENT:
            log.error("handler failed permanently", exc_info=exc, extra=context)
            return self._dead_letter(message, received, kind, describe(exc))
        age = (_now_ms() - received.first_received_ms) / 1000
        if age > self.policy.budget_seconds:
            return self._dead_letter(message, received, kind, f"retry budget of {self.policy.budget_seconds}s "
                                                              f"exhausted after {age:.0f}s: {describe(exc)}")
        delay = self.policy.visibility(kind, received.receives)
        log.warning("handler failed; message will be retried", extra={**context, "retry_in": delay})
        self._set_visibility(received.receipt, delay)
        return Outcome.UNAVAILABLE if kind is Kind.UNAVAILABLE else Outcome.RETRY

    def _dead_letter(self, message: dict[str, Any], received: _Received, kind: Kind, reason: str) -> Outcome:
        """Copy the message to the DLQ with why, then delete it here. If the copy fails the message stays (it comes
        back and is judged again); if only the delete fails, the DLQ may hold it twice, which a redrive tolerates."""
        log.error("message dead-lettered", extra={"queue": self.name, "message_id": received.message_id,
                                                  "receive_count": received.receives, "kind": kind.value,
                                                  "reason": reason})
        body = str(message.get("Body", ""))
        attributes = {k: {f: v[f] for f in ("DataType", "StringValue", "BinaryValue") if f in v}
                      for k, v in message.get("MessageAttributes", {}).items()
                      if not k.startswith(DLQ_ATTRIBUTE_PREFIX)}
        ours = {DLQ_REASON: reason[:1000], DLQ_KIND: kind.value, DLQ_SOURCE: self.name,
                DLQ_MESSAGE_ID: received.message_id, DLQ_RECEIVES: str(received.receives),
                DLQ_FIRST_RECEIVED: str(received.first_received_ms)}
        kept = dict(list(attributes.items())[: MAX_MESSAGE_ATTRIBUTES - len(ours)])
        kept.update({k: {"DataType": "String", "StringValue": v} for k, v in ours.items()})
        room = MAX_MESSAGE_BYTES - sum(len(k) + len(str(v)) + 16 for k, v in kept.items())
        if len(body.encode()) > room:  # nearly at the size limit already: keep what fits, say so
            body = body.encode()[: room].decode(errors="ignore")
            kept[DLQ_REASON]["StringValue"] = (reason + " (body truncated to fit the DLQ)")[:1000]
        try:
            self.sqs.send_message(QueueUrl=self.dead_letter_url, MessageBody=body, MessageAttributes=kept)
        except Exception as exc:
            delay = self.policy.visibility(Kind.UNAVAILABLE, received.receives)
            log.warning("could not move the message to the DLQ; it will come back",
                        extra={"queue": self.name, "message_id": received.message_id, "error": repr(exc),
                               "retry_in": delay})
            self._set_visibility(received.receipt, delay)
            return Outcome.UNAVAILABLE
        self._delete(received, None)
        return Outcome.DEAD_LETTERED

    # --- SQS calls that may fail without consequence -----------------------------------------------------------
    def _delete(self, received: _Received, envelope: Envelope | None) -> None:
        """Delete ``received`` with the rest of its receive (flush_deletes)."""
        if not self._done:
            self._done_since = time.monotonic()
        self._done.append((received, envelope.id if envelope else None))

    def flush_deletes(self) -> None:
        """Delete the messages done with, ten to a DeleteMessageBatch call (a receive's most). An entry SQS refuses,
        or a call that fails, leaves its message(s) to come back: handlers are idempotent, so the redelivery is
        recognised and deleted then; the other entries are deleted all the same."""
        done, self._done = self._done, []
        for start in range(0, len(done), 10):
            batch = done[start:start + 10]
            try:
                resp = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": received.receipt} for i, (received, _) in enumerate(batch)])
            except Exception as exc:
                for received, event_id in batch:
                    self._not_deleted(received, event_id, repr(exc))
                continue
            for failed in resp.get("Failed", []):
                received, event_id = batch[int(failed["Id"])]
                self._not_deleted(received, event_id, f"{failed.get('Code')}: {failed.get('Message', '')}")

    def _not_deleted(self, received: _Received, event_id: str | None, error: str) -> None:
        log.warning("could not delete the message; it will come back", extra={
            "queue": self.name, "message_id": received.message_id, "error": error, "event_id": event_id})

    def _set_visibility(self, receipt: str, seconds: int) -> None:
        try:
            self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=receipt,
                                               VisibilityTimeout=seconds)
        except Exception as exc:  # it comes back after the queue's visibility timeout instead
            log.warning("could not set the message's visibility", extra={"queue": self.name, "error": repr(exc)})

    def _release(self, messages: list[dict[str, Any]], seconds: int) -> None:
        for m in messages:
            self._set_visibility(m["ReceiptHandle"], seconds)


def _now_ms() -> int:
    return int(time.time() * 1000)


def consumers(service: Service, handlers: Mapping[str, Handler], wait_seconds: int = 20, *,
              probe: Callable[[], object] | None = None,
              parsers: Mapping[str, Callable[[str], Envelope]] | None = None,
              together: Mapping[str, HandlerTogether] | None = None,
              contract: Contract = CONTRACT) -> dict[str, Consumer]:
    """One consumer per queue the contract says ``service`` reads, each given the handlers of its queue's types
    (``handlers``: event type -> handler). ``parsers``: per topic that an AWS service publishes to in its own
    format, the adapter that reads its messages as envelopes. ``together``: per event type, a handler of several of
    its messages at once (see the module's docstring; its one-by-one handler is still required).

    A consumed type without a handler, a handler of a type the service does not consume, or a queue fed by such
    a topic without its parser stops the worker at start-up with one line naming it (exit status 2)."""
    parsers = parsers or {}
    try:
        by_queue = handler_map(contract, service, handlers)
        for queue in contract.queues_consumed_by(service):
            for sub in queue.subscriptions:
                if contract.topic(sub.topic).body_type_field and sub.topic not in parsers:
                    raise HandlerRegistrationError(f"{service}: no parser for the messages of topic {sub.topic} "
                                                   f"(its publisher's own format), consumed from queue {queue.name}")
        for event_type in together or {}:
            if event_type not in handlers:
                raise HandlerRegistrationError(f"{service}: a handler-together of {event_type} without its "
                                               f"one-by-one handler")
    except HandlerRegistrationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    out: dict[str, Consumer] = {}
    for queue in contract.queues_consumed_by(service):
        parse = next((parsers[s.topic] for s in queue.subscriptions if s.topic in parsers), parse_envelope)
        out[queue.name] = Consumer.from_env(queue.name, env_var("queue", queue.name), by_queue[queue.name],
                                            wait_seconds, probe=probe, parse=parse, together=together)
    return out
