"""``/healthz`` (the process answers) and ``/readyz`` (it should get traffic: the
access log can be written, the policy is loaded, every agency's files are there)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.spec import AgencySpec
from gateway.platform_store.store import PlatformStore
from gateway.platform_store.writer import AccessLogWriter
from gateway.policy_sync import DatabasePolicies
from gateway.source_files import missing_files

__all__ = ["healthz", "readyz_endpoint"]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def readyz_endpoint(agencies: Sequence[AgencySpec]) -> Callable[[Request], Awaitable[Response]]:
    """``/readyz`` for a gateway reading ``agencies``."""

    async def readyz(request: Request) -> Response:
        state = request.app.state
        ready = getattr(state, "ready", False)
        # which event loop serves (gateway serve --loop): asyncio or uvloop
        loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
        body: dict[str, Any] = {"ready": ready, "eventLoop": loop}
        store: PlatformStore | None = getattr(state, "platform", None)
        writer: AccessLogWriter | None = getattr(state, "access_log", None)
        if store is not None and writer is not None:
            problem = writer.problem() or await store.check(timeout_s=2.0)
            body["accessLog"] = {"writable": problem is None, "healthy": writer.healthy(),
                                 "problem": problem, "pending": writer.pending}
            if not writer.healthy():
                body["ready"] = ready = False
                body["reason"] = ("AUDIT_UNAVAILABLE: the access log cannot be written; only "
                                  "public requests are served")
        synced: DatabasePolicies | None = getattr(state, "policy_sync", None)
        if synced is not None:
            body["policy"] = {"store": "database", "version": synced.version,
                              "updating": synced.behind}
            if synced.version == 0:
                body["ready"] = ready = False
                body.setdefault("reason", "POLICY_UPDATING: the access policy is not "
                                          "loaded from the platform database yet")
        missing = missing_files(agencies)  # a few stat calls
        if missing:
            body["ready"] = ready = False
            body["sourceFiles"] = {m.agency: m.message(full_path=False) for m in missing}
            shown = "; ".join(m.message(full_path=False) for m in missing)
            body.setdefault("reason", f"SOURCE_FILES_MISSING: {shown}")
        return JSONResponse(body, status_code=200 if ready else 503)

    return readyz
