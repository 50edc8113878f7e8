"""Publisher.publish_many against moto's server over HTTP: records go out in batches of ten per destination (one
SNS PublishBatch or SQS SendMessageBatch call each), still filtered by their type attribute, and each record keeps
its own outcome (published, undeliverable, or left pending when its batch failed)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from contract import Destination, DestinationKind, EventType, Service

from common import aws
from common.envelope import Envelope
from common.publisher import BATCH_ENTRIES, Publisher, Undeliverable, publish_all
from common.tests.moto_server import REGION, own_moto

TOPIC = Destination(DestinationKind.TOPIC, "order-events")
QUEUE = Destination(DestinationKind.QUEUE, "inventory-reservations")


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[dict[str, Any]]:
    with own_moto():
        sqs, sns = boto3.client("sqs", region_name=REGION), boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name=f"order-events-{uuid.uuid4().hex[:6]}")["TopicArn"]
        placed = sqs.create_queue(QueueName=f"placed-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        commands = sqs.create_queue(QueueName=f"reservations-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        placed_arn = sqs.get_queue_attributes(QueueUrl=placed, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=placed_arn, Attributes={
            "RawMessageDelivery": "true", "FilterPolicy": json.dumps({"type": ["OrderPlaced"]})})
        yield {"sqs": sqs, "topic": topic, "placed": placed, "commands": commands}


def record(event_type: EventType, destination: Destination | str) -> tuple[str, str, str]:
    data: dict[str, Any] = {"order_id": str(uuid.uuid4()), "lines": [{"product_id": "p1", "quantity": 1}]}
    if event_type is EventType.ORDER_PLACED:
        data.update(customer_id="c1", total_cents=100, currency="EUR",
                    lines=[{"product_id": "p1", "quantity": 1, "unit_price_cents": 100}])
    envelope = Envelope(type=event_type, source="orders", data=data)
    return str(destination), str(event_type), envelope.to_json()


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       MessageAttributeNames=["All"]).get("Messages", []):
        out += batch
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def counted_calls() -> list[str]:
    calls: list[str] = []
    for name in ("sns", "sqs"):
        aws.client(name).meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def test_records_go_out_ten_to_a_call_per_destination(aws_endpoint: dict[str, Any]) -> None:
    publisher = Publisher(Service.ORDERS, {TOPIC: aws_endpoint["topic"], QUEUE: aws_endpoint["commands"]})
    records = [record(EventType.ORDER_PLACED, TOPIC) for _ in range(23)]
    records += [record(EventType.RESERVE_STOCK, QUEUE) for _ in range(12)]
    calls = counted_calls()
    assert publisher.publish_many(records) == [None] * len(records)
    assert sorted(calls) == ["PublishBatch"] * 3 + ["SendMessageBatch"] * 2
    placed = drain(aws_endpoint["sqs"], aws_endpoint["placed"])  # through the topic's filtered subscription
    assert sorted(m["Body"] for m in placed) == sorted(r[2] for r in records[:23])
    assert {m["MessageAttributes"]["type"]["StringValue"] for m in placed} == {"OrderPlaced"}
    commands = drain(aws_endpoint["sqs"], aws_endpoint["commands"])
    assert sorted(m["Body"] for m in commands) == sorted(r[2] for r in records[23:])
    assert len(records[:23]) > 2 * BATCH_ENTRIES


def test_each_record_keeps_its_own_outcome(aws_endpoint: dict[str, Any]) -> None:
    publisher = Publisher(Service.ORDERS, {TOPIC: aws_endpoint["topic"], QUEUE: aws_endpoint["commands"]})
    good = record(EventType.RESERVE_STOCK, QUEUE)
    nowhere = record(EventType.RESERVE_STOCK, "queue/no-such-queue")
    broken = (str(QUEUE), "ReserveStock", json.dumps({"id": "x"}))  # fails its schema
    outcomes = publisher.publish_many([nowhere, good, broken])
    assert isinstance(outcomes[0], Undeliverable) and "not in the contract" in outcomes[0].reason
    assert outcomes[1] is None
    assert isinstance(outcomes[2], Undeliverable) and "schema" in outcomes[2].reason
    assert [m["Body"] for m in drain(aws_endpoint["sqs"], aws_endpoint["commands"])] == [good[2]]


def test_an_entry_aws_refuses_stays_pending_and_the_others_are_published(aws_endpoint: dict[str, Any],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = Publisher(Service.ORDERS, {TOPIC: aws_endpoint["topic"], QUEUE: aws_endpoint["commands"]})
    records = [record(EventType.RESERVE_STOCK, QUEUE) for _ in range(3)]
    sqs = aws.client("sqs")
    real = sqs.send_message_batch

    def refusing_the_second(**kw: Any) -> dict[str, Any]:
        refused = kw["Entries"][1]
        answer: dict[str, Any] = real(**{**kw, "Entries": [e for e in kw["Entries"] if e is not refused]})
        answer.setdefault("Failed", []).append({"Id": refused["Id"], "Code": "InternalError", "Message": "try again",
                                                "SenderFault": False})
        return answer

    monkeypatch.setattr(sqs, "send_message_batch", refusing_the_second)
    outcomes = publisher.publish_many(records)
    assert outcomes[0] is None and outcomes[2] is None
    assert outcomes[1] is not None and not isinstance(outcomes[1], Undeliverable) and "InternalError" in str(
        outcomes[1])
    assert sorted(m["Body"] for m in drain(aws_endpoint["sqs"], aws_endpoint["commands"])) == sorted(
        [records[0][2], records[2][2]])


def test_a_failed_call_leaves_its_records_and_the_rest_pending() -> None:
    published: list[str] = []

    def flaky(destination: str, event_type: str, payload: str) -> None:
        if len(published) == 1:
            raise ConnectionError("AWS unreachable")
        published.append(payload)

    records = [record(EventType.RESERVE_STOCK, QUEUE) for _ in range(3)]
    outcomes = publish_all(flaky, records)
    assert outcomes[0] is None and all(isinstance(o, ConnectionError) for o in outcomes[1:])
    assert published == [records[0][2]]
