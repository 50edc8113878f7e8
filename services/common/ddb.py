"""DynamoDB low-level helpers: (de)serialisation and the transactional outbox for the DynamoDB-backed services.

The outbox record is written in the same TransactWriteItems as the change that causes it, so an event is published
if and only if the change committed. It carries `outbox_shard`/`outbox_created_at`, the keys of the sparse
OutboxPending index (contract.OUTBOX_INDEX); the relay removes them once published, which drops the record
from the index, and sets `expires_at` so table TTL (attribute `expires_at`) deletes it later. A record it can no
longer publish leaves the index the same way, kept with ``dead_lettered_at`` and ``dead_reason`` for an operator.

Two ways to the relay (:class:`Relay`):
* records this process commits, when it runs a relay for their table (a worker whose consumers write them): the
  transaction writes them already claimed by this process (``claimed_until``, as the relay's claim would), and the
  committed records are handed to the relay in memory, which publishes them as soon as the consumer that wrote them
  is done with its receive's messages (all of a receive's records in one publish and one mark): no query of the
  index, no claim call. If the process dies first, or the publish fails, the claim runs out (CLAIM_SECONDS) and the
  index poll publishes them, as it publishes every record another process wrote (an API's);
* the index: polled at most every ``poll_seconds`` while it is empty, at once again while it holds records.
Published records are marked in one TransactWriteItems per up to 100 records (twice the write units of single
updates, a tenth of the calls), one update each only if that transaction is refused.
"""

from __future__ import annotations

import logging
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
from common.worker import batches_handled

OUTBOX_INDEX = CONTRACT_OUTBOX_INDEX.name
OUTBOX_SHARDS = 4  # spreads the index's partitions; every relay replica scans all shards
CLAIM_SECONDS = 30  # a replica that dies mid-publish loses its claim after this long
PUBLISHED_RETENTION_SECONDS = 7 * 24 * 3600
log = logging.getLogger("outbox")
TRANSACTION_ITEMS = 100  # TransactWriteItems' largest
GATHER_SECONDS = 0.5  # the longest a committed record waits for the rest of its receive's messages

_ser = TypeSerializer()
_de = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    # Numbers come back as Decimal; every number this platform stores is an integer. Strings and numbers, nearly
    # every attribute here, are read directly: boto3's TypeDeserializer dispatches each value by name, which was an
    # eighth of a worker's CPU (the relay's reading of the outbox records it is handed).
    out: dict[str, Any] = {}
    for k, v in item.items():
        if "S" in v:
            out[k] = v["S"]
        elif "N" in v:
            out[k] = int(Decimal(v["N"]))
        else:
            value = _de.deserialize(v)
            out[k] = int(value) if isinstance(value, Decimal) else value
    return out


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
        # Records another relay (or this process's own, in memory) holds a live claim on are left to it.
        for raw in _pending(table, shard, unclaimed=True, Limit=limit).get("Items", []):
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
    return _publish_claimed(table, publish, claimed)


def _publish_claimed(table: str, publish: Publish, claimed: list[tuple[dict[str, Any], dict[str, Any]]], *,
                     validated: bool = False) -> int:
    """Publish records this relay holds the claim of, mark the published ones and dead-letter the undeliverable;
    raise the first failure if nothing could be published (the rest stay claimed until their claim runs out)."""
    if not claimed:
        return 0
    outcomes = publish_all(publish, [(str(r["destination"]), str(r["type"]), str(r["payload"])) for _, r in claimed],
                           validated=validated)
    done: list[dict[str, Any]] = []
    failure: Exception | None = None
    for (key, record), outcome in zip(claimed, outcomes, strict=True):
        if isinstance(outcome, Undeliverable):
            _dead_letter(table, key, outcome.reason)
            dead_lettered(outcome, str(record["pk"]), str(record["type"]), str(record["destination"]))
        elif outcome is not None:  # stays claimed until its claim expires, then is published again
            failure = failure or outcome
        else:
            done.append(key)
    _mark_published(table, done)
    if failure is not None and not done:
        raise failure
    return len(done)


def _mark_published(table: str, keys: list[dict[str, Any]]) -> None:
    """Take published records out of the pending index: one transaction per TRANSACTION_ITEMS records, or, if one
    is refused (a record changed under it, e.g. dead-lettered by an operator), one update per record."""
    ddb = aws.client("dynamodb")

    def update(key: dict[str, Any]) -> dict[str, Any]:
        return {"TableName": table, "Key": key,
                "UpdateExpression": "REMOVE outbox_shard, outbox_created_at, claimed_until "
                                    "SET published_at = :t, expires_at = :exp",
                "ExpressionAttributeValues": values(t=_now(), exp=int(time.time()) + PUBLISHED_RETENTION_SECONDS)}

    for start in range(0, len(keys), TRANSACTION_ITEMS):
        chunk = keys[start:start + TRANSACTION_ITEMS]
        if len(chunk) > 1:
            try:
                ddb.transact_write_items(TransactItems=[{"Update": update(key)} for key in chunk])
                continue
            except ClientError as exc:
                if not cancellation_codes(exc):
                    raise
        for key in chunk:
            ddb.update_item(**update(key))


class Relay:
    """The outbox relay of ``table`` in this process (see the module's docstring): call it to publish what is
    pending; it returns how many records it published. From its first call on, this process's transactions write
    their outbox records of ``table`` claimed for it (not before: a worker started without its relay loop, ``--only``
    a queue, leaves its records to the relay that runs elsewhere); ``wake`` is set when one commits."""

    def __init__(self, table: str, publish: Publish, *, limit: int = 25, poll_seconds: float = 1.0) -> None:
        self.table = table
        self.publish = publish
        self.limit = limit
        self.poll_seconds = poll_seconds
        self.wake = outbox_writes()
        self._next_poll = 0.0

    def __call__(self) -> int:
        with _watching:
            _local.setdefault(self.table, [])
        published = self.publish_committed()
        if time.monotonic() >= self._next_poll:
            found = relay_once(self.table, self.publish, self.limit)
            self._next_poll = time.monotonic() + (0.0 if found else self.poll_seconds)
            published += found
        return published

    def publish_committed(self) -> int:
        """Publish the records this process committed, claimed for this relay, without reading them back: once the
        consumer handling the receive that wrote them is done with all its messages (at most GATHER_SECONDS later),
        so that a receive's records go out in one publish and one mark, not a call each per message."""
        with _watching:
            if not _local[self.table]:
                return 0
        batches_handled(GATHER_SECONDS)
        with _watching:
            records, _local[self.table] = _local[self.table], []
        claimed = [(to_item({"pk": r["pk"], "sk": r["sk"]}), r) for r in records]
        try:
            # validated: outbox_put validated each envelope when the transaction was built
            return _publish_claimed(self.table, self.publish, claimed, validated=True)
        except Exception as exc:  # the claims run out and the index poll publishes them
            log.warning("could not publish records committed here; the outbox poll will",
                        extra={"records": len(records), "retry_in": CLAIM_SECONDS, "error": repr(exc)})
            return 0


_outbox_written = threading.Event()
_watching = threading.Lock()
_local: dict[str, list[dict[str, Any]]] = {}  # table -> records committed here, claimed for this process's relay


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
    """Before a transaction is sent: note whether it writes outbox records, and claim those of a table this process
    relays (a copy of the item, the caller's stays as it built it), to be handed to its relay once committed."""
    writes = False
    mine: list[dict[str, Any]] = []
    with _watching:
        relayed = set(_local)
    until = int(time.time()) + CLAIM_SECONDS
    items = list(params.get("TransactItems", []))
    for n, entry in enumerate(items):
        put = entry.get("Put") if isinstance(entry, dict) else None
        if not isinstance(put, dict) or not str(put.get("Item", {}).get("pk", {}).get("S", "")).startswith("OUTBOX#"):
            continue
        writes = True
        if put.get("TableName") in relayed:
            item = {**put["Item"], "claimed_until": {"N": str(until)}}
            items[n] = {**entry, "Put": {**put, "Item": item}}
            mine.append({"table": put["TableName"], **from_item(item)})
    if mine:
        params["TransactItems"] = items
    context["writes_outbox"] = writes
    context["outbox_records"] = mine


def _signal_outbox_write(http_response: Any, context: dict[str, Any], **_: Any) -> None:
    if context.get("writes_outbox") and getattr(http_response, "status_code", 0) == 200:
        records = context.get("outbox_records") or []
        if records:
            with _watching:
                for record in records:
                    _local.setdefault(str(record.pop("table")), []).append(record)
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


def _pending(table: str, shard: int, *, unclaimed: bool = False, **query: Any) -> dict[str, Any]:
    """One shard of the sparse OutboxPending index: the records not yet published (``unclaimed``: only those no relay
    holds a live claim on)."""
    if unclaimed:
        query.update(FilterExpression="attribute_not_exists(claimed_until) OR claimed_until < :now",
                     ExpressionAttributeValues=values(s=f"S{shard}", now=int(time.time())))
    resp: dict[str, Any] = aws.client("dynamodb").query(
        TableName=table, IndexName=OUTBOX_INDEX, KeyConditionExpression="outbox_shard = :s",
        **{"ExpressionAttributeValues": values(s=f"S{shard}"), **query})
    return resp


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
