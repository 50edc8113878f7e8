"""products worker: the outbox relay (products consumes no queue). Run: python -m products.worker"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.publisher import Publisher
from common.worker import relay_loop, run

from products import settings as settings_mod


def main() -> None:
    jlog.configure("products-worker")
    s = settings_mod.load()
    publisher = Publisher({settings_mod.TOPIC: s.topic_arn})
    run("products", {"relay": relay_loop(lambda: ddb.relay_once(s.table, publisher.publish),
                                     backlog=lambda: ddb.pending_count(s.table), service="products")})


if __name__ == "__main__":
    main()
