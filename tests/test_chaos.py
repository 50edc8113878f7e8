"""The short form of `make chaos` (tools/local/chaos.py): a minute of order load on the local platform while every kind
of fault happens at least once (a worker and an API SIGKILLed, AWS cut, PostgreSQL cut for 20 s, a worker paused,
poison on every topic and queue), then every invariant checked. Runs before the services' tests start their own
platform (tests/ comes first), so the two do not share the machine's two cores."""

from __future__ import annotations

import pytest

from tools.local.chaos import FAULTS, Settings, run

pytestmark = pytest.mark.own_platform


def test_short_chaos_run_keeps_every_invariant() -> None:
    settings = Settings(seed=20261127, duration=60, orders=60, clients=8, pause=(5.0, 12.0), aws_outage=(2.0, 8.0),
                        db_outage=(5.0, 12.0), drain_timeout=240)
    figures, problems = run(settings, out=lambda line: None)
    report = "\n".join(figures.lines())
    print(report)
    assert problems == [], report + "\n" + "\n".join(problems)
    # every kind of fault happened, and the run did real work
    assert len(FAULTS) == 6
    assert sum(figures.kills.values()) >= 2 and any(k.endswith("-api") for k in figures.kills)
    assert figures.aws_outages and 20.0 in figures.db_outages and figures.pauses
    assert sum(figures.poison_sent.values()) > 100 and sum(figures.dlq_by_reason.values()) > 50
    assert figures.orders_accepted >= 40
    assert {"CONFIRMED", "CANCELLED"} <= set(figures.final_states)
