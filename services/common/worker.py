"""Process entrypoint for a service's background work: SQS consumers and the outbox relay, one thread each.

The container image runs the API by default; a Deployment runs `python -m <service>.worker` for this instead
(optionally `--only relay` or `--only <queue name>` to scale the pieces separately). SIGTERM/SIGINT set a stop flag;
every loop finishes the item in hand and the process exits 0.

A loop that fails unexpectedly is logged, counted (``WorkerLoopRestarts`` metric) and started again after a backoff,
while the other loops of the process go on: one bad message or one broken dependency never stops the relay or the
other consumers. Whether a loop is *stuck* (not merely retrying) is what liveness reports: every loop beats
(common/liveness.py), the main thread writes the beats to a file, and the container's liveness probe reads it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

from common import liveness, telemetry

log = logging.getLogger("worker")

Task = Callable[[threading.Event], None]
T = TypeVar("T")

# Pause between polls of an empty outbox: the first, and the largest it grows to while the outbox stays empty. Each
# poll costs AWS calls (four DynamoDB queries, one per shard of the pending index), so an idle relay polling every
# 0.25 s made 16 queries a second all day; a relay given ``wake`` (records written by its own process) publishes
# those at once whatever the pause, and records written by another process (an API) wait at most the largest pause.
RELAY_IDLE_SECONDS = (0.25, 1.0)
RELAY_MAX_BACKOFF_SECONDS = 10.0
RESTART_BACKOFF_SECONDS = (1.0, 60.0)  # first and largest wait before a crashed loop starts again
STABLE_AFTER_SECONDS = 300.0  # a loop that ran this long before failing starts again from the first backoff
HEARTBEAT_WRITE_SECONDS = 2.0
STOP_GRACE_SECONDS = 40.0  # within the pods' terminationGracePeriodSeconds (45)


class Backoff:
    """Exponential delays ``first, 2*first, ...`` up to ``largest``; ``reset()`` starts over."""

    def __init__(self, first: float, largest: float) -> None:
        self.first = first
        self.largest = largest
        self.current = 0.0

    def next(self) -> float:
        self.current = self.first if self.current == 0 else min(self.current * 2, self.largest)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


_handling = 0  # consumers of this process in the middle of a receive's messages
_handled = threading.Condition()


@contextmanager
def handling_batch() -> Iterator[None]:
    """Held by a consumer while it handles the messages of one receive (and deletes them)."""
    global _handling
    with _handled:
        _handling += 1
    try:
        yield
    finally:
        with _handled:
            _handling -= 1
            _handled.notify_all()


def batches_handled(timeout: float) -> bool:
    """Wait until no consumer of this process is in the middle of a receive's messages (at most ``timeout``
    seconds): a relay publishing what those messages commit then publishes it in one go, not a call per message,
    and the consumers downstream receive it together, not one message a receive."""
    with _handled:
        return _handled.wait_for(lambda: _handling == 0, timeout)


def relay_loop(relay_once: Callable[[], int], *, backlog: Callable[[], int] | None = None,
               service: str = "", wake: threading.Event | None = None) -> Task:
    """Poll the outbox; publish without pause while there is a backlog, pause longer while it stays empty (up to
    RELAY_IDLE_SECONDS' largest), poll at once when ``wake`` is set; back off exponentially on errors.
    With ``backlog``, report the unpublished count as the OutboxBacklog metric (EMF) about once a minute."""

    def run(stop: threading.Event) -> None:
        backoff = Backoff(0.5, RELAY_MAX_BACKOFF_SECONDS)
        idle = Backoff(*RELAY_IDLE_SECONDS)
        next_report = 0.0
        log.info("relay started")
        while not stop.is_set():
            liveness.beat()
            if backlog is not None and time.monotonic() >= next_report:
                next_report = time.monotonic() + telemetry.METRICS_INTERVAL_SECONDS
                try:
                    telemetry.emit(telemetry.OUTBOX_BACKLOG_METRIC, backlog(), service)
                except Exception as exc:  # the store is down: the relay's own retry below reports it
                    log.warning("could not count the outbox backlog", extra={"error": repr(exc)})
            try:
                if wake is not None:
                    wake.clear()  # before the poll: a record written while it runs wakes the next one
                published = relay_once()
                backoff.reset()
                if published:
                    idle.reset()
                else:
                    liveness.sleep(stop, idle.next(), wake=wake)
            except Exception as exc:
                delay = backoff.next()
                log.warning("relay could not publish; will retry", extra={"error": repr(exc), "retry_in": delay})
                liveness.sleep(stop, delay)
        log.info("relay stopped")

    return run


def when_available(what: str, attempt: Callable[[], T], largest_wait: float = 30.0) -> T:
    """``attempt()`` until it succeeds, backing off: a worker starting while its database or AWS is unreachable
    waits for it (the pod's startup probe allows minutes) instead of exiting into a crash loop."""
    backoff = Backoff(1.0, largest_wait)
    while True:
        try:
            return attempt()
        except Exception as exc:
            delay = backoff.next()
            log.warning("waiting for a dependency to start", extra={"what": what, "error": repr(exc),
                                                                     "retry_in": delay})
            time.sleep(delay)


def supervise(name: str, task: Task, stop: threading.Event, service: str) -> None:
    """Run ``task`` until ``stop``; when it raises (or returns early), report it and start it again with backoff."""
    backoff = Backoff(*RESTART_BACKOFF_SECONDS)
    while not stop.is_set():
        started = time.monotonic()
        liveness.beat(name)
        try:
            task(stop)
            if stop.is_set():
                return
            log.error("worker loop returned unexpectedly; restarting", extra={"loop": name})
        except Exception as exc:
            log.exception("worker loop crashed; restarting", extra={"loop": name, "error": repr(exc)})
        if time.monotonic() - started > STABLE_AFTER_SECONDS:
            backoff.reset()
        delay = backoff.next()
        telemetry.emit(telemetry.WORKER_LOOP_RESTARTS_METRIC, 1, service)
        log.warning("worker loop restarting", extra={"loop": name, "restart_in": delay})
        liveness.sleep(stop, delay)


def run(service: str, tasks: dict[str, Task], argv: Sequence[str] | None = None,
        on_stop: Callable[[], None] | None = None) -> None:
    """Run the selected loops until SIGTERM/SIGINT. ``on_stop`` runs once every loop has finished (or given up)."""
    parser = argparse.ArgumentParser(prog=f"python -m {service}.worker")
    parser.add_argument("--only", action="append", choices=sorted(tasks), help="run only these loops (repeatable)")
    args = parser.parse_args(argv)
    selected = args.only or sorted(tasks)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = []
    for name in selected:
        t = threading.Thread(target=supervise, args=(name, tasks[name], stop, service), name=name, daemon=True)
        t.start()
        threads.append(t)
    log.info("worker started", extra={"loops": selected})
    path = liveness.heartbeat_file()
    while not stop.is_set():
        # A loop thread that died outright (BaseException) stops beating; the probe then sees it stuck.
        try:
            liveness.write(path, {name: at for name, at in liveness.beats().items() if name in selected})
        except OSError as exc:
            log.warning("could not write the heartbeat file", extra={"path": str(path), "error": repr(exc)})
        stop.wait(HEARTBEAT_WRITE_SECONDS)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if on_stop is not None:
        on_stop()
    log.info("worker stopped", extra={"unfinished": [t.name for t in threads if t.is_alive()]})
