"""OpenTelemetry tracing: one order is one trace, through the APIs, the outbox relay, SNS/SQS and the consumers.

Set up once per process by ``common.logging.configure`` from the standard ``OTEL_*`` variables:

* ``OTEL_TRACES_EXPORTER=otlp`` (the cluster, rendered by CDK): OTLP/HTTP to ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
  the CloudWatch agent of the Observability add-on, which sends to X-Ray;
* ``console``: spans printed to stdout; ``file``: one JSON line per span in ``OTEL_TRACES_DIR/<service>-<pid>.jsonl``
  (``make local`` and the services' tests);
* unset or ``none``: no tracing (the API stays a no-op).

FastAPI (server spans, without the ASGI receive/send spans), botocore and httpx are instrumented; SQL statements
are not (a span per statement cost orders' API about a third of its CPU, and the server span's duration already
holds the database's time). Root spans are sampled at ``OTEL_TRACES_SAMPLER_ARG`` (a ratio, default 1: every
trace); every span after the root follows its parent's decision, across SNS/SQS too, so a sampled order is one
whole trace and an unsampled one costs no span anywhere. The trace context crosses SNS/SQS inside the event envelope:
its ``trace_id`` is the W3C ``traceparent`` of the span that created the event (``trace_id_var`` holds it while a
request or message is handled); the relay publishes under it and the consumer continues it. Root spans of AWS and
database calls made outside any request or message (the relay's and consumers' polling) are not sampled.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from common.logging import trace_id_var

TRACER_NAME = "ecommerce.services"
_propagator = TraceContextTextMapPropagator()
_lock = threading.Lock()
_enabled = False


class JsonLinesExporter(SpanExporter):
    """One JSON object per finished span, appended to ``path`` (for local runs and tests)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx = s.get_span_context()
            if ctx is None:
                continue
            lines.append(json.dumps({
                "service": s.resource.attributes.get("service.name"),
                "name": s.name,
                "kind": s.kind.name,
                "trace_id": format(ctx.trace_id, "032x"),
                "span_id": format(ctx.span_id, "016x"),
                "parent_id": format(s.parent.span_id, "016x") if s.parent else None,
                "status": s.status.status_code.name,
                "attributes": dict(s.attributes or {}),
            }, default=str))
        with self._lock, self.path.open("a") as f:
            f.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS


class NoUnparentedClients(Sampler):
    """Parent-based, but a CLIENT span with no parent (a poll of the outbox or a queue) is dropped; other roots are
    sampled at ``ratio``."""

    def __init__(self, ratio: float = 1.0) -> None:
        self._parent_based = ParentBased(ALWAYS_ON if ratio >= 1 else TraceIdRatioBased(ratio))

    def should_sample(self, parent_context: context.Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None, trace_state: Any = None) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind == SpanKind.CLIENT and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self._parent_based.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "NoUnparentedClients"


def configure(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Install the tracer provider and the library instrumentations once per process; False when tracing is off."""
    global _enabled
    env = os.environ if environ is None else environ
    exporter = env.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if exporter in ("", "none"):
        return False
    with _lock:
        if _enabled:
            return True
        name = env.get("OTEL_SERVICE_NAME") or service
        ratio = sample_ratio(env)
        provider = TracerProvider(resource=Resource.create({"service.name": name}),
                                  sampler=NoUnparentedClients(ratio))
        if exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter == "file":
            path = Path(env.get("OTEL_TRACES_DIR", "traces")) / f"{name}-{os.getpid()}.jsonl"
            provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER={exporter!r}: expected otlp, console, file or none")
        trace.set_tracer_provider(provider)
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        BotocoreInstrumentor().instrument()
        HTTPXClientInstrumentor().instrument()
        _enabled = True
    return True


def sample_ratio(env: Mapping[str, str]) -> float:
    """``OTEL_TRACES_SAMPLER_ARG``: the share of root spans (requests, messages without a trace) sampled."""
    raw = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    if not raw:
        return 1.0
    try:
        ratio = float(raw)
    except ValueError:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={raw!r}: expected a ratio between 0 and 1") from None
    if not 0 <= ratio <= 1:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={raw!r}: expected a ratio between 0 and 1")
    return ratio


def instrument_app(app: Any) -> None:
    """Server spans for a FastAPI app (health probes excluded), when tracing is on."""
    if _enabled:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz", exclude_spans=["receive", "send"])


def traceparent() -> str | None:
    """The W3C traceparent of the current span, or None outside a (sampled) span."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def request_traceparent(correlation_id: str) -> str | None:
    """In a request: tag the server span with the correlation id; its traceparent, for the events it causes."""
    span = trace.get_current_span()
    if span.get_span_context().is_valid:
        span.set_attribute("correlation_id", correlation_id)
    return traceparent()


def _parent(trace_id: str | None) -> context.Context | None:
    if trace_id and trace_id.startswith("00-"):
        return _propagator.extract({"traceparent": trace_id})
    return None


def _attributes(queue_or_topic: str, event: Mapping[str, Any], system: str) -> dict[str, str]:
    return {"messaging.system": system, "messaging.destination.name": queue_or_topic,
            "messaging.message.id": str(event.get("id")),
            "event.type": str(event.get("type")), "correlation_id": str(event.get("correlation_id"))}


@contextmanager
def consumer_span(queue: str, event: Mapping[str, Any]) -> Iterator[None]:
    """Handle a message as a CONSUMER span continuing the trace in its envelope; ``trace_id_var`` follows it, so
    events the handler writes carry this span as their parent."""
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(f"{queue} process", context=_parent(event.get("trace_id")),
                                      kind=SpanKind.CONSUMER, attributes=_attributes(queue, event, "aws_sqs")):
        token = trace_id_var.set(traceparent() or event.get("trace_id"))
        try:
            yield
        finally:
            trace_id_var.reset(token)


class ConsumerSpans:
    """The CONSUMER spans of messages handled together: ``trace_ids``, each one's traceparent (the parent of the events
    written on its behalf); ``applied(ids)`` records which of them the handler applied (the others are handled
    again one by one, each in a span of its own)."""

    def __init__(self, spans: list[Any], events: Sequence[Mapping[str, Any]]) -> None:
        self._spans = spans
        self._ids = [str(e.get("id")) for e in events]
        self.trace_ids: list[str | None] = []
        for span, event in zip(spans, events, strict=True):
            carrier: dict[str, str] = {}
            _propagator.inject(carrier, context=trace.set_span_in_context(span))
            self.trace_ids.append(carrier.get("traceparent") or event.get("trace_id"))

    def applied(self, ids: set[str]) -> None:
        for span, event_id in zip(self._spans, self._ids, strict=True):
            span.set_attribute("messaging.handled_together", event_id in ids)


@contextmanager
def consumer_spans(queue: str, events: Sequence[Mapping[str, Any]]) -> Iterator[ConsumerSpans]:
    """Messages handled together (common/consumer.py, Together): a CONSUMER span for each, continuing its own trace.
    The calls made for them together are in the last one's trace."""
    tracer = trace.get_tracer(TRACER_NAME)
    spans = [tracer.start_span(f"{queue} process", context=_parent(e.get("trace_id")), kind=SpanKind.CONSUMER,
                               attributes=_attributes(queue, e, "aws_sqs")) for e in events]
    try:
        with trace.use_span(spans[-1], end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield ConsumerSpans(spans, events)
    finally:
        for span in spans:
            span.end()


@contextmanager
def producer_span(destination: str, event: Mapping[str, Any], *, system: str = "aws_sns") -> Iterator[None]:
    """Publish an outbox record as a PRODUCER span in the trace of the request or message that wrote it:
    ``destination`` is the topic's or queue's logical name, ``system`` ``aws_sns`` or ``aws_sqs``."""
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(f"{destination} publish", context=_parent(event.get("trace_id")),
                                      kind=SpanKind.PRODUCER, attributes=_attributes(destination, event, system)):
        yield
