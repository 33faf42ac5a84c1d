"""Traces (issue 13, point 12): a ``graphql.request`` span per request continuing the
caller's ``traceparent``, an ``agency.call`` child per call to an SQL, CSV or HTTP
agency, OTLP export when configured, and a gateway that works without OpenTelemetry."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conftest import ACME, ServerThread, free_port
from gateway.app import AppOptions, create_app
from gateway.config import ConfigError, load_config
from gateway.telemetry_settings import TracingSettings
from gateway.tracing import open_tracing

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
CALLER_SPAN = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{CALLER_SPAN:016x}-01"
QUERY = """query Everything($c: String!) { enterprise(creditCode: $c) {
    name penalties(period: ALL) { recordId } judgmentDefaults(period: ALL) { recordId } } }"""


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def traced(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def post(server: ServerThread, headers: dict[str, str]) -> httpx.Response:
    answer = httpx.post(f"{server.url}/graphql", json={"query": QUERY, "variables": {"c": ACME}},
                        headers=headers, timeout=30)
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    return answer


def requests_of(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == "graphql.request"]


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in exporter.get_finished_spans()
            if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_a_request_span_continues_the_callers_trace_with_a_child_per_agency_call(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    exporter = InMemorySpanExporter()
    server = serve(create_app(load_config(user_agencies["config"]), AppOptions(
        freeze_heap_after_start=False, tracer_provider=traced(exporter))))
    answer = post(server, {"traceparent": TRACEPARENT, "X-Request-Id": "traced-1"})
    wait_for(lambda: len(requests_of(exporter)) == 1)
    (request,) = requests_of(exporter)
    assert request.kind is SpanKind.SERVER and request.context is not None
    assert request.context.trace_id == TRACE_ID
    assert request.parent is not None and request.parent.span_id == CALLER_SPAN
    assert dict(request.attributes or {}) == {
        "gateway.request_id": "traced-1", "http.request.method": "POST",
        "graphql.operation.name": "Everything", "enduser.role": "public",
        "http.response.status_code": 200, "gateway.outcome": "ok"}
    assert answer.headers["x-request-id"] == "traced-1"

    calls = children(exporter, request)
    assert calls and {s.name for s in calls} == {"agency.call"}
    by_agency = {(s.attributes or {})["agency.code"]: s for s in calls}
    assert {"REG", "EPB", "COURT"} <= set(by_agency)  # SQLite, CSV and HTTP agencies
    court = by_agency["COURT"]
    assert court.kind is SpanKind.CLIENT and court.context is not None
    assert court.context.trace_id == TRACE_ID
    assert dict(court.attributes or {}) == {
        "agency.code": "COURT", "agency.record_type": "judgment_default",
        "agency.batch_size": 1, "agency.outcome": "ok"}
    sql = [s for s in calls if (s.attributes or {})["agency.code"] == "REG"]
    assert any((s.attributes or {})["agency.record_type"] == "penalty" for s in sql)
    for span in calls:  # each call lies within its request
        assert span.start_time is not None and request.start_time is not None
        assert span.end_time is not None and request.end_time is not None
        assert request.start_time <= span.start_time <= span.end_time <= request.end_time


def test_without_traceparent_a_request_starts_a_trace_and_failed_calls_are_errors(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    exporter = InMemorySpanExporter()
    server = serve(create_app(load_config(user_agencies["config"]), AppOptions(
        freeze_heap_after_start=False, tracer_provider=traced(exporter),
        response_cache=False)))
    user_agencies["court"].state.control.mode = "error_500"
    answer = httpx.post(f"{server.url}/graphql", json={"query": QUERY, "variables": {"c": ACME}},
                        timeout=30)
    assert answer.json()["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    wait_for(lambda: len(requests_of(exporter)) == 1)
    (request,) = requests_of(exporter)
    assert request.parent is None  # a new trace
    assert (request.attributes or {})["gateway.outcome"] == "partial"
    court = [s for s in children(exporter, request)
             if (s.attributes or {})["agency.code"] == "COURT"]
    assert court and (court[0].attributes or {})["agency.outcome"] == "error"
    assert court[0].status.status_code is StatusCode.ERROR
    # /healthz, /readyz and /metrics are not traced
    httpx.get(f"{server.url}/healthz", timeout=10)
    assert len(requests_of(exporter)) == 1


def test_the_gateway_serves_without_opentelemetry(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "gateway.otel", raising=False)
    with caplog.at_level(logging.WARNING, logger="gateway.tracing"):
        assert open_tracing(TracingSettings(endpoint="http://127.0.0.1:4318")) is None
    assert "OpenTelemetry is not installed" in caplog.text
    assert "[otel]" in caplog.text
    config: Path = user_agencies["config"]
    config.write_text(config.read_text(encoding="utf-8")
                      + "tracing:\n  endpoint: http://127.0.0.1:4318\n", encoding="utf-8")
    server = serve(create_app(load_config(config), AppOptions(freeze_heap_after_start=False)))
    assert post(server, {"traceparent": TRACEPARENT}).headers["x-request-id"]


def test_no_tracing_unless_asked() -> None:
    assert open_tracing(TracingSettings()) is None


def test_spans_are_exported_over_otlp_when_an_endpoint_is_configured(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    received: list[tuple[str, str, bytes]] = []

    async def collect(request: Request) -> Response:
        received.append((request.url.path, request.headers.get("content-type", ""),
                         await request.body()))
        return Response(b"", media_type="application/x-protobuf")

    collector = serve(Starlette(routes=[Route("/v1/traces", collect, methods=["POST"])]))
    config: Path = user_agencies["config"]
    config.write_text(config.read_text(encoding="utf-8") + f"""tracing:
  endpoint: {collector.url}
  service_name: gateway-under-test
""", encoding="utf-8")
    gateway = serve(create_app(load_config(config), AppOptions(freeze_heap_after_start=False)))
    post(gateway, {"traceparent": TRACEPARENT})
    gateway.stop()  # the lifespan's end sends what is buffered
    assert received, "no spans reached the collector"
    path, content_type, _ = received[0]
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    sent = b"".join(r[2] for r in received)
    for expected in (b"graphql.request", b"agency.call", b"gateway-under-test", b"COURT",
                     TRACE_ID.to_bytes(16, "big")):
        assert expected in sent, expected


def test_the_tracing_configuration_is_checked(user_agencies: dict[str, Any]) -> None:
    config: Path = user_agencies["config"]
    config.write_text(config.read_text(encoding="utf-8") + """tracing:
  endpoint: ftp://collector
  sample_ratio: 2
  exporter: zipkin
""", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert raised.value.problems == [
        "agencies.yaml: tracing: unknown field 'exporter' (known: endpoint, service_name, "
        "sample_ratio)",
        "agencies.yaml: tracing: endpoint: must be an http:// or https:// URL "
        "(e.g. http://127.0.0.1:4318), got 'ftp://collector'",
        "agencies.yaml: tracing: sample_ratio: must be a number from 0 to 1, got 2",
    ]


def test_gateway_serve_refuses_an_otlp_endpoint_that_is_not_a_url(
    user_agencies: dict[str, Any],
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(user_agencies["config"]),
         "--port", str(free_port()), "--otlp-endpoint", "collector:4318"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--otlp-endpoint: must be an http:// or https:// URL" in done.stderr
