"""products worker: the outbox relay and the availability consumer (InventoryUpdated -> the catalog's stock band).
Run: python -m products.worker"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.consumer import consumers
from common.ddb_service import table_ready
from common.publisher import Publisher
from common.worker import relay_loop, run
from contract import EventType

from products import settings as settings_mod
from products.availability import AvailabilityHandlers


def main() -> None:
    jlog.configure("products-worker")
    s = settings_mod.load()
    publisher = Publisher(s.service, s.destinations)
    relay = ddb.Relay(s.table, publisher)
    handlers = AvailabilityHandlers(s.table)
    # Paused by a DynamoDB outage, the consumer resumes when a read of the table answers again.
    loops = consumers(s.service, {EventType.INVENTORY_UPDATED: handlers.on_inventory_updated}, s.sqs_wait_seconds,
                      probe=lambda: table_ready(s.table),
                      together={EventType.INVENTORY_UPDATED: handlers.on_inventory_updated_together})
    run(s.service, {"relay": relay_loop(relay,
                                        backlog=lambda: ddb.pending_count(s.table), service=s.service,
                                        wake=relay.wake),
                    **{name: c.run for name, c in loops.items()}})


if __name__ == "__main__":
    main()
