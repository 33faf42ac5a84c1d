"""Per-request DataLoaders: every load of one agency, record type and key column
within one tick of the event loop becomes one connector call."""

from __future__ import annotations

from asyncio import Future
from collections.abc import Sequence

from aiodataloader import DataLoader

from connectors.base import Connector, KeyResult
from connectors.errors import SourceError
from connectors.records import Record

__all__ = ["Loaders"]


class _SourceLoader(DataLoader[str, list[Record]]):
    def __init__(self, connector: Connector, record_type: str, key_column: str) -> None:
        super().__init__()
        self._connector = connector
        self._record_type = record_type
        self._key_column = key_column

    async def batch_load_fn(self, keys: Sequence[str]) -> list[KeyResult]:  # type: ignore[override]
        try:
            return await self._connector.fetch(self._record_type, self._key_column, keys)
        except SourceError as error:
            return [error] * len(keys)


class Loaders:
    """The loaders of one request, made on first use. Never share across requests."""

    def __init__(self) -> None:
        self._loaders: dict[tuple[str, str, str], _SourceLoader] = {}

    def load(
        self, connector: Connector, record_type: str, key_column: str, key: str
    ) -> Future[list[Record]]:
        """Records of ``record_type`` from ``connector`` whose ``key_column`` is ``key``.

        A future (not a coroutine: no task per load). Awaiting it raises the agency's
        ``SourceError`` when the agency could not be read.
        """
        return self._loader(connector, record_type, key_column).load(key)

    async def fetch(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> list[KeyResult]:
        """One direct call for many keys (a page prefetch), priming the loader so later
        loads of the same keys in this request are answered from it."""
        try:
            results = await connector.fetch(record_type, key_column, keys)
        except SourceError as error:
            return [error] * len(keys)
        loader = self._loader(connector, record_type, key_column)
        for key, result in zip(keys, results, strict=True):
            if not isinstance(result, SourceError):
                loader.prime(key, result)
        return results

    def load_many(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> Future[list[list[Record]]]:
        return self._loader(connector, record_type, key_column).load_many(keys)

    def _loader(self, connector: Connector, record_type: str, key_column: str) -> _SourceLoader:
        key = (connector.code, record_type, key_column)
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = _SourceLoader(connector, record_type, key_column)
        return loader
