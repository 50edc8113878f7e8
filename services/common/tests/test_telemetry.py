"""EMF records of the services' custom metrics: shape, names shared with the CDK app, and both sinks."""

from __future__ import annotations

import json
import socket

import pytest

import config.telemetry as infra
from common import telemetry
from common.worker import relay_loop


def test_names_match_the_cdk_app() -> None:
    assert telemetry.METRICS_NAMESPACE == infra.METRICS_NAMESPACE
    assert telemetry.OUTBOX_BACKLOG_METRIC == infra.OUTBOX_BACKLOG_METRIC
    assert telemetry.WORKER_LOOP_RESTARTS_METRIC == infra.WORKER_LOOP_RESTARTS_METRIC
    assert telemetry.ORDERS_PAST_DEADLINE_METRIC == infra.ORDERS_PAST_DEADLINE_METRIC
    assert (telemetry.NOTIFICATIONS_SENT_METRIC, telemetry.NOTIFICATION_SEND_FAILURES_METRIC,
            telemetry.NOTIFICATION_BACKLOG_METRIC) == (infra.NOTIFICATIONS_SENT_METRIC,
                                                       infra.NOTIFICATION_SEND_FAILURES_METRIC,
                                                       infra.NOTIFICATION_BACKLOG_METRIC)
    assert telemetry.METRIC_DIMENSIONS == infra.METRIC_DIMENSIONS
    assert telemetry.METRICS_INTERVAL_SECONDS == infra.METRICS_INTERVAL_SECONDS
    assert (telemetry.ENV_ENVIRONMENT, telemetry.ENV_EMF_ENDPOINT) == (infra.ENV_ENVIRONMENT, infra.ENV_EMF_ENDPOINT)
    assert set(telemetry.TELEMETRY_ENV) == set(infra.otel_environment("orders", "dev", 1.0))


def test_record_is_embedded_metric_format() -> None:
    record = telemetry.emf_record("OutboxBacklog", 7, "orders", environment="dev", timestamp_ms=1_700_000_000_000)
    assert record == {
        "_aws": {"Timestamp": 1_700_000_000_000, "CloudWatchMetrics": [{
            "Namespace": "Ecommerce/Services", "Dimensions": [["Environment", "Service"]],
            "Metrics": [{"Name": "OutboxBacklog", "Unit": "Count"}]}]},
        "Environment": "dev", "Service": "orders", "OutboxBacklog": 7,
    }


def test_emit_without_agent_writes_one_json_line(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(telemetry.ENV_EMF_ENDPOINT, raising=False)
    monkeypatch.setenv(telemetry.ENV_ENVIRONMENT, "dev")
    telemetry.emit("OutboxBacklog", 3, "users")
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["OutboxBacklog"] == 3 and json.loads(line)["Environment"] == "dev"


def test_emit_to_the_agent_over_udp(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent:
        agent.bind(("127.0.0.1", 0))
        agent.settimeout(5)
        monkeypatch.setenv(telemetry.ENV_EMF_ENDPOINT, f"udp://127.0.0.1:{agent.getsockname()[1]}")
        telemetry.emit("OutboxBacklog", 42, "products")
        data, _ = agent.recvfrom(65536)
    assert json.loads(data)["OutboxBacklog"] == 42


def test_relay_loop_reports_the_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    emitted: list[tuple[str, float, str]] = []
    monkeypatch.setattr(telemetry, "emit",
                        lambda metric, value, service, **kw: emitted.append((metric, value, service)))
    stop = threading.Event()
    calls = iter(range(100))

    def relay_once() -> int:
        if next(calls) >= 2:
            stop.set()
        return 0

    relay_loop(relay_once, backlog=lambda: 5, service="orders")(stop)
    assert emitted[0] == ("OutboxBacklog", 5, "orders")
