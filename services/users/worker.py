"""users worker: the outbox relay, the notifier (order status emails through SES) and the bounce/complaint consumer.
Run: python -m users.worker [--only <loop>]"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.consumer import Consumer
from common.ddb_service import table_ready
from common.publisher import Publisher
from common.worker import relay_loop, run

from users import email_feedback
from users import settings as settings_mod
from users.notifications import Notifier, Sender, sender_loop


def main() -> None:
    jlog.configure("users-worker")
    s = settings_mod.load()
    publisher = Publisher({settings_mod.TOPIC: s.topic_arn})
    notifier = Notifier(table=s.table, sender=Sender(address=s.email_sender, name=s.email_sender_name,
                                                     configuration_set=s.email_configuration_set))
    feedback = email_feedback.FeedbackHandlers(s.table)
    # Consumers paused by a DynamoDB outage resume when a read of the table answers again.
    orders = Consumer.from_env(
        "users-order-events", settings_mod.ORDER_EVENTS_QUEUE,
        {"OrderConfirmed": notifier.on_order_event, "OrderCancelled": notifier.on_order_event},
        s.sqs_wait_seconds, probe=lambda: table_ready(s.table))
    bounces = Consumer.from_env(
        "users-email-events", settings_mod.EMAIL_EVENTS_QUEUE,
        {"EmailBounced": feedback.on_bounced, "EmailComplained": feedback.on_complained},
        s.sqs_wait_seconds, probe=lambda: table_ready(s.table), parse=email_feedback.parse)
    run("users", {
        "relay": relay_loop(lambda: ddb.relay_once(s.table, publisher.publish),
                            backlog=lambda: ddb.pending_count(s.table), service="users"),
        "users-order-events": orders.run,
        "users-email-events": bounces.run,
        "notifications": sender_loop(notifier),
    })


if __name__ == "__main__":
    main()
