"""Every HTTP request's id, access line, metrics and span (``ObservedRequests``).

The middleware wraps the whole app, so every answer - GraphQL, ``/readyz``,
``/metrics``, the gate's 401/413/429/503 refusals, a 500 - carries ``X-Request-Id``:
the caller's when it is sane, else a new one (``gateway.logs.request_id``). The gate
(``gateway.app``) leaves in the ASGI scope who called (``CALLER``), which operation
(``OPERATION``) and what the answer withheld (``SUMMARY``); once the answer is sent
the middleware writes one line to the ``gateway.access`` logger, counts GraphQL
requests in the metrics and ends the request's span.

The line says who, what and how it ended, never what was asked or answered: no key,
query text, variables or record values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.access_capture import outcome_of
from gateway.logs import current_request_id, request_id
from gateway.metrics import GatewayMetrics
from gateway.tracing import Tracing

__all__ = ["CALLER", "OPERATION", "REQUEST_ID", "SUMMARY", "ObservedRequests",
           "is_graphql_request"]

# what the app leaves in the scope for the middleware
REQUEST_ID = "gateway.request_id"  # str, set here before the app runs
CALLER = "gateway.caller"  # gateway.callers.Caller, once authenticated (or refused)
OPERATION = "gateway.operation"  # str: gateway.graphql_payload.operation_of
SUMMARY = "gateway.summary"  # gateway.access_capture.Summary: what the answer returned

access_log = logging.getLogger("gateway.access")
logger = logging.getLogger("gateway")

_JSON = (b"application/json", b"application/graphql-response+json")
_INTERNAL = (b'{"errors":[{"message":"The gateway failed to answer; the operator can find '
             b'this request in its logs by the X-Request-Id of this answer.","extensions":'
             b'{"code":"INTERNAL_ERROR"}}]}')


def is_graphql_request(scope: Scope) -> bool:
    """A GraphQL request, not the GraphiQL page: a POST, or a GET with a query."""
    return scope.get("method") == "POST" or b"query=" in scope.get("query_string", b"")


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _outcome(status: int, content_type: bytes, chunks: list[bytes]) -> str:
    """``ok``, ``partial`` (data with errors), the first error's code, ``HTTP_<status>``,
    or ``cancelled`` when no answer was sent (the caller went away)."""
    if status == 0:
        return "cancelled"
    if not content_type.startswith(_JSON):
        return "ok" if status < 400 else f"HTTP_{status}"
    if status == 200 and not any(b'"errors"' in chunk for chunk in chunks):
        return "ok"
    outcome, code = outcome_of(status, b"".join(chunks))
    if outcome in ("ok", "partial"):
        return outcome
    return code or f"HTTP_{status}"


class ObservedRequests:
    """ASGI middleware: request ids, access lines, request metrics and spans."""

    def __init__(self, app: ASGIApp, *, metrics: GatewayMetrics, tracing: Tracing | None,
                 graphql_path: str = "/graphql") -> None:
        self._app = app
        self._metrics = metrics
        self._tracing = tracing
        self._graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = scope["headers"]
        rid = request_id(_header(headers, b"x-request-id"))
        scope[REQUEST_ID] = rid
        token = current_request_id.set(rid)
        echoed = (b"x-request-id", rid.encode("ascii"))
        graphql = scope["path"] == self._graphql_path and is_graphql_request(scope)
        span = (self._tracing.request(headers, scope["method"], rid)
                if graphql and self._tracing is not None else None)
        status = 0
        content_type = b""
        chunks: list[bytes] = []

        async def watch(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                answer_headers = message.get("headers", ())
                content_type = (_header(answer_headers, b"content-type") or "").encode()
                message = {**message, "headers": [*answer_headers, echoed]}
            elif message["type"] == "http.response.body" and content_type.startswith(_JSON):
                body = message.get("body", b"")  # kept for the outcome (errors' codes)
                if body:
                    chunks.append(body)
            await send(message)

        try:
            await self._app(scope, receive, watch)
        except Exception:
            logger.exception("the request failed")  # the traceback goes to the log only
            if status == 0:
                await watch({"type": "http.response.start", "status": 500,
                             "headers": [(b"content-type", b"application/json")]})
                await watch({"type": "http.response.body", "body": _INTERNAL})
        finally:
            seconds = time.perf_counter() - started
            outcome = _outcome(status, content_type, chunks)
            caller = scope.get(CALLER)
            role = caller.role if caller is not None else "-"
            operation = scope.get(OPERATION, "-")
            if access_log.isEnabledFor(logging.INFO):
                self._line(scope, status, seconds, outcome, caller, role, operation)
            if graphql:
                self._count(scope, operation, outcome, seconds, caller, role)
            if span is not None:
                span.end(status, operation, role, outcome)
            current_request_id.reset(token)

    def _count(self, scope: Scope, operation: str, outcome: str, seconds: float,
               caller: object, role: str) -> None:
        metrics = self._metrics
        metrics.request(operation, outcome, seconds)
        summary = scope.get(SUMMARY)
        if caller is not None and summary is not None and summary.redactions:
            metrics.redacted(role, sum(summary.redactions.values()))

    @staticmethod
    def _line(scope: Scope, status: int, seconds: float, outcome: str, caller: object,
              role: str, operation: str) -> None:
        method, path = scope["method"], scope["path"][:200]
        principal = getattr(caller, "principal", None) or "-"
        latency_ms = round(seconds * 1000, 1)
        access_log.info("%s %s %d %.1f ms", method, path, status, latency_ms, extra={
            "request_id": scope[REQUEST_ID], "principal": principal, "role": role,
            "operation": operation, "method": method, "path": path, "status": status,
            "latency_ms": latency_ms, "outcome": outcome})
