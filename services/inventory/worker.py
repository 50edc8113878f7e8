"""inventory worker: reservation commands, ProductCreated, and the outbox relay. Run: python -m inventory.worker"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.consumer import Consumer
from common.publisher import Publisher
from common.worker import relay_loop, run

from inventory import settings as settings_mod
from inventory.store import InventoryStore


def main() -> None:
    jlog.configure("inventory-worker")
    s = settings_mod.load()
    store = InventoryStore(s.table, settings_mod.TOPIC)
    publisher = Publisher({settings_mod.TOPIC: s.topic_arn})
    reservations = Consumer("inventory-reservations", s.reservations_queue_url,
                            {"ReserveStock": store.reserve, "ReleaseStock": store.release}, s.sqs_wait_seconds)
    products = Consumer("inventory-product-events", s.product_events_queue_url,
                        {"ProductCreated": store.create_stock_record}, s.sqs_wait_seconds)
    run("inventory", {
        "inventory-reservations": reservations.run,
        "inventory-product-events": products.run,
        "relay": relay_loop(lambda: ddb.relay_once(s.table, publisher.publish),
                            backlog=lambda: ddb.pending_count(s.table), service="inventory"),
    })


if __name__ == "__main__":
    main()
