"""The public portal (公示查询, ``GET /portal``): one page where anyone finds an
enterprise by name or credit code and reads its fully open file, and the published
double-random inspection plans and their draws (seed 004: 公示查询功能).

The page is plain HTML with one script and one style sheet, in
``gateway/static/portal/`` and served here, so it works on a network without
internet. The script asks the public GraphQL (``/graphql`` without a key) and nothing
else: what it shows is exactly what the public role may read, decided by the caller's
view like any other public request. It builds its queries from the public schema's
own fields (one introspection request), so a field an operator classes above OPEN
simply disappears from the page instead of breaking it.

The page and its files are read once, when the app is built: a missing file stops the
start. Each file's URL carries its digest (``?v=...``), so a browser may keep it for a
year; the page itself is revalidated (``no-cache`` with an ETag). The
Content-Security-Policy lets the page load and call the gateway alone, with no inline
script or style.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["ASSET_PREFIX", "CONTENT_SECURITY_POLICY", "PORTAL_PATH", "Portal"]

PORTAL_PATH = "/portal"
ASSET_PREFIX = "/portal/static"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_PAGE = "index.html"
_FILES = {"portal.js": "text/javascript; charset=utf-8",
          "portal.css": "text/css; charset=utf-8"}
_FOREVER = "public, max-age=31536000, immutable"
_PLACEHOLDER = re.compile(r"\{\{([\w.-]+)\}\}")  # {{portal.js}} in index.html


class PortalFileError(Exception):
    """The portal's folder lacks a file, or its page names one that is not served."""


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    compressed: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> _File:
        digest = hashlib.sha256(body).hexdigest()[:16]
        return cls(body, gzip.compress(body, compresslevel=6, mtime=0), content_type,
                   f'"{digest}"')

    @property
    def digest(self) -> str:
        return self.etag.strip('"')


class Portal:
    """The page and its files from ``folder`` (default: ``gateway/static/portal``).

    ``routes()`` serves ``/portal`` and ``/portal/static/<name>``; only the files
    named in ``_FILES`` are served, never a path built from the request.
    """

    def __init__(self, folder: Traversable | None = None) -> None:
        folder = folder or files("gateway") / "static" / "portal"
        self._files: dict[str, _File] = {}
        for name, content_type in _FILES.items():
            self._files[name] = _File.of(_read(folder, name), content_type)
        template = _read(folder, _PAGE).decode("utf-8")
        self._page = _File.of(self._render(template).encode("utf-8"),
                              "text/html; charset=utf-8")

    @property
    def names(self) -> frozenset[str]:
        """The files served under ``ASSET_PREFIX``."""
        return frozenset(self._files)

    def url(self, name: str) -> str:
        """Where the page loads ``name`` from, with its digest."""
        return f"{ASSET_PREFIX}/{name}?v={self._files[name].digest}"

    def routes(self) -> list[BaseRoute]:
        return [Route(PORTAL_PATH, self._serve_page, methods=["GET"]),
                Route(ASSET_PREFIX + "/{name}", self._serve_file, methods=["GET"])]

    def _render(self, template: str) -> str:
        def url_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self._files:
                raise PortalFileError(f"the portal page refers to {{{{{name}}}}}, which is "
                                      f"not one of its files ({', '.join(sorted(_FILES))})")
            return self.url(name)

        return _PLACEHOLDER.sub(url_of, template)

    async def _serve_page(self, request: Request) -> Response:
        return _respond(request, self._page, {"Cache-Control": "no-cache",
                                              "Content-Security-Policy":
                                                  CONTENT_SECURITY_POLICY,
                                              "Referrer-Policy": "no-referrer"})

    async def _serve_file(self, request: Request) -> Response:
        found = self._files.get(request.path_params["name"])
        if found is None:
            return PlainTextResponse("No such portal file.", status_code=404,
                                     headers={"X-Content-Type-Options": "nosniff"})
        return _respond(request, found, {"Cache-Control": _FOREVER})


def _respond(request: Request, found: _File, headers: dict[str, str]) -> Response:
    """``found``, gzip-compressed when the browser takes it, or 304 when the browser's
    copy (``If-None-Match``) is current. The compressed bytes are another
    representation, so they have a tag of their own (``"<digest>-gzip"``)."""
    packed = "gzip" in request.headers.get("accept-encoding", "")
    tag = f'"{found.digest}-gzip"' if packed else found.etag
    headers = {**headers, "ETag": tag, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff"}
    known = request.headers.get("if-none-match", "")
    if tag in (given.strip() for given in known.split(",")):
        return Response(status_code=304, headers=headers)
    if not packed:
        return Response(found.body, media_type=found.content_type, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(found.compressed, media_type=found.content_type, headers=headers)


def _read(folder: Traversable, name: str) -> bytes:
    entry = folder / name
    if not entry.is_file():
        raise PortalFileError(f"the portal's {name} is missing from {folder}; reinstall "
                              "the package or serve with --no-portal")
    return entry.read_bytes()
