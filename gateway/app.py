"""The ASGI application: ``POST /graphql`` (GraphiQL on GET), ``/readyz``, ``/healthz``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from strawberry.asgi import GraphQL

from connectors.errors import SourceError
from gateway.config import GatewayConfig
from gateway.runtime import Runtime, open_runtime
from schema.build import build_schema
from schema.context import RequestContext

__all__ = ["AppOptions", "create_app"]

logger = logging.getLogger("gateway")


@dataclass(frozen=True, slots=True)
class AppOptions:
    """How the app is built. ``runtime_factory`` lets tests inject clients."""

    graphiql: bool = True
    extra_routes: Sequence[BaseRoute] = ()
    runtime_factory: Callable[[GatewayConfig], Runtime] = field(default=open_runtime)


class _GraphQL(GraphQL[RequestContext, None]):
    async def get_context(self, request: Any, response: Any) -> RequestContext:
        runtime: Runtime = request.app.state.runtime
        return runtime.new_context()


def create_app(config: GatewayConfig, options: AppOptions | None = None) -> Starlette:
    """The gateway for ``config``. Connectors open in the lifespan and close with it."""
    options = options or AppOptions()
    graphql = _GraphQL(build_schema(), graphql_ide="graphiql" if options.graphiql else None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = options.runtime_factory(config)
        app.state.runtime = runtime
        app.state.ready = False
        try:
            try:
                snapshot = await runtime.index.snapshot()
                logger.info("registry indexed: %d enterprises", len(snapshot.enterprises))
            except SourceError as error:
                logger.warning("registry not indexed at start (%s); will retry on use", error)
            app.state.ready = True
            yield
        finally:
            await runtime.aclose()

    async def readyz(request: Request) -> Response:
        ready = getattr(request.app.state, "ready", False)
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/readyz", readyz),
        Route("/healthz", healthz),
        *options.extra_routes,
    ]
    return Starlette(routes=routes, lifespan=lifespan)
