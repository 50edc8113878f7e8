"""products worker: the outbox relay and the availability consumer (InventoryUpdated -> the catalog's stock band).
Run: python -m products.worker"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.consumer import Consumer
from common.ddb_service import table_ready
from common.publisher import Publisher
from common.worker import relay_loop, run

from products import settings as settings_mod
from products.availability import AvailabilityHandlers


def main() -> None:
    jlog.configure("products-worker")
    s = settings_mod.load()
    publisher = Publisher({settings_mod.TOPIC: s.topic_arn})
    handlers = AvailabilityHandlers(s.table)
    # Paused by a DynamoDB outage, the consumer resumes when a read of the table answers again.
    inventory = Consumer.from_env("products-inventory-events", settings_mod.INVENTORY_EVENTS_QUEUE,
                                  {"InventoryUpdated": handlers.on_inventory_updated}, s.sqs_wait_seconds,
                                  probe=lambda: table_ready(s.table))
    run("products", {"relay": relay_loop(lambda: ddb.relay_once(s.table, publisher.publish),
                                         backlog=lambda: ddb.pending_count(s.table), service="products"),
                     "products-inventory-events": inventory.run})


if __name__ == "__main__":
    main()
