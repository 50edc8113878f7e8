"""Tracing: the envelope carries the trace across SNS/SQS, and one order is one trace through orders -> inventory ->
orders on the local platform (file exporter)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from common import tracing
from common.logging import JsonFormatter, trace_id_var
from config.topology import Service
from tools.local.local_platform import LocalPlatform
from tools.local.testkit import Api, UserSession, wait_status, wait_until

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
def memory() -> Iterator[InMemorySpanExporter]:
    """This test process's own provider (no library instrumentation), sampling as the services do."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=tracing.NoUnparentedClients())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter


# A placed order's trace: orders' API, its relay publishing ReserveStock, inventory consuming it and publishing
# StockReserved, orders consuming that; plus the SQS/SNS/DynamoDB/PostgreSQL calls inside them.
EXPECTED_KINDS = {("orders", "SERVER"), ("orders", "PRODUCER"), ("inventory", "CONSUMER"), ("inventory", "PRODUCER"),
                  ("orders", "CONSUMER"), ("orders", "CLIENT"), ("inventory", "CLIENT")}

def test_consumer_span_continues_the_envelopes_trace(memory: InMemorySpanExporter) -> None:
    memory.clear()
    event = {"id": "e1", "type": "ReserveStock", "correlation_id": "c1", "trace_id": PARENT}
    with tracing.consumer_span("inventory-reservations", event):
        inner = trace_id_var.get()
    (span,) = memory.get_finished_spans()
    assert span.kind == SpanKind.CONSUMER
    assert format(span.context.trace_id, "032x") == PARENT[3:35]
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT[36:52]
    assert span.attributes and span.attributes["correlation_id"] == "c1"
    # events written while handling carry the consumer span as their parent
    assert inner == f"00-{PARENT[3:35]}-{format(span.context.span_id, '016x')}-01"
    assert trace_id_var.get() is None


def test_producer_span_and_unparented_clients(memory: InMemorySpanExporter) -> None:
    memory.clear()
    with tracing.producer_span("order-events", {"id": "e2", "type": "OrderPlaced", "trace_id": PARENT}):
        pass
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("poll", kind=SpanKind.CLIENT):  # a relay's poll: not sampled
        pass
    (span,) = memory.get_finished_spans()
    assert span.kind == SpanKind.PRODUCER and format(span.context.trace_id, "032x") == PARENT[3:35]
    assert span.name == "order-events publish" and span.attributes
    assert span.attributes["messaging.system"] == "aws_sns"


def test_log_lines_carry_the_trace_id() -> None:
    token = trace_id_var.set(PARENT)
    try:
        line = json.loads(JsonFormatter().format(logging.LogRecord("t", logging.INFO, "", 0, "hello", (), None)))
    finally:
        trace_id_var.reset(token)
    assert line["trace_id"] == PARENT[3:35]


def test_tracing_is_off_without_an_exporter() -> None:
    assert tracing.configure("orders", environ={}) is False
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing.configure("orders", environ={"OTEL_TRACES_EXPORTER": "jaeger"})


def test_one_order_is_one_trace_across_orders_inventory_orders(
        platform: LocalPlatform, api: Api, new_user: Callable[[], UserSession],
        make_product: Callable[..., str]) -> None:
    pid = make_product(stock=5)
    user = new_user()
    cid = str(uuid.uuid4())
    r = api.call("POST", Service.ORDERS, "/orders", {**user.order_headers(), "X-Correlation-Id": cid},
                 json={"lines": [{"product_id": pid, "quantity": 1}]})
    assert r.status_code == 201, r.text
    wait_status(api, user, r.json()["order_id"], "RESERVED")

    def order_spans() -> list[dict[str, Any]] | None:
        spans = platform.spans()
        # orders' own server span (products' internal call carries the same correlation id and ends first; each
        # service exports its spans in its own batches)
        roots = [s for s in spans if s["kind"] == "SERVER" and s["service"] == "orders"
                 and s["attributes"].get("correlation_id") == cid]
        if not roots:
            return None
        in_trace = [s for s in spans if s["trace_id"] == roots[0]["trace_id"]]
        consumed = {(s["service"], s["attributes"].get("event.type")) for s in in_trace if s["kind"] == "CONSUMER"}
        # each service exports in its own batches: inventory's relay span can arrive after orders' consumer span
        exported = {(s["service"], s["kind"]) for s in in_trace}
        done = {("inventory", "ReserveStock"), ("orders", "StockReserved")} <= consumed and EXPECTED_KINDS <= exported
        return in_trace if done else None

    spans = wait_until(order_spans, what=f"the spans of order {cid} in one trace")
    by_kind = {(s["service"], s["kind"]) for s in spans}
    # orders' API, its relay publishing ReserveStock, inventory consuming it and publishing StockReserved, orders
    # consuming that; plus the SQS/SNS/DynamoDB/PostgreSQL calls inside them.
    assert EXPECTED_KINDS <= by_kind
    # every event of this order, in any service, carried the same correlation id
    ours = [s for s in spans if "event.type" in s["attributes"]]  # not botocore's own SNS/SQS spans
    assert {s["attributes"]["event.type"] for s in ours} >= {"OrderPlaced", "ReserveStock", "StockReserved"}
    assert {s["attributes"]["correlation_id"] for s in ours} == {cid}


def test_roots_are_sampled_at_the_configured_ratio_and_children_follow_their_parent() -> None:
    sampled_parent = tracing._parent(PARENT)
    unsampled_parent = tracing._parent(PARENT[:-2] + "00")
    none = tracing.NoUnparentedClients(tracing.sample_ratio({"OTEL_TRACES_SAMPLER_ARG": "0"}))
    every = tracing.NoUnparentedClients(tracing.sample_ratio({}))
    trace_id = int(PARENT[3:35], 16)

    def sampled(sampler: tracing.NoUnparentedClients, parent: object, kind: SpanKind = SpanKind.SERVER) -> bool:
        return sampler.should_sample(parent, trace_id, "span", kind).decision.is_sampled()  # type: ignore[arg-type]

    assert not sampled(none, None) and sampled(every, None)  # a request without a trace: the ratio decides
    # a message's span follows the decision its envelope carries, whatever this process's ratio
    assert sampled(none, sampled_parent, SpanKind.CONSUMER) and not sampled(every, unsampled_parent, SpanKind.CONSUMER)
    assert not sampled(every, None, SpanKind.CLIENT)  # polls stay unsampled
    for bad in ("1.5", "-0.1", "often"):
        with pytest.raises(ValueError, match="OTEL_TRACES_SAMPLER_ARG"):
            tracing.sample_ratio({"OTEL_TRACES_SAMPLER_ARG": bad})
