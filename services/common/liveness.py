"""Liveness of a worker process: every loop beats; the process writes the beats to a file; a probe reads it.

A loop that retries (a dependency down, a message backing off) keeps beating, because it waits in short slices
(:func:`sleep`); a loop that is stuck (a call that never returns, a thread that died) stops beating. The worker's
main thread writes the last beat of every loop to ``WORKER_HEARTBEAT_FILE`` every few seconds (atomically), and
Kubernetes runs ``python -m common.liveness --max-age N`` as the worker container's exec liveness probe: it fails
when the file is older than N seconds (the process is frozen) or any loop has not beaten for N seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

HEARTBEAT_FILE_ENV = "WORKER_HEARTBEAT_FILE"
DEFAULT_HEARTBEAT_FILE = "/tmp/worker-heartbeat.json"  # noqa: S108 - the container's private, memory-backed /tmp
BEAT_SLICE_SECONDS = 5.0

_beats: dict[str, float] = {}
_lock = threading.Lock()


def heartbeat_file() -> Path:
    return Path(os.environ.get(HEARTBEAT_FILE_ENV) or DEFAULT_HEARTBEAT_FILE)


def beat(loop: str | None = None) -> None:
    """Record that ``loop`` (default: the calling thread's name, which the worker sets to the loop's) is alive."""
    with _lock:
        _beats[loop or threading.current_thread().name] = time.time()


def forget(loop: str) -> None:
    with _lock:
        _beats.pop(loop, None)


def beats() -> dict[str, float]:
    with _lock:
        return dict(_beats)


def sleep(stop: threading.Event, seconds: float, wake: threading.Event | None = None) -> None:
    """Wait up to ``seconds`` (less if ``stop`` or ``wake`` is set), beating every few seconds meanwhile."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and not (wake is not None and wake.is_set()):
        beat()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        (wake or stop).wait(min(remaining, BEAT_SLICE_SECONDS))


def write(path: Path, loops: dict[str, float]) -> None:
    """Write the beats atomically (rename), so the probe never reads half a file."""
    record = {"pid": os.getpid(), "time": time.time(), "loops": loops}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".heartbeat-")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f)
    os.replace(tmp, path)


def problems(path: Path, max_age: float, now: float | None = None) -> list[str]:
    """Why the worker is not live (empty: it is)."""
    now = time.time() if now is None else now
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [f"no readable heartbeat file {path}: {exc}"]
    out = []
    if now - float(record.get("time", 0)) > max_age:
        out.append(f"heartbeat file not written for {now - float(record.get('time', 0)):.0f}s")
    loops = record.get("loops") or {}
    if not loops:
        out.append("no loop has beaten yet")
    for name, at in sorted(loops.items()):
        if now - float(at) > max_age:
            out.append(f"loop {name} stuck: no heartbeat for {now - float(at):.0f}s")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.liveness", description="worker liveness probe")
    parser.add_argument("--max-age", type=float, required=True, help="seconds without a heartbeat that mean stuck")
    parser.add_argument("--file", type=Path, default=None, help=f"heartbeat file (default ${HEARTBEAT_FILE_ENV} "
                                                                  f"or {DEFAULT_HEARTBEAT_FILE})")
    args = parser.parse_args(argv)
    found = problems(args.file or heartbeat_file(), args.max_age)
    if found:
        print("not live: " + "; ".join(found), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
