"""GraphiQL's files, served by the gateway itself (``/graphiql/static/<name>``).

The page must work on a network without internet (政务外网), so React, GraphiQL
and its explorer plugin are vendored in ``gateway/static/graphiql/`` (pinned
versions, licences and checksums in its ``VERSIONS.md``) and read through
``importlib.resources``, which also finds them inside an installed wheel.

Each URL carries the file's digest (``?v=...``), so a browser may keep a file
for a year: a new version is a new URL. Files are sent gzip-compressed to
browsers that accept it (GraphiQL's bundle: 3.5 MB, 0.8 MB compressed),
compressed once, on first use.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["ASSET_PREFIX", "GraphiQLAssets"]

ASSET_PREFIX = "/graphiql/static"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
}
_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    compressed: bytes
    content_type: str
    digest: str


class GraphiQLAssets:
    """The files of one folder (default: the vendored GraphiQL), by name.

    ``url(name)`` is where the page loads a file from; ``route()`` serves them.
    Only the folder's own files are served (``licenses/<name>`` included), never a
    path built from the request.
    """

    def __init__(self, folder: Traversable | None = None) -> None:
        self._folder = folder or files("gateway") / "static" / "graphiql"
        self._names = {f"{prefix}{entry.name}" for prefix, entry in _walk(self._folder)
                       if _content_type(entry.name) is not None}
        self._loaded: dict[str, _Asset] = {}

    @property
    def names(self) -> frozenset[str]:
        """Every file served (``graphiql.min.js``, ``licenses/react.LICENSE``, ...)."""
        return frozenset(self._names)

    def url(self, name: str) -> str:
        """The file's URL path, with its digest so caches keep it until it changes."""
        return f"{ASSET_PREFIX}/{name}?v={self._asset(name).digest}"

    def route(self) -> Route:
        return Route(ASSET_PREFIX + "/{name:path}", self._serve, methods=["GET"])

    def _asset(self, name: str) -> _Asset:
        asset = self._loaded.get(name)
        if asset is None:
            if name not in self._names:
                raise KeyError(name)
            body = self._folder.joinpath(*name.split("/")).read_bytes()
            content_type = _content_type(name) or "application/octet-stream"
            asset = _Asset(body, gzip.compress(body, compresslevel=6, mtime=0), content_type,
                           hashlib.sha256(body).hexdigest()[:16])
            self._loaded[name] = asset
        return asset

    async def _serve(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self._names:
            return PlainTextResponse(f"No GraphiQL file {name!r}.", status_code=404)
        asset = self._asset(name)
        headers = {"Cache-Control": _CACHE, "ETag": f'"{asset.digest}"',
                   "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == f'"{asset.digest}"':
            return Response(status_code=304, headers=headers)
        body = asset.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = asset.compressed
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=asset.content_type, headers=headers)


def _content_type(name: str) -> str | None:
    return next((kind for suffix, kind in _TYPES.items() if name.endswith(suffix)), None)


def _walk(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """Every file under ``folder`` with its path prefix (one level of subfolders is all
    the vendored folder has; deeper ones are walked the same way)."""
    found: list[tuple[str, Traversable]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found.extend(_walk(entry, f"{prefix}{entry.name}/"))
        elif entry.is_file():
            found.append((prefix, entry))
    return found
