"""moto's HTTP server with DynamoDB operations serialized, as DynamoDB isolates them. A harness setting of the local
platform (`make local`, the services' tests, `make chaos`): run as ``python -m tools.moto_server [moto.server args]``.

Why: moto's threaded server runs requests concurrently, and its ``transact_write_items`` is all-or-nothing only by
copying every table it touches before applying the items and restoring the copies when a condition fails. A write
that lands between the copy and the restore (another request's PutItem, UpdateItem or transaction) is wiped by the
restore, and a read in between sees a transaction half applied. DynamoDB does neither: a transaction is isolated
from every other write and from GetItem. With several inventory workers reserving stock concurrently, that moto
behaviour loses reservations and stock, so no test could tell whether the services keep stock exact. Here every
DynamoDB read and write of the backend holds one lock, which makes each operation atomic and isolated (and the
server serial for DynamoDB, which a laptop's test load does not notice).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from moto import server
from moto.dynamodb.models import DynamoDBBackend

# Every backend method that reads or writes items (batch operations go through put_item/delete_item/get_item).
SERIALIZED = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_write_items",
              "transact_get_items", "execute_statement", "execute_transaction", "batch_execute_statement")
_lock = threading.RLock()  # re-entrant: transact_write_items calls get_item and the other writes itself


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    locked.__dict__["serialized"] = True
    return locked


def serialize_dynamodb() -> None:
    """Wrap the DynamoDB backend's item operations with one process-wide lock (idempotent)."""
    for name in SERIALIZED:
        method = getattr(DynamoDBBackend, name, None)
        if method is not None and not getattr(method, "serialized", False):
            setattr(DynamoDBBackend, name, _serialized(method))


def _exit_now(signum: int, frame: object) -> None:
    # moto's own handler raises SystemExit, and the interpreter then waits on the server's worker threads as long
    # as clients keep connections open; the state is in memory only, so there is nothing to lose by leaving now.
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    serialize_dynamodb()
    server.signal_handler = _exit_now  # installed by server.main for SIGINT/SIGTERM
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
