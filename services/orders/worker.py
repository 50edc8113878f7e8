"""orders worker: inventory, payment, product and user events, and the sweeper (outbox leftovers, order deadlines).
Run: python -m orders.worker"""

from __future__ import annotations

from common import logging as jlog
from common.consumer import Consumer, Handler
from common.pg import OutboxFlusher, make_relay, pending_count
from common.publisher import Publisher
from common.worker import run, when_available

from orders import db
from orders import settings as settings_mod
from orders.service import Deadlines, OrderService
from orders.sweeper import Sweeper


def main() -> None:
    jlog.configure("orders-worker")
    s = settings_mod.load()
    pool = db.open_pool(s.conninfo, s.db_pool_max, s.db_pool_max_idle_seconds)  # connects on first use
    when_available("the orders database (migrations)", lambda: db.migrate(pool))
    publish = Publisher(s.destinations).publish
    flusher = OutboxFlusher(pool, publish)
    svc = OrderService(pool, Deadlines(s.pending_deadline_seconds, s.payment_deadline_seconds), after_commit=flusher)
    sweeper = Sweeper(svc, make_relay(pool, publish), lambda: pending_count(pool), interval=s.sweep_interval_seconds)
    svc.on_deadline = sweeper.expect

    def probe() -> None:  # consumers paused by a database outage resume when this answers
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    def consumer(name: str, queue_env: str, handlers: dict[str, Handler]) -> Consumer:
        return Consumer.from_env(name, queue_env, handlers, s.sqs_wait_seconds, probe=probe)

    consumers = {
        "orders-inventory-events": consumer("orders-inventory-events", settings_mod.INVENTORY_EVENTS_QUEUE,
                                            {"StockReserved": svc.on_stock_reserved,
                                             "StockRejected": svc.on_stock_rejected}),
        "orders-payment-events": consumer("orders-payment-events", settings_mod.PAYMENT_EVENTS_QUEUE,
                                          {"PaymentConfirmed": svc.on_payment_confirmed,
                                           "PaymentFailed": svc.on_payment_failed}),
        "orders-product-events": consumer("orders-product-events", settings_mod.PRODUCT_EVENTS_QUEUE,
                                          {"ProductCreated": svc.on_product_created,
                                           "ProductUpdated": svc.on_product_updated}),
        "orders-user-events": consumer("orders-user-events", settings_mod.USER_EVENTS_QUEUE,
                                       {"UserRegistered": svc.on_user_registered}),
    }

    def close() -> None:
        flusher.close()
        pool.close()

    run("orders", {**{name: c.run for name, c in consumers.items()}, "sweeper": sweeper.run}, on_stop=close)


if __name__ == "__main__":
    main()
