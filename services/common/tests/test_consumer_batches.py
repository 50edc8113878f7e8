"""The consumer deletes a receive's finished messages with one DeleteMessageBatch, against moto's server over HTTP:
a message that fails is never in it (its batch-mates are deleted, it comes back on its retry schedule and, failing
for good, reaches the DLQ), and an entry SQS refuses leaves only that message to come back."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from contract import EventType, Service

from common import aws
from common.consumer import Consumer, RetryPolicy, Together, _Received, consumers
from common.envelope import Envelope
from common.failures import Permanent, RetryLater, Unavailable
from common.logging import current_correlation_id
from common.tests.moto_server import REGION, own_moto


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    with own_moto():
        yield boto3.client("sqs", region_name=REGION)


def queues(sqs: Any, max_receives: int = 50) -> tuple[str, str]:
    """A queue and its DLQ, joined by a redrive policy of ``max_receives`` (as the platform's are)."""
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=f"reservations-{suffix}", Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})},
    )["QueueUrl"]
    return url, dlq


SENT_BODIES: dict[str, list[str]] = {}  # queue URL -> the bodies sent to it


def send_batch(sqs: Any, url: str, order_ids: list[str]) -> None:
    entries = []
    for i, order_id in enumerate(order_ids):
        env = Envelope(type=EventType.RESERVE_STOCK, source="orders",
                       data={"order_id": order_id, "lines": [{"product_id": "p1", "quantity": 1}]})
        entries.append({"Id": str(i), "MessageBody": env.to_json(),
                        "MessageAttributes": {"type": {"DataType": "String", "StringValue": str(env.type)}}})
    assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
    SENT_BODIES.setdefault(url, []).extend(str(e["MessageBody"]) for e in entries)


def messages_in(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def counted_calls() -> list[str]:
    calls: list[str] = []
    aws.client("sqs", read_timeout=1 + aws.READ_TIMEOUT_SECONDS).meta.events.register(
        "before-call", lambda model, **_: calls.append(model.name))
    return calls


def running(consumer: Consumer) -> Callable[[], None]:
    """Start the consumer's loop in a thread; the returned function stops it and waits for it."""
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(10)
        assert not thread.is_alive()

    return halt


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_a_batch_is_deleted_in_one_call_and_a_permanent_failure_goes_to_the_dlq_alone(sqs: Any) -> None:
    url, dlq = queues(sqs)
    orders = [f"order-{i}" for i in range(10)]
    applied: list[str] = []

    def reserve(envelope: Envelope) -> None:
        if envelope.data["order_id"] == "order-3":
            raise Permanent("a business rule refuses it")
        applied.append(str(envelope.data["order_id"]))

    send_batch(sqs, url, orders)
    calls = counted_calls()
    consumer = Consumer("reservations", url, {EventType.RESERVE_STOCK: reserve}, 1, dead_letter_url=dlq)
    halt = running(consumer)
    try:
        wait_for(lambda: messages_in(sqs, url) == 0 and messages_in(sqs, dlq) == 1)
    finally:
        halt()
    assert sorted(applied) == sorted(o for o in orders if o != "order-3")
    dead = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(dead[0]["Body"])["data"]["order_id"] == "order-3"
    assert dead[0]["MessageAttributes"]["dlq.kind"]["StringValue"] == "permanent"
    # Nine applied and one dead-lettered, all deleted together: no per-message delete.
    assert "DeleteMessage" not in calls
    assert 1 <= calls.count("DeleteMessageBatch") <= calls.count("ReceiveMessage")


def test_a_message_that_keeps_failing_comes_back_and_reaches_the_dlq_while_its_batch_mates_are_deleted(
        sqs: Any) -> None:
    url, dlq = queues(sqs, max_receives=3)
    orders = [f"order-{i}" for i in range(5)]
    applied: list[str] = []
    attempts: list[str] = []

    def reserve(envelope: Envelope) -> None:
        order_id = str(envelope.data["order_id"])
        if order_id == "order-1":
            attempts.append(order_id)
            raise RetryLater("waits for an outcome that never comes")
        applied.append(order_id)

    send_batch(sqs, url, orders)
    # The retry budget is hours: what moves the message is the queue's maxReceiveCount (its crash safety net).
    consumer = Consumer("reservations", url, {EventType.RESERVE_STOCK: reserve}, 1, dead_letter_url=dlq,
                        policy=RetryPolicy(ordering_backoff_max_seconds=1))
    halt = running(consumer)
    try:
        wait_for(lambda: messages_in(sqs, dlq) == 1, timeout=60)
    finally:
        halt()
    assert sorted(applied) == ["order-0", "order-2", "order-3", "order-4"]  # once each: deleted at first receive
    assert len(attempts) == 3
    assert messages_in(sqs, url) == 0
    dead = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert json.loads(dead[0]["Body"])["data"]["order_id"] == "order-1"


def test_an_entry_sqs_refuses_leaves_only_its_message_to_come_back(sqs: Any,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    url, dlq = queues(sqs)
    send_batch(sqs, url, ["order-a", "order-b"])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
    assert len(got) == 2
    consumer = Consumer("reservations", url, {}, 1, dead_letter_url=dlq)
    kept, refused = got[0], got[1]
    consumer._delete(_Received(kept["MessageId"], kept["ReceiptHandle"], 1, 0), None)
    consumer._delete(_Received(refused["MessageId"], "not-a-receipt-handle", 1, 0), None)
    with caplog.at_level("WARNING", logger="consumer"):
        consumer.flush_deletes()
    not_deleted = [getattr(r, "message_id", None) for r in caplog.records
                   if r.getMessage() == "could not delete the message; it will come back"]
    assert not_deleted == [refused["MessageId"]]
    time.sleep(1.5)  # the visibility given at receive runs out: what was not deleted is back
    back = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["MessageId"] for m in back] == [refused["MessageId"]]


def test_finished_messages_are_deleted_before_the_consumer_pauses_for_an_outage(sqs: Any) -> None:
    url, dlq = queues(sqs)
    orders = [f"order-{i}" for i in range(4)]
    applied: list[str] = []
    down = threading.Event()
    left_at_probe: list[int] = []

    def reserve(envelope: Envelope) -> None:
        if envelope.data["order_id"] == "order-2" and not down.is_set():
            down.set()
            raise Unavailable("database unreachable")
        applied.append(str(envelope.data["order_id"]))

    send_batch(sqs, url, orders)
    consumer = Consumer("reservations", url, {EventType.RESERVE_STOCK: reserve}, 1, dead_letter_url=dlq,
                        probe=lambda: left_at_probe.append(messages_in(sqs, url)))
    halt = running(consumer)
    try:
        wait_for(lambda: messages_in(sqs, url) == 0)
    finally:
        halt()
    # During the pause only the failed message and the one not tried were left: the two applied before the outage
    # were deleted before it, not left to come back while the consumer waits.
    assert left_at_probe[0] == 2
    assert sorted(applied) == orders
    assert messages_in(sqs, dlq) == 0


# --- handled together (Consumer(together=...)) ----------------------------------------------------------------------

def test_a_receives_messages_go_to_the_handler_together_and_what_it_did_not_apply_goes_one_by_one(sqs: Any) -> None:
    url, dlq = queues(sqs)
    orders = [f"order-{i}" for i in range(6)]
    together_calls: list[list[str]] = []
    one_by_one: list[str] = []
    correlation: dict[str, str | None] = {}

    def reserve(envelope: Envelope) -> None:
        if envelope.data["order_id"] == "order-5":
            raise Permanent("a business rule refuses it")
        one_by_one.append(str(envelope.data["order_id"]))

    def reserve_together(together: Together) -> set[str]:
        together_calls.append([str(e.data["order_id"]) for e in together.envelopes])
        applied = set()
        for envelope in together.envelopes:
            if envelope.data["order_id"] in ("order-0", "order-1", "order-2"):
                with together.on_behalf_of(envelope):  # what it writes is this message's consequence
                    correlation[str(envelope.data["order_id"])] = current_correlation_id()
                applied.add(envelope.id)
        return applied

    send_batch(sqs, url, orders)
    calls = counted_calls()
    consumer = Consumer("reservations", url, {EventType.RESERVE_STOCK: reserve}, 1, dead_letter_url=dlq,
                        together={EventType.RESERVE_STOCK: reserve_together})
    halt = running(consumer)
    try:
        wait_for(lambda: messages_in(sqs, url) == 0 and messages_in(sqs, dlq) == 1)
    finally:
        halt()
    seen_together = {o for call in together_calls for o in call}
    assert {"order-0", "order-1", "order-2"} <= seen_together
    # Applied together: never handled again one by one; the rest were, the refused one dead-lettered as ever.
    assert not {"order-0", "order-1", "order-2"} & set(one_by_one)
    assert sorted(one_by_one) == ["order-3", "order-4"]
    sent = {json.loads(m)["data"]["order_id"]: json.loads(m)["correlation_id"] for m in SENT_BODIES[url]}
    assert correlation == {o: sent[o] for o in ("order-0", "order-1", "order-2")}
    assert "DeleteMessage" not in calls


def test_a_handler_together_that_raises_leaves_every_message_to_the_one_by_one_handler(sqs: Any) -> None:
    url, dlq = queues(sqs)
    orders = [f"order-{i}" for i in range(4)]
    one_by_one: list[str] = []

    def reserve_together(together: Together) -> set[str]:
        raise RuntimeError("a bug in the batch path")

    send_batch(sqs, url, orders)
    consumer = Consumer("reservations", url, {EventType.RESERVE_STOCK: lambda e: one_by_one.append(
        str(e.data["order_id"]))}, 1, dead_letter_url=dlq, together={EventType.RESERVE_STOCK: reserve_together})
    halt = running(consumer)
    try:
        wait_for(lambda: messages_in(sqs, url) == 0)
    finally:
        halt()
    assert sorted(one_by_one) == orders
    assert messages_in(sqs, dlq) == 0


def test_a_handler_together_needs_its_one_by_one_handler() -> None:
    with pytest.raises(SystemExit) as exc:
        consumers(Service.INVENTORY, {EventType.RELEASE_STOCK: lambda e: None},
                  together={EventType.RESERVE_STOCK: lambda t: set()})
    assert exc.value.code == 2


def test_a_dependency_down_for_the_handler_together_pauses_the_consumer_before_any_one_by_one_try(
        sqs: Any) -> None:
    url, dlq = queues(sqs)
    orders = [f"order-{i}" for i in range(4)]
    one_by_one_before_probe: list[str] = []
    probed = threading.Event()
    applied: list[str] = []
    down = threading.Event()

    def reserve(envelope: Envelope) -> None:
        if not probed.is_set():
            one_by_one_before_probe.append(str(envelope.data["order_id"]))
        applied.append(str(envelope.data["order_id"]))

    def reserve_together(together: Together) -> set[str]:
        if not down.is_set():
            down.set()
            raise Unavailable("DynamoDB unreachable")
        applied.extend(str(e.data["order_id"]) for e in together.envelopes)
        return {e.id for e in together.envelopes}

    send_batch(sqs, url, orders)
    consumer = Consumer("reservations", url, {EventType.RESERVE_STOCK: reserve}, 1, dead_letter_url=dlq,
                        probe=probed.set, together={EventType.RESERVE_STOCK: reserve_together})
    halt = running(consumer)
    try:
        wait_for(lambda: messages_in(sqs, url) == 0)
    finally:
        halt()
    assert one_by_one_before_probe == []  # paused at once, not one failing try per message first
    assert sorted(set(applied)) == orders
    assert messages_in(sqs, dlq) == 0
