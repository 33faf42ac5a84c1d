"""Traces, when wanted and possible: OpenTelemetry is the optional ``otel`` extra.

``open_tracing`` gives a ``Tracing`` when the settings name an OTLP endpoint (or a
test hands a ``TracerProvider``) and OpenTelemetry is installed; otherwise None, and
the gateway serves without traces. With one, each GraphQL request is a
``graphql.request`` span (continuing the caller's W3C ``traceparent``) and each call
to an agency a child ``agency.call`` span (``gateway.otel``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from connectors.observe import SourceObserver
from gateway.telemetry_settings import TracingSettings

__all__ = ["RequestSpan", "Tracing", "open_tracing"]

logger = logging.getLogger(__name__)


class RequestSpan(Protocol):
    """The span of one request, current while the request is answered."""

    def end(self, status: int, operation: str, role: str, outcome: str) -> None:
        """Close the span with how the request ended; called once, by the task that
        started it."""
        ...


class Tracing(Protocol):
    """Starts request spans; ``observer`` makes the agency-call spans."""

    @property
    def observer(self) -> SourceObserver: ...

    def request(self, headers: Sequence[tuple[bytes, bytes]], method: str,
                request_id: str) -> RequestSpan:
        """Start the span of a GraphQL request with these (raw ASGI) headers."""
        ...

    def shutdown(self) -> None:
        """Send what is buffered and stop (blocking: call it off the event loop)."""
        ...


def open_tracing(settings: TracingSettings, provider: object | None = None) -> Tracing | None:
    """Tracing to ``settings.endpoint``, or through ``provider`` (an OpenTelemetry SDK
    ``TracerProvider``, for tests); None when neither is given or OpenTelemetry is not
    installed (logged: traces were asked for)."""
    if provider is None and settings.endpoint is None:
        return None
    try:
        from gateway.otel import OtelTracing
    except ImportError as error:
        logger.warning("traces are configured but OpenTelemetry is not installed (%s); "
                       "serving without traces: pip install 'regulatory-graph[otel]'",
                       error.name)
        return None
    return OtelTracing.open(settings, provider)
