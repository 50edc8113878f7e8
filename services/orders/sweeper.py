"""The orders worker's sweeper: the outbox rows no writer published, and the orders past their deadline.

It touches the database only when there may be work: once per ``interval`` (config: long in dev, so that Aurora
Serverless v2 can pause between sweeps) and at the earliest deadline of an open order, which it learns from each
sweep and from the transitions this process commits (``expect``). An idle platform therefore holds no database
connection: the pool closes idle connections, and nothing else polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from common import liveness, telemetry
from common.worker import Backoff

from orders.service import OrderService

log = logging.getLogger("orders.sweeper")
SERVICE = "orders"
MIN_PAUSE_SECONDS = 0.5


class Sweeper:
    def __init__(self, service: OrderService, relay_once: Callable[[], int], backlog: Callable[[], int], *,
                 interval: float, batch: int = 100) -> None:
        self.service = service
        self.relay_once = relay_once
        self.backlog = backlog
        self.interval = interval
        self.batch = batch
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._next_deadline: float | None = None  # epoch seconds
        self._expected: float | None = None  # the earliest deadline `expect`ed since the current sweep began
        self.sweeps = 0

    def expect(self, deadline: datetime) -> None:
        """An order of this process got a deadline: sweep no later than that."""
        at = deadline.timestamp()
        with self._lock:
            self._expected = at if self._expected is None else min(self._expected, at)
            if self._next_deadline is None or at < self._next_deadline:
                self._next_deadline = at
                self._wake.set()

    def sweep(self) -> None:
        """Publish leftover outbox rows, then cancel every open order past its deadline."""
        with self._lock:
            self._expected = None
        while self.relay_once() > 0:
            liveness.beat()
        telemetry.emit(telemetry.OUTBOX_BACKLOG_METRIC, self.backlog(), SERVICE)
        past = 0
        while True:
            liveness.beat()
            expired, next_deadline = self.service.expire(self.batch)
            past += expired
            if expired < self.batch:
                break
        telemetry.emit(telemetry.ORDERS_PAST_DEADLINE_METRIC, past, SERVICE)
        with self._lock:
            found = [t for t in (next_deadline.timestamp() if next_deadline else None, self._expected)
                     if t is not None]
            self._next_deadline = min(found) if found else None
        self.sweeps += 1

    def run(self, stop: threading.Event) -> None:
        backoff = Backoff(1.0, min(60.0, max(1.0, self.interval)))  # never retry later than the next sweep
        log.info("sweeper started", extra={"interval": self.interval})
        next_periodic = 0.0  # sweep at start: whatever the last process left
        while not stop.is_set():
            liveness.beat()
            if time.monotonic() >= next_periodic or self._deadline_due():
                try:
                    self.sweep()
                    backoff.reset()
                    next_periodic = time.monotonic() + self.interval
                except Exception as exc:  # database or AWS down: try again soon, not after a whole interval
                    delay = backoff.next()
                    log.warning("sweep failed; will retry", extra={"error": repr(exc), "retry_in": delay})
                    liveness.sleep(stop, delay)
                    continue
            self._wake.clear()
            # At least a moment between sweeps: a deadline that has passed here may not have on the database's clock.
            liveness.sleep(stop, max(MIN_PAUSE_SECONDS, self._seconds_until(next_periodic)), wake=self._wake)
        log.info("sweeper stopped")

    def _deadline_due(self) -> bool:
        with self._lock:
            return self._next_deadline is not None and self._next_deadline <= time.time()

    def _seconds_until(self, next_periodic: float) -> float:
        wait = max(0.0, next_periodic - time.monotonic())
        with self._lock:
            if self._next_deadline is not None:
                # A little after the deadline: the database's clock decides, and it must have passed there too.
                wait = min(wait, max(0.0, self._next_deadline - datetime.now(UTC).timestamp()))
        return wait
