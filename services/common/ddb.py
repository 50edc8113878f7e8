"""DynamoDB low-level helpers: (de)serialisation and the transactional outbox for the DynamoDB-backed services.

The outbox record is written in the same TransactWriteItems as the change that causes it, so an event is published
if and only if the change committed. It carries `outbox_shard`/`outbox_created_at`, the keys of the sparse
OutboxPending index (contract.OUTBOX_INDEX); the relay removes them once published, which drops the record
from the index, and sets `expires_at` so table TTL (attribute `expires_at`) deletes it later. A record it can no
longer publish leaves the index the same way, kept with ``dead_lettered_at`` and ``dead_reason`` for an operator.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from contract import OUTBOX_INDEX as CONTRACT_OUTBOX_INDEX

from common import aws
from common.envelope import Envelope
from common.publisher import Publish, Undeliverable, dead_lettered, destination_of, publish_all

OUTBOX_INDEX = CONTRACT_OUTBOX_INDEX.name
OUTBOX_SHARDS = 4  # spreads the index's partitions; every relay replica scans all shards
CLAIM_SECONDS = 30  # a replica that dies mid-publish loses its claim after this long
PUBLISHED_RETENTION_SECONDS = 7 * 24 * 3600

_ser = TypeSerializer()
_de = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _de.deserialize(v) for k, v in item.items()}
    # Numbers come back as Decimal; every number this platform stores is an integer.
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in out.items()}


def values(**kw: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments (`:name` placeholders)."""
    return {f":{k}": _ser.serialize(v) for k, v in kw.items()}


def is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def cancellation_codes(exc: ClientError) -> list[str]:
    """Per-item reasons of a cancelled TransactWriteItems ('None', 'ConditionalCheckFailed', 'TransactionConflict')."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])]


def outbox_put(table: str, envelope: Envelope) -> dict[str, Any]:
    """The TransactWriteItems element that records `envelope` for the relay to publish to the destination the
    contract gives its type (a topic's or queue's logical name, valid whatever the physical names are)."""
    envelope.validate()
    shard = uuid.UUID(envelope.id).int % OUTBOX_SHARDS if _is_uuid(envelope.id) else hash(envelope.id) % OUTBOX_SHARDS
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(
                {
                    "pk": f"OUTBOX#{envelope.id}",
                    "sk": "OUTBOX",
                    "outbox_shard": f"S{shard}",
                    "outbox_created_at": f"{envelope.time}#{envelope.id}",
                    "destination": destination_of(envelope.type),
                    "type": str(envelope.type),
                    "payload": envelope.to_json(),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def dedupe_put(table: str, event_id: str) -> dict[str, Any]:
    """Processed-event marker written in the same transaction as the effect: a redelivery fails its condition (put it
    first, so that a refused transaction's first cancellation reason says so)."""
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(
                {
                    "pk": f"EVENT#{event_id}",
                    "sk": "EVENT",
                    "processed_at": _now(),
                    "expires_at": int(time.time()) + 14 * 24 * 3600,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def relay_once(table: str, publish: Publish, limit: int = 25) -> int:
    """Publish pending outbox records; returns how many were published.

    Safe with several replicas: a record is claimed by a conditional update before it is published, and marked
    published by removing its index keys. A crash between publish and mark re-publishes after the claim expires,
    which consumers absorb by deduplicating on the event id (delivery is at least once everywhere).

    The claim returns the record as it now is (a strongly consistent read, so no GetItem after it), and the
    claimed records are published together (Publisher.publish_many: one SNS/SQS call per destination per ten
    records): two DynamoDB calls per record and a tenth of a publish, where it was four calls and a publish.
    """
    ddb = aws.client("dynamodb")
    claimed: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (key, the record)
    for shard in range(OUTBOX_SHARDS):
        for raw in _pending(table, shard, Limit=limit).get("Items", []):
            rec = from_item(raw)
            key = to_item({"pk": rec["pk"], "sk": rec["sk"]})
            now = int(time.time())
            try:
                item = ddb.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET claimed_until = :until",
                    ConditionExpression="attribute_exists(outbox_shard) AND "
                    "(attribute_not_exists(claimed_until) OR claimed_until < :now)",
                    ExpressionAttributeValues=values(until=now + CLAIM_SECONDS, now=now),
                    ReturnValues="ALL_NEW",
                ).get("Attributes")
            except ClientError as exc:
                if is_conditional_failure(exc):
                    continue  # another replica holds it, or it was published since the (eventually consistent) query
                raise
            if item:
                claimed.append((key, from_item(item)))
    if not claimed:
        return 0
    outcomes = publish_all(publish, [(str(r["destination"]), str(r["type"]), str(r["payload"])) for _, r in claimed])
    published = 0
    failure: Exception | None = None
    for (key, record), outcome in zip(claimed, outcomes, strict=True):
        if isinstance(outcome, Undeliverable):
            _dead_letter(table, key, outcome.reason)
            dead_lettered(outcome, str(record["pk"]), str(record["type"]), str(record["destination"]))
        elif outcome is not None:  # stays claimed until its claim expires, then is published again
            failure = failure or outcome
        else:
            ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="REMOVE outbox_shard, outbox_created_at, claimed_until "
                "SET published_at = :t, expires_at = :exp",
                ExpressionAttributeValues=values(t=_now(), exp=int(time.time()) + PUBLISHED_RETENTION_SECONDS),
            )
            published += 1
    if failure is not None and not published:
        raise failure
    return published


_outbox_written = threading.Event()
_watching = threading.Lock()


def outbox_writes() -> threading.Event:
    """An event set each time this process commits a DynamoDB transaction that wrote an outbox record (the relay
    loop waits on it between polls, so a record written here is published at once, and an idle relay can poll
    less often). Hooks the process's DynamoDB client once; call sites of ``transact_write_items`` need nothing."""
    with _watching:
        client = aws.client("dynamodb")
        if not getattr(client, "_outbox_watched", False):
            client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", _note_outbox_write)
            client.meta.events.register("after-call.dynamodb.TransactWriteItems", _signal_outbox_write)
            client._outbox_watched = True
    return _outbox_written


def _note_outbox_write(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["writes_outbox"] = any(
        str(op.get("Item", {}).get("pk", {}).get("S", "")).startswith("OUTBOX#")
        for entry in params.get("TransactItems", []) if isinstance(entry, dict) for op in entry.values()
        if isinstance(op, dict))


def _signal_outbox_write(http_response: Any, context: dict[str, Any], **_: Any) -> None:
    if context.get("writes_outbox") and getattr(http_response, "status_code", 0) == 200:
        _outbox_written.set()


def _dead_letter(table: str, key: dict[str, Any], reason: str) -> None:
    """Take a record the relay can never publish out of the pending index, with the reason (kept: no TTL)."""
    aws.client("dynamodb").update_item(
        TableName=table,
        Key=key,
        UpdateExpression="REMOVE outbox_shard, outbox_created_at, claimed_until "
        "SET dead_lettered_at = :t, dead_reason = :r",
        ExpressionAttributeValues=values(t=_now(), r=reason[:1000]),
    )


def pending_count(table: str) -> int:
    return sum(int(_pending(table, shard, Select="COUNT").get("Count", 0)) for shard in range(OUTBOX_SHARDS))


def _pending(table: str, shard: int, **query: Any) -> dict[str, Any]:
    """One shard of the sparse OutboxPending index: the records not yet published."""
    resp: dict[str, Any] = aws.client("dynamodb").query(
        TableName=table, IndexName=OUTBOX_INDEX, KeyConditionExpression="outbox_shard = :s",
        ExpressionAttributeValues=values(s=f"S{shard}"), **query)
    return resp


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
