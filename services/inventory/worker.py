"""inventory worker: reservation commands, ProductCreated, and the outbox relay. Run: python -m inventory.worker"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.consumer import consumers
from common.ddb_service import table_ready
from common.publisher import Publisher
from common.worker import relay_loop, run
from contract import EventType

from inventory import settings as settings_mod
from inventory.store import InventoryStore


def main() -> None:
    jlog.configure("inventory-worker")
    s = settings_mod.load()
    store = InventoryStore(s.table)
    publisher = Publisher(s.service, s.destinations)
    relay = ddb.Relay(s.table, publisher)
    # Consumers paused by a DynamoDB outage resume when a read of the table answers again.
    loops = consumers(s.service, {
        EventType.RESERVE_STOCK: store.reserve,
        EventType.RELEASE_STOCK: store.release,
        EventType.PRODUCT_CREATED: store.create_stock_record,
    }, s.sqs_wait_seconds, probe=lambda: table_ready(s.table),
        together={EventType.RESERVE_STOCK: store.reserve_together})
    run(s.service, {
        **{name: c.run for name, c in loops.items()},
        "relay": relay_loop(relay,
                            backlog=lambda: ddb.pending_count(s.table), service=s.service,
                            wake=relay.wake),
    })


if __name__ == "__main__":
    main()
