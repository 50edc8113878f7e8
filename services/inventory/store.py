"""Inventory in DynamoDB: stock levels, per-order reservations, processed-event markers and the outbox.

Invariant: `available` never goes negative. Every change is a TransactWriteItems conditioned on the `version` of
each stock item read just before (optimistic concurrency) and on `available >= quantity`, so concurrent reservations,
releases and admin adjustments of the same product serialise; a lost race is retried with fresh reads. All lines of an
order are reserved in one transaction, or none.

Idempotency: every transaction that applies an event (ReserveStock, ReleaseStock, ProductCreated) holds, first, its
processed-event marker (``ddb.dedupe_put``), so a redelivered event's transaction is refused whole, its first
cancellation reason ConditionalCheckFailed, and the handler returns having changed nothing. No read of the marker
comes before (it cost a GetItem per event, a fifth of a reservation's CPU): a redelivery is rare, and it only pays
the reads and the refused transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from common import aws, ddb, liveness
from common.consumer import Together
from common.ddb import from_item, to_item, values
from common.envelope import Envelope
from common.failures import Kind, Permanent, RetryLater, Unavailable, classify, describe
from contract import EventType

SOURCE = "inventory"
MAX_ATTEMPTS = 8
TOGETHER_ATTEMPTS = 3  # refusals reserve_together takes before it leaves the rest to reserve()
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


def reservation_sk(order_id: str, revision: int = 0) -> str:
    """An order's reservation of a product, one per revision of the order (revision 0 keeps its original key)."""
    return f"RESERVATION#{order_id}" + (f"#{revision}" if revision else "")


def reservation_key(product_id: str, order_id: str, revision: int = 0) -> dict[str, Any]:
    return to_item({"pk": f"PRODUCT#{product_id}", "sk": reservation_sk(order_id, revision)})


@dataclass
class _Release:
    """The items releasing one revision of an order's reservation, and the quantity each product gets back."""

    items: list[dict[str, Any]]
    returned: dict[str, int]


class InventoryStore:
    def __init__(self, table: str) -> None:
        self.table = table

    # --- reads -------------------------------------------------------------------------------------------------
    def get_stock(self, product_id: str) -> Stock | None:
        item = aws.client("dynamodb").get_item(TableName=self.table, Key=stock_key(product_id), ConsistentRead=True)
        if "Item" not in item:
            return None
        d = from_item(item["Item"])
        return Stock(product_id, int(d["available"]), int(d["reserved"]), int(d["version"]))

    def _get_reservation(self, product_id: str, order_id: str, revision: int = 0) -> dict[str, Any] | None:
        item = aws.client("dynamodb").get_item(
            TableName=self.table, Key=reservation_key(product_id, order_id, revision), ConsistentRead=True
        )
        return from_item(item["Item"]) if "Item" in item else None

    # --- transaction pieces ------------------------------------------------------------------------------------
    def _stock_update(self, s: Stock, available: int, reserved: int, *,
                      new_version: int | None = None) -> dict[str, Any]:
        """``s`` read at its version, set to these levels and the next version (``new_version``: a later one, when
        one transaction applies several changes)."""
        nv = s.version + 1 if new_version is None else new_version
        return {
            "Update": {
                "TableName": self.table,
                "Key": stock_key(s.product_id),
                "UpdateExpression": "SET available = :a, reserved = :r, version = :nv",
                # version pins the values read; available >= 0 is checked in code and restated here for safety.
                "ConditionExpression": "version = :v AND :a >= :zero",
                "ExpressionAttributeValues": values(a=available, r=reserved, v=s.version, nv=nv, zero=0),
            }
        }

    def _inventory_updated(self, product_id: str, available: int, reserved: int, reason: str,
                           version: int) -> dict[str, Any]:
        """``version``: the stock record's version after the change, so consumers can ignore an older level that
        arrives after a newer one (SNS and SQS do not keep order)."""
        env = Envelope(type=EventType.INVENTORY_UPDATED, source=SOURCE,
                       data={"product_id": product_id, "available": available, "reserved": reserved,
                             "reason": reason[:200], "version": version})
        return ddb.outbox_put(self.table, env)

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
        """Reserve every line of the order's revision, or none. A command that ``replaces`` an earlier revision (the
        customer changed the order) releases that revision's reservation in the same transaction, whatever the
        outcome: its stock counts as available to the new lines, and an order whose change cannot be reserved
        holds nothing."""
        order_id = str(command.data["order_id"])
        revision = int(command.data.get("revision", 0))
        lines = [(str(line["product_id"]), int(line["quantity"])) for line in command.data["lines"]]
        replaces = command.data.get("replaces")
        old_lines = [(str(ln["product_id"]), int(ln["quantity"])) for ln in replaces["lines"]] if replaces else []
        products = list(dict.fromkeys([pid for pid, _ in lines] + [pid for pid, _ in old_lines]))
        for _ in range(MAX_ATTEMPTS):
            stocks = {pid: self.get_stock(pid) for pid in products}
            freed = (self._release_part(order_id, int(replaces["revision"]), [pid for pid, _ in old_lines])
                     if replaces else _Release([], {}))
            missing = [pid for pid, _ in lines if stocks[pid] is None]
            short = [pid for pid, q in lines
                     if (s := stocks[pid]) is not None and s.available + freed.returned.get(pid, 0) < q]
            if missing or short:
                reason = f"unknown product {missing[0]}" if missing else f"insufficient stock for {short[0]}"
                self._reject(command, order_id, revision, reason, stocks, freed)
                return
            items = [ddb.dedupe_put(self.table, command.id), *freed.items]
            items += self._stock_changes(stocks, freed.returned, dict(lines),
                                         f"reserved for {order_id}" + (f" (revision {revision})" if revision else ""))
            first_reservation = len(items)
            items += [self._reservation_put(pid, q, order_id, revision) for pid, q in lines]
            items.append(self._stock_reserved(order_id, lines, revision))
            codes = self._transact(items)
            if not codes:
                return
            if codes[0] == "ConditionalCheckFailed":
                return  # a concurrent delivery of the same command won
            if "ConditionalCheckFailed" in codes[first_reservation:first_reservation + len(lines)]:
                # A reservation record exists: this revision was released (the order cancelled or changed again)
                # before this command arrived.
                self._reject(command, order_id, revision, "order was released before it could be reserved",
                             stocks, freed)
                return
            # otherwise a stock item or the replaced reservation changed since we read it: read again and retry
        raise Conflict(f"could not reserve order {order_id}: stock kept changing")

    # --- ReserveStock, several at once ---------------------------------------------------------------------------
    def reserve_together(self, together: Together) -> set[str]:
        """Reserve several orders of one receive in one transaction (per up to TRANSACTION_ITEMS items), as if
        :meth:`reserve` had applied them one after another: each product's stock read once, each command's lines
        taken from what the commands before it left, each command with its own marker, reservations and
        StockReserved, and one InventoryUpdated per line with the level and version after it (the events and versions
        of one by one). Each product's update is conditioned on the version read, and every marker is in the
        transaction, so it is all or nothing. A refusal says, item by item, why: a command whose marker exists was
        applied by an earlier delivery (done); one whose reservation exists was released before (left to reserve(),
        which rejects it); a product changed since it was read is read again; then the rest is tried again, at most
        TOGETHER_ATTEMPTS refusals in all. A command this does not take whole is left to :meth:`reserve` too: one
        that replaces a revision, names a product twice or an unknown one, or finds its stock short (reserve reads
        again before rejecting). DynamoDB unavailable or throttled raises (the consumer pauses)."""
        left = [c for c in {c.id: c for c in together.envelopes}.values()
                if not c.data.get("replaces")
                and len({str(ln["product_id"]) for ln in c.data["lines"]}) == len(c.data["lines"])]
        if len(left) < 2:
            return set()
        stocks = self._stocks(str(ln["product_id"]) for c in left for ln in c.data["lines"])
        applied: set[str] = set()
        refusals = 0
        while left and refusals < TOGETHER_ATTEMPTS:
            liveness.beat()
            taken, level, left = self._together_chunk(left, stocks, together)
            if not taken:
                break
            touched = list(dict.fromkeys(str(ln["product_id"]) for c, _ in taken for ln in c.data["lines"]))
            codes = self._commit_together(taken, [self._stock_update(stocks[pid], level[pid].available,
                                                                     level[pid].reserved,
                                                                     new_version=level[pid].version)
                                                  for pid in touched])
            if codes is None:  # refused for a reason no retry changes: reserve() judges each
                break
            if not codes:
                applied.update(c.id for c, _ in taken)
                stocks.update({pid: level[pid] for pid in touched})
                continue
            refusals += 1
            done, released, stale = self._refused(taken, touched, codes)
            applied.update(done)
            log.info("reservations together refused; the rest tried again", extra={
                "commands": len(taken), "done_before": len(done), "released_before": len(released),
                "stale_products": len(stale), "codes": sorted(set(codes) - {"None"})})
            left = [c for c, _ in taken if c.id not in done and c.id not in released] + left
            stocks.update(self._stocks(stale))
        return applied

    def _stocks(self, products: Iterable[str]) -> dict[str, Stock]:
        """The stock records of ``products`` that exist (consistent reads)."""
        read = {pid: self.get_stock(pid) for pid in dict.fromkeys(products)}
        return {pid: s for pid, s in read.items() if s is not None}

    def _together_chunk(self, commands: list[Envelope], stocks: dict[str, Stock], together: Together
                        ) -> tuple[list[tuple[Envelope, list[dict[str, Any]]]], dict[str, Stock], list[Envelope]]:
        """The commands that go into one transaction, each with its items; the levels after them; the commands for
        the next transaction. A command the levels cannot cover, or naming a product without a stock record, is in
        neither: reserve() reads again and applies or rejects it."""
        level = dict(stocks)
        taken: list[tuple[Envelope, list[dict[str, Any]]]] = []
        size = 0
        for n, command in enumerate(commands):
            lines = [(str(ln["product_id"]), int(ln["quantity"])) for ln in command.data["lines"]]
            if any(pid not in level or level[pid].available < q for pid, q in lines):
                continue
            touched = {pid for c, _ in taken for pid in (str(ln["product_id"]) for ln in c.data["lines"])}
            # marker, InventoryUpdated and reservation per line, StockReserved; one update per product
            if taken and size + 2 + 2 * len(lines) + len(touched | {p for p, _ in lines}) > ddb.TRANSACTION_ITEMS:
                return taken, level, commands[n:]
            with together.on_behalf_of(command):
                taken.append((command, self._reservation_items(command, lines, level)))
            size += len(taken[-1][1])
        return taken, level, []

    def _commit_together(self, taken: list[tuple[Envelope, list[dict[str, Any]]]],
                         updates: list[dict[str, Any]]) -> list[str] | None:
        """[] when committed; the cancellation codes, item by item, when refused; None when DynamoDB refused the
        request itself (e.g. a ValidationException), logged. Unavailable or throttled: raised."""
        try:
            aws.client("dynamodb").transact_write_items(
                TransactItems=[*(item for _, items in taken for item in items), *updates])
        except ClientError as exc:
            codes = ddb.cancellation_codes(exc)
            if codes and set(codes) <= {"None", "ConditionalCheckFailed", "TransactionConflict"}:
                return codes
            if classify(exc) is Kind.UNAVAILABLE or set(codes) & {"ThrottlingError",
                                                                  "ProvisionedThroughputExceeded"}:
                raise Unavailable(f"reservations together: {describe(exc)}") from exc
            log.warning("reservations together refused; one by one instead", extra={
                "commands": len(taken), "error": describe(exc), "codes": codes})
            return None
        return []

    @staticmethod
    def _refused(taken: list[tuple[Envelope, list[dict[str, Any]]]], touched: list[str], codes: list[str]
                 ) -> tuple[set[str], set[str], list[str]]:
        """From a refusal's codes: the commands applied before (their marker exists), those released before (a
        reservation exists: a tombstone), and the products changed since they were read (their update refused, or
        any item in a conflict with another transaction: every product is read again then)."""
        done: set[str] = set()
        released: set[str] = set()
        at = 0
        for command, items in taken:
            mine = codes[at:at + len(items)]
            at += len(items)
            if mine[0] == "ConditionalCheckFailed":
                done.add(command.id)
            elif any(code == "ConditionalCheckFailed" for code, item in zip(mine, items, strict=True)
                     if str(item.get("Put", {}).get("Item", {}).get("sk", {}).get("S", "")).startswith("RESERVATION#")):
                released.add(command.id)
        updates = codes[at:]
        stale = [pid for pid, code in zip(touched, updates, strict=True) if code == "ConditionalCheckFailed"]
        return done, released, touched if "TransactionConflict" in codes else stale

    def _reservation_items(self, command: Envelope, lines: list[tuple[str, int]],
                           level: dict[str, Stock]) -> list[dict[str, Any]]:
        """A command's part of a transaction reserving several (marker, InventoryUpdated and reservation per line,
        StockReserved); ``level`` moves on by its lines."""
        order_id = str(command.data["order_id"])
        revision = int(command.data.get("revision", 0))
        reason = f"reserved for {order_id}" + (f" (revision {revision})" if revision else "")
        items = [ddb.dedupe_put(self.table, command.id)]
        for pid, q in lines:
            s = level[pid]
            level[pid] = Stock(pid, s.available - q, s.reserved + q, s.version + 1)
            items.append(self._inventory_updated(pid, s.available - q, s.reserved + q, reason, s.version + 1))
            items.append(self._reservation_put(pid, q, order_id, revision))
        items.append(self._stock_reserved(order_id, lines, revision))
        return items

    def _reservation_put(self, product_id: str, quantity: int, order_id: str, revision: int) -> dict[str, Any]:
        """The reservation of one line (a transaction item): refused if the revision has one already, or a
        tombstone (released before it was reserved)."""
        return {"Put": {
            "TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
            "Item": to_item({"pk": f"PRODUCT#{product_id}", "sk": reservation_sk(order_id, revision),
                             "order_id": order_id, "product_id": product_id, "quantity": quantity,
                             "status": "RESERVED", **({"revision": revision} if revision else {})})}}

    def _stock_reserved(self, order_id: str, lines: list[tuple[str, int]], revision: int) -> dict[str, Any]:
        return ddb.outbox_put(self.table, Envelope(
            type=EventType.STOCK_RESERVED, source=SOURCE,
            data={"order_id": order_id, "lines": [{"product_id": p, "quantity": q} for p, q in lines],
                  **({"revision": revision} if revision else {})}))

    def _reject(self, command: Envelope, order_id: str, revision: int, reason: str,
                stocks: dict[str, Stock | None], freed: _Release) -> None:
        env = Envelope(type=EventType.STOCK_REJECTED, source=SOURCE, data={
            "order_id": order_id, "reason": reason, **({"revision": revision} if revision else {})})
        codes = self._transact([ddb.dedupe_put(self.table, command.id), *freed.items,
                                *self._stock_changes(stocks, freed.returned, {}, f"released for {order_id}: {reason}"),
                                ddb.outbox_put(self.table, env)])
        if codes and codes[0] == "ConditionalCheckFailed":
            return  # a redelivery of a command applied already (reserved or rejected then): nothing to record
        if codes:
            raise Conflict(f"could not record rejection: {codes}")
        log.info("reservation rejected", extra={"order_id": order_id, "revision": revision, "reason": reason})

    def _release_part(self, order_id: str, revision: int, products: list[str]) -> _Release:
        """Release ``revision`` of the order's reservation of ``products``. A product not reserved (yet) gets a
        tombstone so that a late ReserveStock of this revision is rejected; one released already stays as it is."""
        out = _Release([], {})
        for pid in products:
            res = self._get_reservation(pid, order_id, revision)
            if res is None:
                out.items.append({"Put": {
                    "TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                    "Item": to_item({"pk": f"PRODUCT#{pid}", "sk": reservation_sk(order_id, revision),
                                     "order_id": order_id, "product_id": pid, "quantity": 0,
                                     "status": "RELEASED"})}})
            elif res["status"] == "RESERVED":
                out.returned[pid] = int(res["quantity"])
                out.items.append({"Update": {
                    "TableName": self.table, "Key": reservation_key(pid, order_id, revision),
                    "UpdateExpression": "SET #s = :released", "ConditionExpression": "#s = :reserved",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": values(released="RELEASED", reserved="RESERVED")}})
        return out

    def _stock_changes(self, stocks: dict[str, Stock | None], returned: dict[str, int], taken: dict[str, int],
                       reason: str) -> list[dict[str, Any]]:
        """One version-checked update per product whose level changes (a transaction may touch an item once), with
        its InventoryUpdated: ``returned`` units go back to available, ``taken`` units are reserved."""
        items: list[dict[str, Any]] = []
        for pid, s in stocks.items():
            back, take = returned.get(pid, 0), taken.get(pid, 0)
            if not back and not take:
                continue
            if s is None:
                raise Conflict(f"reservation without stock record for {pid}")
            available, reserved = s.available + back - take, max(0, s.reserved - back) + take
            items.append(self._stock_update(s, available, reserved))
            items.append(self._inventory_updated(pid, available, reserved, reason, s.version + 1))
        return items

    # --- ReleaseStock --------------------------------------------------------------------------------------------
    def release(self, command: Envelope) -> None:
        order_id = str(command.data["order_id"])
        reason = str(command.data["reason"])
        revision = int(command.data.get("revision", 0))
        products = list(dict.fromkeys(str(line["product_id"]) for line in command.data["lines"]))
        for _ in range(MAX_ATTEMPTS):
            freed = self._release_part(order_id, revision, products)
            stocks = {pid: self.get_stock(pid) for pid in freed.returned}
            codes = self._transact([ddb.dedupe_put(self.table, command.id), *freed.items,
                                    *self._stock_changes(stocks, freed.returned, {},
                                                         f"released for {order_id}: {reason}")])
            if not codes or codes[0] == "ConditionalCheckFailed":
                return
        raise Conflict(f"could not release order {order_id}: state kept changing")
