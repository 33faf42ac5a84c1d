"""``GET /metrics``: the gateway's metrics in Prometheus' text format, to whom may read
them (``metrics:`` in the configuration, ``gateway.telemetry_settings``).

The labels name agencies, so by default the metrics are served only to clients on
this machine (127.0.0.1, ::1 - as uvicorn reports the client: behind a proxy on the
same host, the address the proxy forwards) and to callers whose key has role admin
or auditor; others get 403 ``FORBIDDEN``, a bad key 401. ``public: true`` serves
everyone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.callers import Authenticator, AuthError
from gateway.metrics import GatewayMetrics
from gateway.telemetry_settings import MetricsSettings

__all__ = ["metrics_endpoint"]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]},
                        status_code=status,
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def _refusal(settings: MetricsSettings, request: Request) -> Response | None:
    if settings.public:
        return None
    client = request.client
    if settings.loopback and client is not None and _loopback(client.host):
        return None
    allowed = ", ".join(settings.roles) or "none"
    if "authorization" in request.headers:
        authenticator: Authenticator = request.app.state.runtime.authenticator
        try:
            caller = authenticator.caller(request.headers)
        except AuthError as error:
            return _refuse(error.status, error.code, error.message)
        if caller.role in settings.roles:
            return None
    where = "this machine and " if settings.loopback else ""
    return _refuse(403, "FORBIDDEN",
                   f"The metrics name agencies, so they are served only to {where}callers "
                   f"with role {allowed} (Authorization: Bearer <key>). The operator can "
                   f"open them to everyone with 'metrics: {{public: true}}'.")


def metrics_endpoint(settings: MetricsSettings,
                     metrics: GatewayMetrics) -> Callable[[Request], Awaitable[Response]]:
    """The ``/metrics`` endpoint: the breaker and access-log gauges are read at scrape
    time from the app's runtime and access-log writer."""

    async def endpoint(request: Request) -> Response:
        refused = _refusal(settings, request)
        if refused is not None:
            return refused
        state = request.app.state
        runtime = getattr(state, "runtime", None)
        breakers = ([(c.code, c.breaker.state) for c in runtime.sources.all()]
                    if runtime is not None else [])
        writer = getattr(state, "access_log", None)
        body, content_type = metrics.render(request.headers.get("accept", ""), breakers,
                                            None if writer is None else writer.pending)
        return Response(body, headers={"Content-Type": content_type})

    return endpoint
