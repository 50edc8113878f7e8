"""users worker: the outbox relay, the notifier (order status emails through SES) and the bounce/complaint consumer.
Run: python -m users.worker [--only <loop>]"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.consumer import consumers
from common.ddb_service import table_ready
from common.publisher import Publisher
from common.worker import relay_loop, run
from contract import EventType

from users import email_feedback
from users import settings as settings_mod
from users.notifications import Notifier, Sender, sender_loop


def main() -> None:
    jlog.configure("users-worker")
    s = settings_mod.load()
    publisher = Publisher(s.service, s.destinations)
    relay = ddb.Relay(s.table, publisher)
    notifier = Notifier(table=s.table, sender=Sender(address=s.email_sender, name=s.email_sender_name,
                                                     configuration_set=s.email_configuration_set))
    feedback = email_feedback.FeedbackHandlers(s.table)
    # Consumers paused by a DynamoDB outage resume when a read of the table answers again.
    loops = consumers(s.service, {
        EventType.ORDER_CONFIRMED: notifier.on_order_event,
        EventType.ORDER_CANCELLED: notifier.on_order_event,
        EventType.EMAIL_BOUNCED: feedback.on_bounced,
        EventType.EMAIL_COMPLAINED: feedback.on_complained,
    }, s.sqs_wait_seconds, probe=lambda: table_ready(s.table), parsers={"email-events": email_feedback.parse})
    run(s.service, {
        "relay": relay_loop(relay,
                            backlog=lambda: ddb.pending_count(s.table), service=s.service,
                            wake=relay.wake),
        **{name: c.run for name, c in loops.items()},
        "notifications": sender_loop(notifier),
    })


if __name__ == "__main__":
    main()
