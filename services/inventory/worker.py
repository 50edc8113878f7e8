"""inventory worker: reservation commands, ProductCreated, and the outbox relay. Run: python -m inventory.worker"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.consumer import Consumer
from common.ddb_service import table_ready
from common.publisher import Publisher
from common.worker import relay_loop, run

from inventory import settings as settings_mod
from inventory.store import InventoryStore


def main() -> None:
    jlog.configure("inventory-worker")
    s = settings_mod.load()
    store = InventoryStore(s.table, settings_mod.TOPIC)
    publisher = Publisher({settings_mod.TOPIC: s.topic_arn})
    # Consumers paused by a DynamoDB outage resume when a read of the table answers again.
    reservations = Consumer.from_env("inventory-reservations", settings_mod.RESERVATIONS_QUEUE,
                                     {"ReserveStock": store.reserve, "ReleaseStock": store.release},
                                     s.sqs_wait_seconds, probe=lambda: table_ready(s.table))
    products = Consumer.from_env("inventory-product-events", settings_mod.PRODUCT_EVENTS_QUEUE,
                                 {"ProductCreated": store.create_stock_record}, s.sqs_wait_seconds,
                                 probe=lambda: table_ready(s.table))
    run("inventory", {
        "inventory-reservations": reservations.run,
        "inventory-product-events": products.run,
        "relay": relay_loop(lambda: ddb.relay_once(s.table, publisher.publish),
                            backlog=lambda: ddb.pending_count(s.table), service="inventory"),
    })


if __name__ == "__main__":
    main()
