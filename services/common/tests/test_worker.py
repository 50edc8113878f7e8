"""Worker loops: a loop that fails is restarted with backoff and reported while the others go on; liveness tells a
stuck loop from one that retries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from common import liveness, telemetry, worker


def test_a_crashing_loop_is_restarted_and_reported_while_the_others_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "RESTART_BACKOFF_SECONDS", (0.05, 0.2))
    emitted: list[tuple[str, float, str]] = []
    monkeypatch.setattr(telemetry, "emit",
                        lambda metric, value, service, **kw: emitted.append((metric, value, service)))
    stop = threading.Event()
    attempts: list[int] = []
    steady: list[float] = []

    def crashes_three_times(stop: threading.Event) -> None:
        attempts.append(1)
        if len(attempts) <= 3:
            raise RecursionError("maximum recursion depth exceeded")  # what nested brackets used to do
        while not stop.is_set():
            liveness.beat()
            stop.wait(0.01)

    def keeps_going(stop: threading.Event) -> None:
        while not stop.is_set():
            steady.append(time.monotonic())
            liveness.beat()
            stop.wait(0.01)

    threads = [threading.Thread(target=worker.supervise, args=(name, task, stop, "orders"), name=name)
               for name, task in (("flaky", crashes_three_times), ("steady", keeps_going))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(attempts) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    before = len(steady)
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(5)
    assert len(attempts) == 4  # three crashes, then it ran until stopped
    assert len(steady) > before  # the other loop never stopped
    assert emitted == [(telemetry.WORKER_LOOP_RESTARTS_METRIC, 1, "orders")] * 3
    beats = liveness.beats()
    assert {"flaky", "steady"} <= set(beats) and all(time.time() - beats[n] < 5 for n in ("flaky", "steady"))


def test_backoff_doubles_up_to_its_largest_and_resets() -> None:
    b = worker.Backoff(1, 8)
    assert [b.next() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    b.reset()
    assert b.next() == 1


def test_sleeping_loop_keeps_beating_a_stuck_one_does_not(tmp_path: Path) -> None:
    stop = threading.Event()
    liveness.beat("stuck")
    stuck_at = liveness.beats()["stuck"]
    t = threading.Thread(target=liveness.sleep, args=(stop, 0.3), name="retrying")
    t.start()
    t.join()
    beats = liveness.beats()
    path = tmp_path / "hb.json"
    liveness.write(path, {"retrying": beats["retrying"], "stuck": stuck_at})
    assert liveness.problems(path, max_age=60) == []
    assert beats["retrying"] - stuck_at >= 0.3  # it beat while it slept
    found = liveness.problems(path, max_age=60, now=stuck_at + 60.1)
    assert [p.split(":")[0] for p in found] == ["loop stuck stuck"]


def test_worker_process_writes_heartbeats_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """A real worker process (the products worker's relay against an endpoint that refuses connections): it keeps
    retrying, stays live by the probe, and exits 0 on SIGTERM."""
    services = Path(__file__).resolve().parents[2]
    heartbeat = tmp_path / "hb.json"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(services), "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "TABLE_NAME": "t", "TOPIC_ARN_PRODUCT_EVENTS": "arn:aws:sns:us-east-1:000000000000:t",
           "COGNITO_ISSUER": "i", "COGNITO_JWKS_URL": "j", "COGNITO_CLIENT_ID": "c", "SERVICE_CLIENT_IDS": "x",
           "CORS_ALLOWED_ORIGIN": "https://shop.example.com",
           "QUEUE_URL_PRODUCTS_INVENTORY_EVENTS": "http://127.0.0.1:9/q",
           "DLQ_URL_PRODUCTS_INVENTORY_EVENTS": "http://127.0.0.1:9/dlq",
           "CONSUMER_RETRY_BUDGET_SECONDS": "3600", "CONSUMER_BACKOFF_MAX_SECONDS": "60",
           "CONSUMER_ORDERING_BACKOFF_MAX_SECONDS": "60",
           liveness.HEARTBEAT_FILE_ENV: str(heartbeat)}
    proc = subprocess.Popen([sys.executable, "-m", "products.worker"], cwd=services, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not heartbeat.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # the relay fails (nothing listens) and retries with backoff, beating meanwhile
        probe = subprocess.run([sys.executable, "-m", "common.liveness", "--max-age", "10", "--file", str(heartbeat)],
                               cwd=services, env=env, capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0, probe.stderr
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()[-2000:]
    assert b"relay could not publish" in out
