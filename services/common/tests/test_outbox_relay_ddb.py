"""The DynamoDB outbox relay (common/ddb.Relay) against moto's server over HTTP: records this process commits reach
its relay in memory, written already claimed for it, and are published and marked without a query of the index or a
claim call; if their publish fails they stay pending and claimed, and the index poll publishes them once the claim
has run out (as after a crash); records another process wrote are published by the index poll; published records
are marked in one transaction, or one by one when the transaction is refused; what a receive's messages commit goes
out together once they are handled."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from contract import Destination, DestinationKind, EventType, Service

from common import aws, ddb
from common.envelope import Envelope
from common.publisher import Publisher
from common.tests.moto_server import REGION, outbox_table, own_moto
from common.worker import handling_batch

TOPIC = Destination(DestinationKind.TOPIC, "inventory-events")


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    with own_moto():
        sqs, sns = boto3.client("sqs", region_name=REGION), boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name=f"inventory-events-{uuid.uuid4().hex[:6]}")["TopicArn"]
        queue = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        yield {"sqs": sqs, "queue": queue, "publisher": Publisher(Service.INVENTORY, {TOPIC: topic})}
        ddb._local.clear()


@pytest.fixture
def table(moto: dict[str, Any]) -> Iterator[str]:
    name = outbox_table(f"inventory-{uuid.uuid4().hex[:8]}")
    yield name
    ddb._local.pop(name, None)


def level(product_id: str) -> Envelope:
    return Envelope(type=EventType.INVENTORY_UPDATED, source="inventory", data={
        "product_id": product_id, "available": 5, "reserved": 1, "reason": "test", "version": 2})


def commit(table: str, *envelopes: Envelope) -> None:
    """A transaction as a handler writes one: a change and its outbox records."""
    aws.client("dynamodb").transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": ddb.to_item({"pk": f"CHANGE#{uuid.uuid4()}", "sk": "CHANGE"})}},
        *(ddb.outbox_put(table, e) for e in envelopes)])


def record(table: str, envelope: Envelope) -> dict[str, Any]:
    item = aws.client("dynamodb").get_item(TableName=table, Key=ddb.to_item(
        {"pk": f"OUTBOX#{envelope.id}", "sk": "OUTBOX"}), ConsistentRead=True)["Item"]
    return ddb.from_item(item)


def received_ids(moto: dict[str, Any]) -> list[str]:
    out: list[str] = []
    while batch := moto["sqs"].receive_message(QueueUrl=moto["queue"], MaxNumberOfMessages=10,
                                               WaitTimeSeconds=0).get("Messages", []):
        for m in batch:
            out.append(json.loads(m["Body"])["id"])
            moto["sqs"].delete_message(QueueUrl=moto["queue"], ReceiptHandle=m["ReceiptHandle"])
    return out


def counted_calls() -> list[str]:
    calls: list[str] = []
    for name in ("dynamodb", "sns"):
        aws.client(name).meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def test_records_committed_here_are_published_without_a_query_or_a_claim(moto: dict[str, Any], table: str) -> None:
    relay = ddb.Relay(table, moto["publisher"], poll_seconds=3600)
    assert relay() == 0  # the first call polls the (empty) index and takes this process's records from now on
    relay.wake.clear()
    events = [level("p1"), level("p2")]
    commit(table, *events)
    assert relay.wake.is_set()
    assert all(record(table, e)["claimed_until"] > 0 for e in events)  # written claimed, for this relay
    calls = counted_calls()

    assert relay() == 2

    assert calls == ["PublishBatch", "TransactWriteItems"]  # one publish, one mark; no Query, no claim
    assert sorted(received_ids(moto)) == sorted(e.id for e in events)
    assert ddb.pending_count(table) == 0
    assert all("published_at" in record(table, e) and "claimed_until" not in record(table, e) for e in events)


def test_a_failed_publish_leaves_the_records_claimed_until_the_index_poll_takes_them(
        moto: dict[str, Any], table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*_: Any, **__: Any) -> Any:
        raise ConnectionError("SNS unreachable")

    relay = ddb.Relay(table, moto["publisher"], poll_seconds=0)
    relay()
    event = level("p3")
    commit(table, event)
    monkeypatch.setattr(moto["publisher"], "publish_many", unreachable)
    assert relay() == 0  # the hand-off's publish failed; the index poll leaves the claimed record alone
    assert ddb.pending_count(table) == 1
    monkeypatch.undo()
    assert relay() == 0  # still claimed: nobody publishes it before the claim runs out
    # The claim runs out (as when the process that committed it died before publishing it).
    aws.client("dynamodb").update_item(TableName=table, Key=ddb.to_item({"pk": f"OUTBOX#{event.id}", "sk": "OUTBOX"}),
                                       UpdateExpression="SET claimed_until = :past",
                                       ExpressionAttributeValues=ddb.values(past=1))
    assert relay() == 1
    assert received_ids(moto) == [event.id]
    assert ddb.pending_count(table) == 0


def test_records_another_process_wrote_are_published_by_the_index_poll(moto: dict[str, Any], table: str) -> None:
    event = level("p4")
    # Written as an API process writes it: no relay of this table in that process, so not claimed.
    aws.client("dynamodb").put_item(TableName=table, Item=ddb.outbox_put(table, event)["Put"]["Item"])
    relay = ddb.Relay(table, moto["publisher"], poll_seconds=3600)
    assert relay() == 1
    assert received_ids(moto) == [event.id]
    assert ddb.pending_count(table) == 0


def test_a_refused_mark_transaction_falls_back_to_one_update_per_record(moto: dict[str, Any], table: str) -> None:
    relay = ddb.Relay(table, moto["publisher"], poll_seconds=3600)
    relay()
    events = [level("p5"), level("p6")]
    commit(table, *events)
    client = aws.client("dynamodb")

    def refuse(model: Any, **_: Any) -> Any:
        if model.name == "TransactWriteItems":
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
                              "TransactWriteItems")
        return None

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", refuse)
    calls = counted_calls()
    try:
        assert relay() == 2
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", refuse)
    assert calls.count("UpdateItem") == 2
    assert sorted(received_ids(moto)) == sorted(e.id for e in events)
    assert ddb.pending_count(table) == 0


def test_the_records_of_one_receive_go_out_together_once_its_messages_are_handled(moto: dict[str, Any],
                                                                                    table: str) -> None:
    relay = ddb.Relay(table, moto["publisher"], poll_seconds=3600)
    relay()
    events = [level("p7"), level("p8")]
    calls = counted_calls()
    published: list[int] = []
    with handling_batch():  # a consumer in the middle of a receive's messages
        commit(table, events[0])
        publishing = threading.Thread(target=lambda: published.append(relay()))
        publishing.start()
        time.sleep(0.2)
        assert publishing.is_alive()  # the relay holds back what the receive commits until it is done
        commit(table, events[1])
    publishing.join(5)
    assert published == [2]
    assert calls.count("PublishBatch") == 1 and "Query" not in calls
    assert sorted(received_ids(moto)) == sorted(e.id for e in events)
