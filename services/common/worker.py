"""Process entrypoint for a service's background work: SQS consumers and the outbox relay, one thread each.

The container image runs the API by default; a Deployment runs `python -m <service>.worker` for this instead
(optionally `--only relay` or `--only <queue name>` to scale the pieces separately). SIGTERM/SIGINT set a stop flag;
every loop finishes the item in hand and the process exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from common import telemetry

log = logging.getLogger("worker")

Task = Callable[[threading.Event], None]

RELAY_IDLE_SECONDS = 0.25
RELAY_MAX_BACKOFF_SECONDS = 10.0


def relay_loop(relay_once: Callable[[], int], *, backlog: Callable[[], int] | None = None,
               service: str = "") -> Task:
    """Poll the outbox; publish without pause while there is a backlog, back off exponentially on errors.
    With ``backlog``, report the unpublished count as the OutboxBacklog metric (EMF) about once a minute."""

    def run(stop: threading.Event) -> None:
        backoff = 0.5
        next_report = 0.0
        log.info("relay started")
        while not stop.is_set():
            if backlog is not None and time.monotonic() >= next_report:
                next_report = time.monotonic() + telemetry.METRICS_INTERVAL_SECONDS
                try:
                    telemetry.emit(telemetry.OUTBOX_BACKLOG_METRIC, backlog(), service)
                except Exception as exc:  # the store is down: the relay's own retry below reports it
                    log.warning("could not count the outbox backlog", extra={"error": repr(exc)})
            try:
                published = relay_once()
                backoff = 0.5
                if published == 0:
                    stop.wait(RELAY_IDLE_SECONDS)
            except Exception as exc:
                log.warning("relay could not publish; will retry", extra={"error": repr(exc), "retry_in": backoff})
                stop.wait(backoff)
                backoff = min(backoff * 2, RELAY_MAX_BACKOFF_SECONDS)
        log.info("relay stopped")

    return run


def run(service: str, tasks: dict[str, Task], argv: Sequence[str] | None = None) -> None:
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
    crashed: list[str] = []
    for name in selected:

        def guarded(task: Task = tasks[name], task_name: str = name) -> None:
            # A loop that crashes outright takes the process down (non-zero exit) so Kubernetes restarts it.
            try:
                task(stop)
            except BaseException:
                log.exception("worker loop crashed", extra={"loop": task_name})
                crashed.append(task_name)
                stop.set()
                raise

        t = threading.Thread(target=guarded, name=name, daemon=True)
        t.start()
        threads.append(t)
    log.info("worker started", extra={"loops": selected})
    while not stop.is_set():
        stop.wait(1.0)
    deadline = time.monotonic() + 60
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    log.info("worker stopped", extra={"crashed": crashed})
    if crashed:
        raise SystemExit(1)
