"""users worker: the outbox relay (users consumes no queue). Run: python -m users.worker"""

from __future__ import annotations

from common import ddb
from common import logging as jlog
from common.publisher import Publisher
from common.worker import relay_loop, run

from users import settings as settings_mod


def main() -> None:
    jlog.configure("users-worker")
    s = settings_mod.load()
    publisher = Publisher({settings_mod.TOPIC: s.topic_arn})
    run("users", {"relay": relay_loop(lambda: ddb.relay_once(s.table, publisher.publish),
                                     backlog=lambda: ddb.pending_count(s.table), service="users")})


if __name__ == "__main__":
    main()
