"""orders worker: inventory, payment, product and user events, and the sweeper (outbox leftovers, order deadlines).
Run: python -m orders.worker"""

from __future__ import annotations

from common import logging as jlog
from common.consumer import consumers
from common.pg import OutboxFlusher, make_relay, pending_count
from common.publisher import Publisher
from common.worker import run, when_available
from contract import EventType

from orders import db
from orders import settings as settings_mod
from orders.service import Deadlines, OrderService
from orders.sweeper import Sweeper


def main() -> None:
    jlog.configure("orders-worker")
    s = settings_mod.load()
    pool = db.open_pool(s.conninfo, s.db_pool_max, s.db_pool_max_idle_seconds)  # connects on first use
    when_available("the orders database (migrations)", lambda: db.migrate(pool))
    publish = Publisher(s.service, s.destinations)  # batches (publish_many) for the flusher and the sweep
    flusher = OutboxFlusher(pool, publish)
    svc = OrderService(pool, Deadlines(s.pending_deadline_seconds, s.payment_deadline_seconds), after_commit=flusher)
    sweeper = Sweeper(svc, make_relay(pool, publish), lambda: pending_count(pool), interval=s.sweep_interval_seconds)
    svc.on_deadline = sweeper.expect

    def probe() -> None:  # consumers paused by a database outage resume when this answers
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    loops = consumers(s.service, {
        EventType.STOCK_RESERVED: svc.on_stock_reserved,
        EventType.STOCK_REJECTED: svc.on_stock_rejected,
        EventType.PAYMENT_CONFIRMED: svc.on_payment_confirmed,
        EventType.PAYMENT_FAILED: svc.on_payment_failed,
        EventType.PRODUCT_CREATED: svc.on_product_created,
        EventType.PRODUCT_UPDATED: svc.on_product_updated,
        EventType.USER_REGISTERED: svc.on_user_registered,
    }, s.sqs_wait_seconds, probe=probe)

    def close() -> None:
        flusher.close()
        pool.close()

    run(s.service, {**{name: c.run for name, c in loops.items()}, "sweeper": sweeper.run}, on_stop=close)


if __name__ == "__main__":
    main()
