"""A small HTTP agency source speaking the collection standard's ``http`` protocol.

``POST /{type}/query`` with ``{"credit_codes": [...]}`` or ``{"person_ids": [...]}``
answers ``{"items": [row, ...]}``; ``GET /health`` answers 200 while the source is up.
``{"since": "<ISO timestamp>"}`` answers the rows written at or after that time and
``"until"`` (the agency's clock when it answered: the next ``since``); rows loaded
at start count as written then. Tests and benchmarks steer it through
``app.state.control`` (latency, failure mode, keys to fail, ``since`` support), write
rows through ``app.state.write(type, row)`` and read ``app.state.stats`` (queries
and keys per record type)::

    app = create_agency_app(load_rows(Path("court.json")))
    app.state.control.mode = "error_500"      # the agency now fails
    app.state.write("penalty", {"record_id": "P-9", ...})  # added or replaced now

Run it in its own process (for benchmarks)::

    python -m gateway.demo.agency_service --data court.json --port 9001 --latency-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

__all__ = [
    "MODES",
    "AgencyControl",
    "AgencyStats",
    "SourceRows",
    "create_agency_app",
    "create_sources_app",
    "load_rows",
    "main",
]

Rows = dict[str, list[dict[str, str]]]
# What an agency may be given: rows of text values, or JSON nulls for missing ones.
SourceRows = Mapping[str, Sequence[Mapping[str, str | None]]]
Row = dict[str, str | None]

MODES = ("ok", "error_500", "hang", "garbage", "close")
_KEY_FIELDS = (("credit_codes", "credit_code"), ("person_ids", "person_id"))


@dataclass
class AgencyControl:
    """How the agency behaves; tests change it while the app runs.

    ``mode``: ``ok``; ``error_500`` answers 500; ``hang`` never answers (sleeps an
    hour); ``garbage`` answers 200 with a body that is not JSON; ``close`` starts a
    200 answer and drops the connection mid-body (uvicorn closes the socket, an
    in-process ``httpx.ASGITransport`` raises ``ConnectionAbortedError``).
    ``failing_keys``: credit codes or person ids the agency reports as failed (in the
    answer's ``errors`` list, without their rows) while answering the other keys.
    ``answers_since``: False makes it an agency of before change times, answering a
    ``since`` query with 400.
    """

    latency_s: float = 0.0
    mode: str = "ok"
    failing_keys: set[str] = field(default_factory=set)
    answers_since: bool = True


@dataclass
class AgencyStats:
    """Queries received and keys asked for, per record type."""

    queries: dict[str, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)

    def count(self, record_type: str, keys: int) -> None:
        """Count one query of ``record_type`` asking for ``keys`` keys."""
        self.queries[record_type] = self.queries.get(record_type, 0) + 1
        self.keys[record_type] = self.keys.get(record_type, 0) + keys


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class _Table:
    """One record type's rows, the time each was written and the key indexes."""

    def __init__(self, rows: Sequence[Mapping[str, str | None]]) -> None:
        loaded = _now()
        self.rows: list[Row] = [dict(row) for row in rows]
        self.written = [loaded] * len(self.rows)
        self.index = _Index.of(self.rows)

    def write(self, row: Mapping[str, str | None]) -> None:
        """Add ``row``, or replace the row of the same ``record_id``, written now."""
        new = dict(row)
        at = next((i for i, old in enumerate(self.rows)
                   if old.get("record_id") == new.get("record_id")), None)
        if at is None:
            self.rows.append(new)
            self.written.append(_now())
        else:
            self.rows[at] = new
            self.written[at] = _now()
        self.index = _Index.of(self.rows)

    def since(self, moment: dt.datetime) -> list[Row]:
        return [row for row, written in zip(self.rows, self.written, strict=True)
                if dt.datetime.fromisoformat(written) >= moment]


def _since(body: Any) -> dt.datetime | str | None:
    """The ``since`` asked (a UTC time), None when the body asks by key, or why the
    value is no timestamp."""
    if not isinstance(body, dict) or "since" not in body:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(body["since"]))
    except ValueError:
        return 'since must be an ISO timestamp such as "2026-12-02T08:00:00+00:00"'
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class _Index:
    by_key: Mapping[str, Mapping[str, list[Row]]]  # key column -> value -> rows

    @classmethod
    def of(cls, rows: Sequence[Row]) -> _Index:
        by_key: dict[str, dict[str, list[Row]]] = {}
        for _, column in _KEY_FIELDS:
            found: dict[str, list[Row]] = {}
            for row in rows:
                value = row.get(column)
                if value:
                    found.setdefault(value, []).append(row)
            by_key[column] = found
        return cls(by_key)

    def find(self, asked: Mapping[str, list[str]],
             skip: set[str]) -> list[Row]:
        """Rows matching any asked key not in ``skip``, in the order of the keys asked."""
        items: list[Row] = []
        seen: set[int] = set()
        for column, keys in asked.items():
            index = self.by_key[column]
            for key in keys:
                if key in skip:
                    continue
                for row in index.get(key, ()):
                    if id(row) not in seen:
                        seen.add(id(row))
                        items.append(row)
        return items


class _DroppedConnection(Response):
    """Start a 200 answer, send part of the body, then fail so the server drops the socket."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"items": [', "more_body": True})
        raise ConnectionAbortedError("agency service: simulated dropped connection")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _asked_keys(body: Any) -> dict[str, list[str]] | str:
    """Key column -> unique keys asked for, or why the body is not a valid query."""
    if not isinstance(body, dict):
        return 'body must be a JSON object such as {"credit_codes": ["911101..."]}'
    asked: dict[str, list[str]] = {}
    for field_name, column in _KEY_FIELDS:
        if field_name not in body:
            continue
        keys = body[field_name]
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            return f"{field_name} must be a list of strings"
        asked[column] = list(dict.fromkeys(keys))
    if not asked:
        return "body must hold credit_codes or person_ids (a list of strings)"
    return asked


def create_agency_app(rows: SourceRows, *, latency_s: float = 0.0) -> Starlette:
    """An agency serving ``rows`` (record type -> rows) over the standard's HTTP protocol.

    Rows are returned as given (text, ``None`` as JSON null). They are indexed by
    ``credit_code`` and ``person_id`` once, so a query costs O(keys asked).
    ``app.state.control`` is an ``AgencyControl`` (starting with
    ``latency_s``), ``app.state.stats`` an ``AgencyStats``.
    """
    tables = {record_type: _Table(type_rows) for record_type, type_rows in rows.items()}
    control = AgencyControl(latency_s=latency_s)
    stats = AgencyStats()

    async def health(request: Request) -> Response:
        if control.mode == "ok":
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": control.mode}, status_code=503)

    async def query(request: Request) -> Response:
        record_type = request.path_params["record_type"]
        table = tables.get(record_type)
        if table is None:
            served = ", ".join(sorted(tables)) or "nothing"
            return _error(404, f"unknown record type {record_type!r}; this agency serves {served}")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body is not valid JSON")
        since = _since(body)
        if isinstance(since, str) or (since is not None and not control.answers_since):
            return _error(400, since if isinstance(since, str)
                          else "this agency does not answer since queries")
        asked = {} if since is not None else _asked_keys(body)
        if isinstance(asked, str):
            return _error(400, asked)
        stats.count(record_type, sum(len(keys) for keys in asked.values()))
        if control.latency_s > 0:
            await asyncio.sleep(control.latency_s)
        if control.mode == "error_500":
            return _error(500, "agency service: simulated internal error")
        if control.mode == "hang":
            await asyncio.sleep(3600)
        if control.mode == "garbage":
            return Response(b"not json{", media_type="application/json")
        if control.mode == "close":
            return _DroppedConnection()
        if since is not None:
            until = _now()  # before reading: a row written meanwhile comes next time too
            return JSONResponse({"items": table.since(since), "until": until})
        failed = [key for keys in asked.values() for key in keys if key in control.failing_keys]
        answer: dict[str, Any] = {"items": table.index.find(asked, control.failing_keys)}
        if failed:
            message = "agency service: simulated failure for this key"
            answer["errors"] = [{"key": key, "message": message} for key in failed]
        return JSONResponse(answer)

    app = Starlette(routes=[
        Route("/health", health, methods=["GET"]),
        Route("/{record_type}/query", query, methods=["POST"]),
    ])
    app.state.control = control
    app.state.stats = stats
    app.state.write = lambda record_type, row: tables.setdefault(record_type, _Table(())).write(row)
    return app


def create_sources_app(sources: Mapping[str, SourceRows], *, latency_s: float = 0.0,
                       root: str | None = None) -> Starlette:
    """Several agencies in one app, each at ``/<name>`` (``court`` -> ``/court/...``).

    ``app.state.agencies`` maps each name to its agency app (for its control and
    stats). ``root`` names an agency also served at ``/``. Without one, ``GET /health``
    answers 200 when every agency is ``ok``.
    """
    agencies = {name: create_agency_app(rows, latency_s=latency_s)
                for name, rows in sources.items()}

    async def health(request: Request) -> Response:
        modes = {name: agency.state.control.mode for name, agency in agencies.items()}
        up = all(mode == "ok" for mode in modes.values())
        return JSONResponse({"status": "ok" if up else "degraded", "agencies": modes},
                            status_code=200 if up else 503)

    routes: list[BaseRoute] = [Mount(f"/{name}", app=agency) for name, agency in agencies.items()]
    routes.append(Mount("", app=agencies[root]) if root else Route("/health", health))
    app = Starlette(routes=routes)
    app.state.agencies = agencies
    return app


def load_rows(path: Path) -> dict[str, list[dict[str, str]]]:
    """Read ``{"<type>": [row, ...]}`` as written by ``gateway.demo.writer``.

    Values are kept as text; a JSON ``null`` becomes ``""``.
    """
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected an object mapping record types to lists of rows")
    rows: Rows = {}
    for record_type, type_rows in document.items():
        if not isinstance(type_rows, list) or not all(isinstance(r, dict) for r in type_rows):
            raise ValueError(f"{path}: {record_type}: expected a list of objects")
        rows[record_type] = [
            {str(k): "" if value is None else str(value) for k, value in row.items()}
            for row in type_rows
        ]
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Serve agency data files with uvicorn (see the module docstring)."""
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m gateway.demo.agency_service",
        description="Serve demo agency rows over the collection standard's HTTP protocol. "
        "Each file is served at /<file stem> (court.json -> /court/...); "
        "a single file is also served at /.",
    )
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="JSON file written by gateway.demo.writer (repeatable)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay before answering each query")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    sources = {path.stem: load_rows(path) for path in args.data}
    root = next(iter(sources)) if len(sources) == 1 else None
    app = create_sources_app(sources, latency_s=args.latency_ms / 1000, root=root)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
