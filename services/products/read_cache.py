"""A short in-process cache of the public catalog reads (GET /products/{productId}).

An entry lives ``ttl`` seconds at most: that is the staleness bound of a public read served by a replica that did
not make the change itself (every replica reads DynamoDB again once its entry expires). The replica that writes a
product drops its entry at once, so a client that changes a product and reads it back through the same replica
sees its change; a read that was loading while the write dropped the entry does not put the old value back. A
create needs no drop: only ACTIVE products are kept (a 404 is never cached: a product created on another replica is
visible at once). Reads that decide something (orders' price check, the internal route; the writes' own reads)
never go through it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class ReadCache(Generic[V]):
    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._drops = 0  # drops so far: a load that saw one happen may hold what the drop invalidated

    def get(self, key: str, load: Callable[[str], V | None]) -> V | None:
        """The cached value of ``key``, else ``load(key)`` (kept when not None)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return entry[1]
            drops = self._drops
        value = load(key)
        if value is not None:
            with self._lock:
                if self._drops != drops:  # a write landed during the load: answer, but keep nothing
                    return value
                self._entries[key] = (now + self.ttl, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)  # the oldest entry
        return value

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._drops += 1
