"""Availability of catalog products, kept from the inventory service's InventoryUpdated events.

The catalog answers "in stock / low / out of stock" from its own table, so GET /products never calls inventory: the
products worker writes each product's latest stock level on its item (``stock_available``, ``stock_version``). The
update is conditional on a newer stock version (inventory's record version, carried by the event), so an older
level delivered after a newer one, or a redelivery, changes nothing. The shopper sees a band, not the count: exact
stock levels are commercial information, and the band is what a purchase decision needs.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from common import aws
from common.consumer import Together
from common.ddb import is_conditional_failure, to_item, values
from common.envelope import Envelope
from common.failures import Kind, Permanent, classify, describe

# At or below this many units available a product shows as LOW_STOCK (and 0 as OUT_OF_STOCK).
LOW_STOCK_THRESHOLD = 5
log = logging.getLogger("products.availability")


class Availability(StrEnum):
    IN_STOCK = "IN_STOCK"
    LOW_STOCK = "LOW_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"


def availability(available: int) -> Availability:
    """The band a stock level falls in. A product inventory has not reported on yet has none: out of stock (a new
    product's stock record starts at 0)."""
    if available <= 0:
        return Availability.OUT_OF_STOCK
    if available <= LOW_STOCK_THRESHOLD:
        return Availability.LOW_STOCK
    return Availability.IN_STOCK


class UnknownProduct(Permanent):
    """Stock reported for a product the catalog never had: products exist before their stock record (ProductCreated
    creates it), so this can never apply."""


class AvailabilityHandlers:
    def __init__(self, table: str) -> None:
        self.table = table

    def on_inventory_updated_together(self, together: Together) -> set[str]:
        """Several InventoryUpdated of a receive: per product, only the newest level is written. The update is
        conditional on a newer version, so applying the events one by one in any order ends with the newest as well:
        the older ones are applied by it (superseded, as they would be refused after it). A product the catalog
        does not have, or an event without a version (ordered by arrival only), is left to the one-by-one handler;
        so is everything after a failure that is not a refusal (the one-by-one handler judges it: retry, pause)."""
        by_product: dict[str, list[Envelope]] = {}
        for event in together.envelopes:
            if "version" in event.data:
                by_product.setdefault(str(event.data["product_id"]), []).append(event)
        applied: set[str] = set()
        for events in by_product.values():
            newest = max(events, key=lambda e: int(e.data["version"]))
            try:
                with together.on_behalf_of(newest):
                    self.on_inventory_updated(newest)
            except UnknownProduct:
                continue
            except Exception as exc:
                if classify(exc) is Kind.UNAVAILABLE:
                    raise  # the consumer pauses: none of the rest is tried before DynamoDB answers again
                log.warning("stock levels together refused; one by one instead",
                            extra={"product_id": newest.data["product_id"], "error": describe(exc)})
                break
            applied.update(e.id for e in events)
        return applied

    def on_inventory_updated(self, event: Envelope) -> None:
        d: dict[str, Any] = event.data
        product_id = str(d["product_id"])
        # Events published before `version` was added order by nothing better than arrival: version 0 applies only
        # to a product that has no level yet.
        version = int(d.get("version", 0))
        try:
            aws.client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"pk": f"PRODUCT#{product_id}", "sk": "PRODUCT"}),
                UpdateExpression="SET stock_available = :a, stock_version = :v",
                ConditionExpression="attribute_exists(pk) AND "
                                    "(attribute_not_exists(stock_version) OR stock_version < :v)",
                ExpressionAttributeValues=values(a=int(d["available"]), v=version),
                # A refused update answers with the item as it is, if there is one: whether the product exists
                # needs no read after it (InventoryUpdated events of one product often arrive out of order).
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            if "Item" not in exc.response:
                raise UnknownProduct(f"stock reported for unknown product {product_id}") from None
            log.info("stock level not newer than the one shown; ignored",
                     extra={"product_id": product_id, "version": version})
