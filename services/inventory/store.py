"""Inventory in DynamoDB: stock levels, per-order reservations, processed-event markers and the outbox.

Invariant: `available` never goes negative. Every change is a TransactWriteItems conditioned on the `version` of
each stock item read just before (optimistic concurrency) and on `available >= quantity`, so concurrent reservations,
releases and admin adjustments of the same product serialise; a lost race is retried with fresh reads. All lines of an
order are reserved in one transaction, or none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from common import aws, ddb
from common.ddb import from_item, to_item, values
from common.envelope import Envelope
from common.failures import Permanent, RetryLater, Unavailable

SOURCE = "inventory"
MAX_ATTEMPTS = 8
log = logging.getLogger("inventory.store")


class Conflict(RetryLater):
    """Lost an optimistic-concurrency race too many times; the caller retries later (SQS) or answers 409."""


class InsufficientStock(ValueError):
    pass


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class Stock:
    product_id: str
    available: int
    reserved: int
    version: int


def stock_key(product_id: str) -> dict[str, Any]:
    return to_item({"pk": f"PRODUCT#{product_id}", "sk": "STOCK"})


def reservation_key(product_id: str, order_id: str) -> dict[str, Any]:
    return to_item({"pk": f"PRODUCT#{product_id}", "sk": f"RESERVATION#{order_id}"})


class InventoryStore:
    def __init__(self, table: str, topic_env: str) -> None:
        self.table = table
        self.topic_env = topic_env

    # --- reads -------------------------------------------------------------------------------------------------
    def get_stock(self, product_id: str) -> Stock | None:
        item = aws.client("dynamodb").get_item(TableName=self.table, Key=stock_key(product_id), ConsistentRead=True)
        if "Item" not in item:
            return None
        d = from_item(item["Item"])
        return Stock(product_id, int(d["available"]), int(d["reserved"]), int(d["version"]))

    def _get_reservation(self, product_id: str, order_id: str) -> dict[str, Any] | None:
        item = aws.client("dynamodb").get_item(
            TableName=self.table, Key=reservation_key(product_id, order_id), ConsistentRead=True
        )
        return from_item(item["Item"]) if "Item" in item else None

    # --- transaction pieces ------------------------------------------------------------------------------------
    def _stock_update(self, s: Stock, available: int, reserved: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": stock_key(s.product_id),
                "UpdateExpression": "SET available = :a, reserved = :r, version = :nv",
                # version pins the values read; available >= 0 is checked in code and restated here for safety.
                "ConditionExpression": "version = :v AND :a >= :zero",
                "ExpressionAttributeValues": values(a=available, r=reserved, v=s.version, nv=s.version + 1, zero=0),
            }
        }

    def _inventory_updated(self, product_id: str, available: int, reserved: int, reason: str,
                           version: int) -> dict[str, Any]:
        """``version``: the stock record's version after the change, so consumers can ignore an older level that
        arrives after a newer one (SNS and SQS do not keep order)."""
        env = Envelope(type="InventoryUpdated", source=SOURCE,
                       data={"product_id": product_id, "available": available, "reserved": reserved,
                             "reason": reason[:200], "version": version})
        return ddb.outbox_put(self.table, env, self.topic_env)

    def _transact(self, items: list[dict[str, Any]]) -> list[str]:
        """Run a transaction; [] on success, else the per-item cancellation codes when every one is a condition or
        a race the caller handles (ConditionalCheckFailed, TransactionConflict). Any other reason says the items
        themselves are wrong (ValidationError: a value DynamoDB cannot hold) or the table is throttled: raised."""
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=items)
        except ClientError as exc:
            codes = ddb.cancellation_codes(exc)
            if not codes:
                raise
            other = sorted(set(codes) - {"None", "ConditionalCheckFailed", "TransactionConflict"})
            if other and set(other) <= {"ThrottlingError", "ProvisionedThroughputExceeded"}:
                raise Unavailable(f"transaction throttled: {other}") from exc
            if other:
                raise Permanent(f"transaction refused: {other}") from exc
            return codes
        return []

    # --- admin adjust ------------------------------------------------------------------------------------------
    def adjust(self, product_id: str, delta: int, reason: str) -> Stock:
        for _ in range(MAX_ATTEMPTS):
            s = self.get_stock(product_id)
            if s is None:
                raise NotFound(product_id)
            new_available = s.available + delta
            if new_available < 0:
                raise InsufficientStock(f"only {s.available} available")
            codes = self._transact([self._stock_update(s, new_available, s.reserved),
                                    self._inventory_updated(product_id, new_available, s.reserved, reason,
                                                         s.version + 1)])
            if not codes:
                return Stock(product_id, new_available, s.reserved, s.version + 1)
        raise Conflict("stock changed concurrently")

    # --- ProductCreated ------------------------------------------------------------------------------------------
    def create_stock_record(self, event: Envelope) -> None:
        if ddb.already_processed(self.table, event.id):
            return
        product_id = str(event.data["product_id"])
        put = {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                       "Item": to_item({"pk": f"PRODUCT#{product_id}", "sk": "STOCK", "product_id": product_id,
                                        "available": 0, "reserved": 0, "version": 1})}}
        codes = self._transact([ddb.dedupe_put(self.table, event.id), put,
                                self._inventory_updated(product_id, 0, 0, "product created", 1)])
        if codes and codes[0] == "None" and codes[1] == "ConditionalCheckFailed":
            # The record exists already (e.g. restored); only remember that the event was handled.
            codes = self._transact([ddb.dedupe_put(self.table, event.id)])
        if codes and codes[0] != "ConditionalCheckFailed":  # dedupe failing means a concurrent duplicate: done
            raise Conflict(f"could not create stock record: {codes}")

    # --- ReserveStock --------------------------------------------------------------------------------------------
    def reserve(self, command: Envelope) -> None:
        if ddb.already_processed(self.table, command.id):
            return
        order_id = str(command.data["order_id"])
        lines = [(str(line["product_id"]), int(line["quantity"])) for line in command.data["lines"]]
        for _ in range(MAX_ATTEMPTS):
            stocks = {pid: self.get_stock(pid) for pid, _ in lines}
            missing = [pid for pid, s in stocks.items() if s is None]
            short = [pid for pid, q in lines if (s := stocks[pid]) is not None and s.available < q]
            if missing or short:
                reason = f"unknown product {missing[0]}" if missing else f"insufficient stock for {short[0]}"
                self._reject(command, order_id, reason)
                return
            items = [ddb.dedupe_put(self.table, command.id)]
            for pid, q in lines:
                s = stocks[pid]
                assert s is not None
                items.append(self._stock_update(s, s.available - q, s.reserved + q))
                items.append({"Put": {
                    "TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                    "Item": to_item({"pk": f"PRODUCT#{pid}", "sk": f"RESERVATION#{order_id}", "order_id": order_id,
                                     "product_id": pid, "quantity": q, "status": "RESERVED"})}})
                items.append(self._inventory_updated(pid, s.available - q, s.reserved + q, f"reserved for {order_id}",
                                                     s.version + 1))
            items.append(ddb.outbox_put(self.table, Envelope(
                type="StockReserved", source=SOURCE,
                data={"order_id": order_id, "lines": [{"product_id": p, "quantity": q} for p, q in lines]}),
                self.topic_env))
            codes = self._transact(items)
            if not codes:
                return
            if codes[0] == "ConditionalCheckFailed":
                return  # a concurrent delivery of the same command won
            reservation_codes = [codes[1 + 3 * i + 1] for i in range(len(lines))]
            if "ConditionalCheckFailed" in reservation_codes:
                # A reservation record exists: the order was released (cancelled) before this command arrived.
                self._reject(command, order_id, "order was released before it could be reserved")
                return
            # otherwise a stock item changed since we read it: read again and retry
        raise Conflict(f"could not reserve order {order_id}: stock kept changing")

    def _reject(self, command: Envelope, order_id: str, reason: str) -> None:
        env = Envelope(type="StockRejected", source=SOURCE, data={"order_id": order_id, "reason": reason})
        codes = self._transact([ddb.dedupe_put(self.table, command.id),
                                ddb.outbox_put(self.table, env, self.topic_env)])
        if codes and codes[0] != "ConditionalCheckFailed":
            raise Conflict(f"could not record rejection: {codes}")
        log.info("reservation rejected", extra={"order_id": order_id, "reason": reason})

    # --- ReleaseStock --------------------------------------------------------------------------------------------
    def release(self, command: Envelope) -> None:
        if ddb.already_processed(self.table, command.id):
            return
        order_id = str(command.data["order_id"])
        reason = str(command.data["reason"])
        lines = [str(line["product_id"]) for line in command.data["lines"]]
        for _ in range(MAX_ATTEMPTS):
            items = [ddb.dedupe_put(self.table, command.id)]
            for pid in lines:
                res = self._get_reservation(pid, order_id)
                if res is None:
                    # Not reserved (yet): leave a tombstone so a late ReserveStock for this order is rejected.
                    items.append({"Put": {
                        "TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                        "Item": to_item({"pk": f"PRODUCT#{pid}", "sk": f"RESERVATION#{order_id}",
                                         "order_id": order_id, "product_id": pid, "quantity": 0,
                                         "status": "RELEASED"})}})
                    continue
                if res["status"] != "RESERVED":
                    continue
                s = self.get_stock(pid)
                if s is None:
                    raise Conflict(f"reservation without stock record for {pid}")
                q = int(res["quantity"])
                items.append(self._stock_update(s, s.available + q, max(0, s.reserved - q)))
                items.append({"Update": {
                    "TableName": self.table, "Key": reservation_key(pid, order_id),
                    "UpdateExpression": "SET #s = :released", "ConditionExpression": "#s = :reserved",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": values(released="RELEASED", reserved="RESERVED")}})
                items.append(self._inventory_updated(pid, s.available + q, max(0, s.reserved - q),
                                                     f"released for {order_id}: {reason}", s.version + 1))
            codes = self._transact(items)
            if not codes or codes[0] == "ConditionalCheckFailed":
                return
        raise Conflict(f"could not release order {order_id}: state kept changing")
