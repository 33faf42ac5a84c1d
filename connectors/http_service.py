"""``http`` sources: the standard's ``POST {base_url}/{type}/query`` protocol.

Request ``{"credit_codes": [...]}`` (or ``{"person_ids": [...]}``), answer
``{"items": [row, ...]}``; an optional ``"errors": [{"key": K, "message": M}]``
reports keys the agency could not answer. ``GET {base_url}/health`` answers 200
when the source is up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from connectors.base import Connector, RawBatch
from connectors.errors import SourceUnavailable, SourceUnsupported
from connectors.records import RowProblem
from connectors.spec import AgencySpec

__all__ = ["HttpConnector"]

_BODY_KEY = {"credit_code": "credit_codes", "person_id": "person_ids"}

# Failures before the agency could have read the request: most often a pooled
# keep-alive connection the agency closed meanwhile (uvicorn closes idle ones after
# 5 s). A query is a read, so it is sent once more at once, on a fresh connection.
_RESEND = (httpx.ConnectError, httpx.ConnectTimeout, httpx.WriteError,
           httpx.RemoteProtocolError)


class HttpConnector(Connector):
    """Calls an agency's HTTP service through an injected ``httpx.AsyncClient``."""

    kind = "http"
    chunked = True
    listable = False

    def __init__(
        self,
        spec: AgencySpec,
        *,
        report: Callable[[RowProblem], None],
        client: httpx.AsyncClient,
    ) -> None:
        super().__init__(spec, report=report)
        self._client = client
        self._base = spec.location.rstrip("/")

    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        body_key = _BODY_KEY.get(key_column, key_column + "s")
        url, body = f"{self._base}/{table}/query", {body_key: list(keys)}
        try:
            response = await self._client.post(url, json=body)
        except _RESEND:
            response = await self._client.post(url, json=body)
        if response.status_code != 200:
            raise SourceUnavailable(self.code, f"answered HTTP {response.status_code}",
                                    retryable=response.status_code in (502, 503, 504))
        try:
            payload = response.json()
        except ValueError:
            raise SourceUnavailable(self.code, "answered with invalid JSON") from None
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not all(isinstance(row, dict) for row in items):
            raise SourceUnavailable(self.code, "answer has no 'items' list of objects")
        key_errors: dict[str, str] = {}
        for error in payload.get("errors") or ():
            if isinstance(error, dict) and isinstance(error.get("key"), str):
                key_errors[error["key"]] = str(error.get("message") or "failed")[:200]
        return RawBatch(items, key_errors)

    async def _scan(self, table: str) -> Sequence[Mapping[str, Any]]:
        raise SourceUnsupported(self.code, "http sources cannot be listed")

    async def _ping(self) -> None:
        response = await self._client.get(f"{self._base}/health")
        response.raise_for_status()
