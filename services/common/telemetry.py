"""Custom metrics in CloudWatch Embedded Metric Format (EMF), and the telemetry settings every pod may be given.

The names are the service contract's (``contract/telemetry.py``), which the CDK app's alarms and dashboards read.
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

from contract.telemetry import *  # noqa: F403 - the contract's metric names, for the services' callers
from contract.telemetry import ENV_EMF_ENDPOINT, ENV_ENVIRONMENT, METRIC_DIMENSIONS, METRICS_NAMESPACE
from contract.telemetry import __all__ as _CONTRACT_NAMES

__all__ = [*_CONTRACT_NAMES, "emf_record", "emit"]

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
