"""Token buckets and quotas as API Gateway applies them (see the package docstring for the sources)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from tools.local.local_edge.definition import Quota, Throttle


class TokenBucket:
    """Capacity = burst, refilled at ``rate`` tokens a second, one token per request; starts full."""

    def __init__(self, throttle: Throttle, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = throttle.rate
        self.capacity = float(throttle.burst)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def available(self) -> bool:
        self._refill()
        return self.tokens >= 1

    def take(self) -> None:
        self.tokens -= 1


class Buckets:
    """Several buckets that must all have a token; a request takes one from each, or from none (it is refused)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def admit(self, buckets: Sequence[TokenBucket]) -> bool:
        with self._lock:
            if not all(b.available() for b in buckets):
                return False
            for b in buckets:
                b.take()
            return True


class QuotaCounter:
    """Requests per key per quota period (UTC calendar day, ISO week from Monday, calendar month)."""

    def __init__(self, quota: Quota, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.quota = quota
        self.now = now
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _period(self) -> str:
        t = self.now()
        if self.quota.period == "DAY":
            return t.strftime("%Y-%m-%d")
        if self.quota.period == "WEEK":
            return t.strftime("%G-W%V")
        return t.strftime("%Y-%m")

    def admit(self, key: str) -> bool:
        with self._lock:
            slot = (key, self._period())
            used = self._counts.get(slot, 0)
            if used >= self.quota.limit:
                return False
            self._counts[slot] = used + 1
            return True
