"""OpenTelemetry spans (imported only through ``gateway.tracing``, when installed).

``graphql.request`` (SERVER): ``graphql.operation.name``, ``enduser.role``,
``gateway.request_id``, ``http.request.method``, ``http.response.status_code``,
``gateway.outcome``; a child of the caller's ``traceparent`` when it sends one.
``agency.call`` (CLIENT), a child of the request that needed the call (of the first
of the requests sharing a coalesced call): ``agency.code``, ``agency.record_type``,
``agency.batch_size``, ``agency.outcome``. A stale copy served after a failure is an
event on the current span. No global tracer provider is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import Token

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from connectors.observe import OK, CallWatch, SourceObserver
from gateway.telemetry_settings import TracingSettings

__all__ = ["OtelTracing"]

_PROPAGATED = (b"traceparent", b"tracestate")
_PROPAGATOR = TraceContextTextMapPropagator()  # stateless


class _RequestSpan:
    __slots__ = ("_span", "_token")

    def __init__(self, span: trace.Span, token: Token[Context]) -> None:
        self._span = span
        self._token = token

    def end(self, status: int, operation: str, role: str, outcome: str) -> None:
        span = self._span
        span.set_attributes({"graphql.operation.name": operation, "enduser.role": role,
                             "http.response.status_code": status, "gateway.outcome": outcome})
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, outcome))
        span.end()
        context.detach(self._token)


class _CallSpan:
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def end(self, outcome: str) -> None:
        self._span.set_attribute("agency.outcome", outcome)
        if outcome != OK:
            self._span.set_status(Status(StatusCode.ERROR, outcome))
        self._span.end()


class _SpanObserver:
    """The ``SourceObserver`` making ``agency.call`` spans."""

    __slots__ = ("_tracer",)

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def call(self, agency: str, record_type: str, batch_size: int) -> CallWatch:
        return _CallSpan(self._tracer.start_span(
            "agency.call", kind=SpanKind.CLIENT,
            attributes={"agency.code": agency, "agency.record_type": record_type,
                        "agency.batch_size": batch_size}))

    def cache_lookup(self, hits: int, misses: int) -> None:
        return None

    def stale_served(self, agency: str) -> None:
        trace.get_current_span().add_event("stale copy served", {"agency.code": agency})


class OtelTracing:
    """Spans from one tracer provider (owned, and shut down, when built here)."""

    def __init__(self, provider: TracerProvider, *, owned: bool) -> None:
        self._provider = provider
        self._owned = owned
        self._tracer = provider.get_tracer("gateway")
        self._observer = _SpanObserver(self._tracer)

    @classmethod
    def open(cls, settings: TracingSettings, provider: object | None) -> OtelTracing:
        """Through ``provider`` when given, else to ``settings.endpoint`` over OTLP/HTTP
        (``/v1/traces`` added to a base URL)."""
        if provider is not None:
            if not isinstance(provider, TracerProvider):
                raise TypeError("tracer_provider must be an OpenTelemetry SDK TracerProvider")
            return cls(provider, owned=False)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = str(settings.endpoint).rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        built = TracerProvider(
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
            resource=Resource.create({"service.name": settings.service_name}))
        built.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        return cls(built, owned=True)

    @property
    def observer(self) -> SourceObserver:
        return self._observer

    def request(self, headers: Sequence[tuple[bytes, bytes]], method: str,
                request_id: str) -> _RequestSpan:
        carrier = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in headers if name in _PROPAGATED}
        parent = _PROPAGATOR.extract(carrier) if carrier else None
        span = self._tracer.start_span(
            "graphql.request", context=parent, kind=SpanKind.SERVER,
            attributes={"gateway.request_id": request_id, "http.request.method": method})
        token = context.attach(trace.set_span_in_context(span, parent))
        return _RequestSpan(span, token)

    def shutdown(self) -> None:
        if self._owned:
            self._provider.shutdown()
