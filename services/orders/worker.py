"""orders worker: inventory, payment, product and user events, and the outbox relay. Run: python -m orders.worker"""

from __future__ import annotations

from common import logging as jlog
from common.consumer import Consumer
from common.pg import make_relay, pending_count
from common.publisher import Publisher
from common.worker import relay_loop, run

from orders import db
from orders import settings as settings_mod
from orders.service import OrderService


def main() -> None:
    jlog.configure("orders-worker")
    s = settings_mod.load()
    pool = db.open_pool(s.conninfo(), s.db_pool_max)
    db.migrate(pool)
    svc = OrderService(pool)
    env = s.queue_urls
    consumers = {
        "orders-inventory-events": Consumer("orders-inventory-events", env[settings_mod.INVENTORY_EVENTS_QUEUE],
                                            {"StockReserved": svc.on_stock_reserved,
                                             "StockRejected": svc.on_stock_rejected}, s.sqs_wait_seconds),
        "orders-payment-events": Consumer("orders-payment-events", env[settings_mod.PAYMENT_EVENTS_QUEUE],
                                          {"PaymentConfirmed": svc.on_payment_confirmed}, s.sqs_wait_seconds),
        "orders-product-events": Consumer("orders-product-events", env[settings_mod.PRODUCT_EVENTS_QUEUE],
                                          {"ProductUpdated": svc.on_product_updated}, s.sqs_wait_seconds),
        "orders-user-events": Consumer("orders-user-events", env[settings_mod.USER_EVENTS_QUEUE],
                                       {"UserRegistered": svc.on_user_registered}, s.sqs_wait_seconds),
    }
    relay = relay_loop(make_relay(pool, Publisher(s.destinations).publish), backlog=lambda: pending_count(pool),
                       service="orders")
    try:
        run("orders", {**{name: c.run for name, c in consumers.items()}, "relay": relay})
    finally:
        pool.close()


if __name__ == "__main__":
    main()
