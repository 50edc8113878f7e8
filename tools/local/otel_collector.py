"""A small local stand-in for the CloudWatch agent's telemetry listeners (the Observability add-on).

It receives what the services send to the agent in the cluster: traces over OTLP/HTTP (``POST /v1/traces``,
protobuf, as ``OTEL_TRACES_EXPORTER=otlp`` sends them) and EMF metric records over UDP. Spans are written one JSON
line each, in the shape of the services' file exporter (``common.tracing.JsonLinesExporter``), to
``<traces_dir>/<service>.jsonl``; EMF records to ``<traces_dir>/../metrics/emf.jsonl``. Runs in threads of the
local platform's process.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TRACES_PATH = "/v1/traces"


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def span_records(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """The spans of one OTLP export, as the file exporter writes them."""
    out = []
    for rs in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append({
                    "service": resource.get("service.name"),
                    "name": s.name,
                    "kind": Span.SpanKind.Name(s.kind).removeprefix("SPAN_KIND_"),
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_id": s.parent_span_id.hex() or None,
                    "status": Status.StatusCode.Name(s.status.code).removeprefix("STATUS_CODE_"),
                    "attributes": {kv.key: _value(kv.value) for kv in s.attributes},
                })
    return out


class Collector:
    def __init__(self, traces_dir: Path, host: str = "127.0.0.1") -> None:
        self.traces_dir = traces_dir
        self.metrics_file = traces_dir.parent / "metrics" / "emf.jsonl"
        self.host = host
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != TRACES_PATH:
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.write_spans(span_records(request))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http = ThreadingHTTPServer((host, 0), Handler)
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((host, 0))

    @property
    def otlp_endpoint(self) -> str:
        return f"http://{self.host}:{self._http.server_address[1]}"

    @property
    def emf_endpoint(self) -> str:
        return f"udp://{self.host}:{self._udp.getsockname()[1]}"

    def write_spans(self, records: list[dict[str, Any]]) -> None:
        self.traces_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for r in records:
                with (self.traces_dir / f"{r['service']}.jsonl").open("a") as f:
                    f.write(json.dumps(r, default=str) + "\n")

    def _receive_emf(self) -> None:
        self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                data = self._udp.recv(65536)
            except OSError:
                return
            with self._lock, self.metrics_file.open("ab") as f:
                f.write(data.rstrip(b"\n") + b"\n")

    def start(self) -> None:
        threading.Thread(target=self._http.serve_forever, daemon=True, name="otlp-collector").start()
        threading.Thread(target=self._receive_emf, daemon=True, name="emf-collector").start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._udp.close()
