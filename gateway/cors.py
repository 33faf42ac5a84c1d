"""Browsers on other origins (CORS): the ``cors:`` key of the configuration.

Example::

    cors:
      allow_origins:
        - https://portal.example.gov.cn   # scheme://host[:port], exactly
        - http://localhost:*              # any port of this host
      max_age_s: 600                      # how long a browser may reuse a preflight

Without the key no origin is allowed and no CORS header is sent; ``"*"`` allows
every origin (the gateway uses no cookies, so a page elsewhere can send only the
key it was given). ``gateway serve --cors-origin ORIGIN`` adds origins.

An allowed origin may POST and GET ``/graphql`` with the headers a caller sends
(``Content-Type``, ``Authorization``, ``X-Purpose``, ``X-Request-Id``) and read
``X-Request-Id`` of the answer. A preflight (``OPTIONS`` with
``Access-Control-Request-Method``) is answered before authentication, rate limits
and the access log: 200 for an allowed origin, 400 without CORS headers otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

__all__ = ["CorsSettings", "check_origin", "cors_middleware", "parse_cors"]

ALLOW_METHODS = ("GET", "POST")
ALLOW_HEADERS = ("content-type", "authorization", "x-purpose", "x-request-id")
EXPOSE_HEADERS = ("x-request-id",)
_KNOWN = ("allow_origins", "max_age_s")
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:(\d{1,5}|\*))?$")


@dataclass(frozen=True, slots=True)
class CorsSettings:
    """The origins whose pages may call the gateway; none by default."""

    allow_origins: tuple[str, ...] = ()
    max_age_s: int = 600

    def adding(self, origins: Iterable[str]) -> CorsSettings:
        """These settings with ``origins`` (already checked) allowed too."""
        added = tuple(o for o in origins if o not in self.allow_origins)
        return CorsSettings(self.allow_origins + added, self.max_age_s)


def check_origin(origin: Any) -> str | None:
    """Why ``origin`` is not an origin the settings can hold, or None when it is."""
    if origin == "*":
        return None
    if not isinstance(origin, str) or not _ORIGIN.match(origin):
        return (f"{origin!r} is not an origin: scheme://host[:port] with no path, e.g. "
                f"https://portal.example.gov.cn, http://localhost:* (any port) or * "
                f"(every origin)")
    return None


def parse_cors(raw: Any, where: str, problems: list[str]) -> CorsSettings:
    """Validate the ``cors:`` mapping; problems are appended, located by ``where``
    (e.g. ``gateway.yaml: cors``). Returns the defaults for what is invalid."""
    if raw is None:
        return CorsSettings()
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping (allow_origins, max_age_s)")
        return CorsSettings()
    for key in raw:
        if key not in _KNOWN:
            problems.append(f"{where}: unknown field {key!r} (known: {', '.join(_KNOWN)})")
    origins = raw.get("allow_origins", [])
    if not isinstance(origins, list):
        problems.append(f"{where}: allow_origins: must be a list of origins")
        origins = []
    for index, origin in enumerate(origins):
        problem = check_origin(origin)
        if problem is not None:
            problems.append(f"{where}: allow_origins[{index}]: {problem}")
    max_age = raw.get("max_age_s", 600)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= 86400:
        problems.append(f"{where}: max_age_s: must be whole seconds from 0 to 86400, "
                        f"got {max_age!r}")
        max_age = 600
    allowed = tuple(dict.fromkeys(o for o in origins if check_origin(o) is None))
    return CorsSettings(allowed, max_age)


def cors_middleware(settings: CorsSettings) -> list[Middleware]:
    """Starlette's CORS middleware for ``settings``; none when no origin is allowed."""
    if not settings.allow_origins:
        return []
    exact = [o for o in settings.allow_origins if not o.endswith(":*")]
    any_port = [re.escape(o[:-2]) + r"(:\d{1,5})?" for o in settings.allow_origins
                if o.endswith(":*")]
    return [Middleware(_Cors, allow_origins=exact,
                       allow_origin_regex="|".join(any_port) or None,
                       allow_methods=list(ALLOW_METHODS), allow_headers=list(ALLOW_HEADERS),
                       expose_headers=list(EXPOSE_HEADERS), max_age=settings.max_age_s)]


def _vary_origin(message: Message) -> None:
    """Add ``Origin`` to the ``Vary`` of a response's start as Starlette's CORS
    middleware does for a request without ``Origin``: the values of every ``vary``
    joined with ``Origin`` into the first one's place, the others removed."""
    headers = message["headers"] = list(message.get("headers", ()))
    found = [n for n, (name, _) in enumerate(headers) if name == b"vary"]
    if not found:
        headers.append((b"vary", b"Origin"))
        return
    headers[found[0]] = (b"vary", b", ".join([*(headers[n][1] for n in found), b"Origin"]))
    for n in reversed(found[1:]):
        del headers[n]


class _Cors(CORSMiddleware):
    """Starlette's CORS middleware, sending no CORS header at all to an origin it does
    not allow (Starlette's sends its preflight and expose headers to any origin).

    A request without ``Origin`` (every caller but a browser on another origin) only
    gets ``Vary: Origin``, added without Starlette's header objects (8 us of a warm
    request's CPU)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == b"origin" for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                _vary_origin(message)
            await send(message)

        await self.app(scope, receive, varying)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        reason = bytes(response.body).decode("utf-8")
        return PlainTextResponse(f"{reason}: this origin, method or header is not allowed "
                                 f"to call the gateway from a browser (configuration: cors)",
                                 status_code=400, headers={"Vary": "Origin"})

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if (message["type"] == "http.response.start" and origin is not None
                and not self.is_allowed_origin(origin)):
            message.setdefault("headers", [])
            MutableHeaders(scope=message).add_vary_header("Origin")
            await send(message)
            return
        await super().send(message, send, request_headers)
