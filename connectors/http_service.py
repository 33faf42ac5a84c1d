"""``http`` sources: the standard's ``POST {base_url}/{type}/query`` protocol.

Request ``{"credit_codes": [...]}`` (or ``{"person_ids": [...]}``), answer
``{"items": [row, ...]}``; an optional ``"errors": [{"key": K, "message": M}]``
reports keys the agency could not answer. ``GET {base_url}/health`` answers 200
when the source is up.

Changes (``changed_since``): ``{"since": "<ISO timestamp>"}`` asks for the rows
written at or after that time; the answer ``{"items": [...], "until": "<ISO
timestamp>"}`` says up to when, by the agency's clock, it is complete (the next
``since``). An agency that answers such a query with an error or without ``until``
does not support it: ``SourceUnsupported``, and the caller reads it whole by key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import orjson
from aiohttp import ClientSession, ClientTimeout
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions

from connectors.base import Connector, RawBatch, Watermark
from connectors.errors import SourceUnavailable, SourceUnsupported
from connectors.http_pool import HttpPool
from connectors.records import RowProblem
from connectors.spec import AgencySpec

__all__ = ["HttpConnector"]

# ``since`` of the first read: every row the agency holds.
_EPOCH = "1970-01-01T00:00:00+00:00"
_BODY_KEY = {"credit_code": "credit_codes", "person_id": "person_ids"}
_JSON = {"content-type": "application/json", "accept": "application/json"}

# Failures before the agency could have read the request: most often a pooled
# keep-alive connection the agency closed meanwhile (uvicorn closes idle ones after
# 5 s). A query is a read, so it is sent once more at once, on a fresh connection.
_RESEND = (httpx.ConnectError, httpx.ConnectTimeout, httpx.WriteError,
           httpx.RemoteProtocolError)


class HttpConnector(Connector):
    """Calls an agency's HTTP service through an injected ``httpx.AsyncClient``.

    Given that client's ``transport`` too, queries are sent straight to it: a query is
    a JSON POST answered with JSON and needs nothing of what the client does around
    its transport (cookies, authentication, redirects, event hooks), which was 30-45%
    of a call's CPU on this project's VM (1.1 -> 0.6-0.8 ms; README, Performance).
    When that transport is aiohttp's (``httpx-aiohttp``, the gateway's default), a
    query goes to its aiohttp session without building an httpx request and response
    around it: 235-270 -> 145-175 us of CPU per call (README, Performance), with the
    same timeouts and the same failures (aiohttp's mapped to httpx's, as that
    transport maps them). Given a ``pool`` (``connectors.http_pool``, the gateway's
    default), a query to an ``http://`` agency goes to it instead: the same request
    and failures, sent and read without aiohttp's objects around them. The health
    check always goes through the client."""

    kind = "http"
    chunked = True
    listable = False

    def __init__(
        self,
        spec: AgencySpec,
        *,
        report: Callable[[RowProblem], None],
        client: httpx.AsyncClient,
        transport: httpx.AsyncBaseTransport | None = None,
        pool: HttpPool | None = None,
    ) -> None:
        super().__init__(spec, report=report)
        self._client = client
        self._transport = transport
        self._extensions = {"timeout": client.timeout.as_dict()}
        self._base = spec.location.rstrip("/")
        self._aiohttp = transport if isinstance(transport, AiohttpTransport) else None
        self._pool = pool if pool is not None and pool.serves(self._base) else None
        timeout = client.timeout  # as httpx-aiohttp turns it into aiohttp's
        self._aiohttp_timeout = ClientTimeout(sock_connect=timeout.connect,
                                              sock_read=timeout.read, connect=timeout.pool)

    async def _send(self, url: str, body: Mapping[str, Any]) -> tuple[int, bytes]:
        """POST ``body`` as JSON: the status and the answer's bytes."""
        if self._pool is not None:
            return await self._pool.post_json(url, orjson.dumps(body))
        if self._aiohttp is not None:
            return await self._send_aiohttp(self._aiohttp, url, body)
        transport = self._transport
        if transport is None:
            response = await self._client.post(url, json=body)
            return response.status_code, response.content
        request = httpx.Request("POST", url, content=orjson.dumps(body), headers=_JSON,
                                extensions=self._extensions)
        response = await transport.handle_async_request(request)
        try:
            return response.status_code, await response.aread()
        finally:
            await response.aclose()

    async def _send_aiohttp(self, transport: AiohttpTransport, url: str,
                            body: Mapping[str, Any]) -> tuple[int, bytes]:
        session = transport.client
        if not isinstance(session, ClientSession):  # made on first use, as the transport does
            session = transport.client = transport.get_client()
        with map_aiohttp_exceptions():
            async with session.post(url, data=orjson.dumps(body), headers=_JSON,
                                    allow_redirects=False,
                                    timeout=self._aiohttp_timeout) as response:
                return response.status, await response.read()

    async def _post(self, table: str, body: Mapping[str, Any], *,
                    unsupported: tuple[int, ...] = ()) -> tuple[dict[str, Any], list[Any]]:
        """The answer's JSON object and its ``items``; a status in ``unsupported``
        raises ``SourceUnsupported``, any other but 200 ``SourceUnavailable``."""
        url = f"{self._base}/{table}/query"
        try:
            status, content = await self._send(url, body)
        except _RESEND:
            status, content = await self._send(url, body)
        if status in unsupported:
            raise SourceUnsupported(self.code, f"answered HTTP {status}")
        if status != 200:
            raise SourceUnavailable(self.code, f"answered HTTP {status}",
                                    retryable=status in (502, 503, 504))
        try:
            payload = json.loads(content)
        except ValueError:
            raise SourceUnavailable(self.code, "answered with invalid JSON") from None
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not all(isinstance(row, dict) for row in items):
            raise SourceUnavailable(self.code, "answer has no 'items' list of objects")
        assert isinstance(payload, dict)
        return payload, items

    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        body_key = _BODY_KEY.get(key_column, key_column + "s")
        payload, items = await self._post(table, {body_key: list(keys)})
        key_errors: dict[str, str] = {}
        for error in payload.get("errors") or ():
            if isinstance(error, dict) and isinstance(error.get("key"), str):
                key_errors[error["key"]] = str(error.get("message") or "failed")[:200]
        return RawBatch(items, key_errors)

    async def _changed(
        self, table: str, columns: Sequence[str] | None, change_column: str, since: Watermark,
    ) -> tuple[Sequence[Mapping[str, Any]], Watermark, bool]:
        """``{"since": ...}``: the rows written since, up to the answer's ``until``."""
        asked = _EPOCH if since is None else str(since)
        payload, items = await self._post(table, {"since": asked},
                                          unsupported=(400, 404, 405, 422))
        until = payload.get("until")
        if not isinstance(until, str):
            raise SourceUnsupported(self.code, "does not answer 'since' queries (no 'until')")
        try:
            dt.datetime.fromisoformat(until)
        except ValueError:
            raise SourceUnavailable(self.code, "answered an 'until' that is no ISO "
                                    "timestamp") from None
        return items, until, since is None

    async def _scan(self, table: str) -> Sequence[Mapping[str, Any]]:
        raise SourceUnsupported(self.code, "http sources cannot be listed")

    async def _ping(self) -> None:
        response = await self._client.get(f"{self._base}/health")
        response.raise_for_status()
