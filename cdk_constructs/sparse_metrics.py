"""Counts CloudWatch records only when they happen (DynamoDB ``SystemErrors``, ``ReadThrottleEvents``, WAF
``BlockedRequests``, API Gateway ``5XXError`` of an idle route, the services' ``WorkerLoopRestarts``), and how metric
math has to read them.

A period without such an event has no data point at all, not a zero. Metric math over a missing series yields no
value for that period: ``a + b`` has no value wherever either operand has none, so an alarm summing the
SystemErrors of nine DynamoDB operations never sees the errors of one of them while the other eight are quiet, and a
ratio of sums stays INSUFFICIENT_DATA. ``FILL(m, 0)`` makes every missing period of ``m`` a zero. An alarm on such
counts also treats a period with no data at all as not breaching: no data is no errors.

:func:`fill_sparse` is what this app's monitoring facades apply to every expression they build
(service_monitoring.py), and :func:`unfilled` is what the tests check every synthesized alarm with."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Metric names of counts of bad events: emitted when one happens, absent otherwise.
SPARSE_COUNT_NAME = re.compile(r"Error|Throttl|Fault|Blocked|Fail|DeadLetter|Restart|Reject")
# Statistics that count the events of a period (an average or a maximum of a sparse count is a different question).
COUNT_STATISTICS = frozenset({"Sum", "SampleCount"})
# Not an operand: the argument of FILL (filled) or of PERIOD (only its period is read), with or without a space.
_NOT_AN_OPERAND = "".join(rf"(?<!{f}\({space})" for f in ("FILL", "PERIOD") for space in ("", " "))


def is_sparse_count(metric_name: str, statistic: str) -> bool:
    """Whether ``statistic`` of ``metric_name`` counts events that are only recorded when they happen."""
    return statistic in COUNT_STATISTICS and SPARSE_COUNT_NAME.search(metric_name) is not None


def _bare(series_id: str) -> re.Pattern[str]:
    """``series_id`` as an operand of the expression, not as the argument of FILL or PERIOD."""
    return re.compile(rf"(?<![\w.]){_NOT_AN_OPERAND}{re.escape(series_id)}(?!\w)")


def unfilled(expression: str, sparse_ids: Iterable[str]) -> list[str]:
    """The ids of ``sparse_ids`` that ``expression`` reads without ``FILL(id, ...)``, in order."""
    return [i for i in sparse_ids if _bare(i).search(expression)]


def fill_sparse(expression: str, sparse_ids: Iterable[str]) -> str:
    """``expression`` with every bare operand of ``sparse_ids`` read as ``FILL(id, 0)``."""
    for series_id in sparse_ids:
        expression = _bare(series_id).sub(f"FILL({series_id}, 0)", expression)
    return expression
