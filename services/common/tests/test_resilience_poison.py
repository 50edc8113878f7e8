"""Poison on every topic and queue (issue: workers that cannot be killed from outside): only poison reaches a DLQ,
with its reason, at its first receive; no worker exits; the platform still works afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.tests.resilience import (
    assert_workers_never_exited,
    drained,
    place,
    statuses,
    take_dead_letters,
)
from config.topology import QUEUES
from tools.local.local_platform import LocalPlatform
from tools.local.poison import poison_set, reached_queues, send, traces_to_poison
from tools.local.testkit import Api, UserSession, wait_until


def test_poison_on_every_topic_and_queue_is_dead_lettered_with_its_reason(platform: LocalPlatform, api: Api,
                                                                           new_user: Callable[[], UserSession],
                                                                           make_product: Callable[..., str]) -> None:
    for q in QUEUES:  # start from empty DLQs: what is there afterwards is this test's
        take_dead_letters(platform, q.name)
    sent = list(poison_set())
    sns, sqs = platform.client("sns"), platform.client("sqs")
    for p in sent:
        send(p, sns, sqs, platform.resources.topic_arns, platform.resources.queue_urls)
    # Orders keeps state in PostgreSQL, which cannot hold U+0000 or a lone surrogate: those are poison there too.
    # (DynamoDB takes them; inventory applies such an event, or dead-letters what it derives from it downstream.)
    expected = {(q, p.marker, p.kind) for p in sent for q in reached_queues(p)
                if p.kind not in ("nul", "surrogate") or q.startswith("orders-")}
    assert len({q for q, _, _ in expected}) == len(QUEUES)
    wait_until(lambda: drained(platform), timeout=90, what="every queue drained of poison")
    found: dict[str, list[dict[str, Any]]] = {q.name: take_dead_letters(platform, q.name) for q in QUEUES}
    markers = {p.marker for p in sent}
    seen = set()
    for queue, messages in found.items():
        for m in messages:
            attrs = {k: v.get("StringValue") for k, v in m["MessageAttributes"].items()}
            assert traces_to_poison(m["Body"], markers), (queue, m["Body"][:200], attrs)
            assert attrs["dlq.kind"] == "permanent", attrs
            assert attrs["dlq.receive-count"] == "1", attrs  # no retry burnt on poison
            assert attrs["dlq.source-queue"] == queue and attrs["dlq.reason"]
            seen |= {(queue, p.marker, p.kind) for p in sent if p.marker in m["Body"]}
    assert expected <= seen, sorted(expected - seen)[:5]
    kind_of = {p.marker: p.kind for p in sent}
    reasons: dict[str, set[str]] = {}
    for m in (m for ms in found.values() for m in ms):
        kind = next((k for marker, k in kind_of.items() if marker in m["Body"]), "derived")
        reasons.setdefault(kind, set()).add(m["MessageAttributes"]["dlq.reason"]["StringValue"].split(":")[0])
    assert reasons["nested"] == {"invalid message"}
    assert reasons["nul"] <= {"DataError", "invalid message"}  # stored text cannot hold it, or a schema refused it
    assert_workers_never_exited(platform)
    # and the platform still works
    user, pid = new_user(), make_product(stock=1)
    oid = place(api, user, [{"product_id": pid, "quantity": 1}])
    wait_until(lambda: statuses(api, [(user, oid)]) == ["RESERVED"], what="an order after the poison")
