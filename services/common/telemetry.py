"""Custom metrics in CloudWatch Embedded Metric Format (EMF), and the telemetry settings every pod may be given.

The names mirror ``config/telemetry.py`` (the CDK app's alarms and dashboards read them there; this image holds
``services/`` only, so they are spelled out again; ``common/tests/test_telemetry.py`` checks that the two agree).
In the cluster ``EMF_AGENT_ENDPOINT`` (udp://host:port) points at the CloudWatch agent's EMF listener; elsewhere the
record is one JSON line on stdout, like every log line.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from common import env_contract

METRICS_NAMESPACE = "Ecommerce/Services"
OUTBOX_BACKLOG_METRIC = "OutboxBacklog"
WORKER_LOOP_RESTARTS_METRIC = "WorkerLoopRestarts"
ORDERS_PAST_DEADLINE_METRIC = "OrdersPastDeadline"
# The users service's notifier (users/notifications.py): emails SES accepted, attempts that failed (refused or SES
# unreachable), and notifications not yet sent or ended (due, or waiting for a retry), the last about once a minute.
NOTIFICATIONS_SENT_METRIC = "NotificationsSent"
NOTIFICATION_SEND_FAILURES_METRIC = "NotificationSendFailures"
NOTIFICATION_BACKLOG_METRIC = "NotificationBacklog"
METRIC_DIMENSIONS = ("Environment", "Service")
METRICS_INTERVAL_SECONDS = 60
ENV_ENVIRONMENT = "PLATFORM_ENVIRONMENT"
ENV_EMF_ENDPOINT = "EMF_AGENT_ENDPOINT"
# Optional settings the shared code reads (tracing: common/tracing.py); rendered by CDK into every Deployment.
TELEMETRY_ENV: tuple[str, ...] = env_contract.TELEMETRY

log = logging.getLogger("telemetry")


def emf_record(metric: str, value: float, service: str, *, environment: str | None = None, unit: str = "Count",
               timestamp_ms: int | None = None) -> dict[str, Any]:
    """One EMF document: the metric under ``METRICS_NAMESPACE`` with dimensions Environment and Service."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [{"Namespace": METRICS_NAMESPACE, "Dimensions": [list(METRIC_DIMENSIONS)],
                                   "Metrics": [{"Name": metric, "Unit": unit}]}],
        },
        "Environment": environment or os.environ.get(ENV_ENVIRONMENT, "local"),
        "Service": service,
        metric: value,
    }


def emit(metric: str, value: float, service: str, *, unit: str = "Count") -> dict[str, Any]:
    """Send one metric value; never raises (a lost data point must not stop the work being measured)."""
    record = emf_record(metric, value, service, unit=unit)
    line = json.dumps(record, separators=(",", ":"))
    endpoint = os.environ.get(ENV_EMF_ENDPOINT)
    try:
        if endpoint:
            url = urlsplit(endpoint)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(line.encode() + b"\n", (url.hostname or "127.0.0.1", url.port or 25888))
        else:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except OSError as exc:
        log.warning("could not emit metric", extra={"metric": metric, "error": repr(exc)})
    return record
