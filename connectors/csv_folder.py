"""``csv`` sources: a folder holding ``<type>.csv`` files (UTF-8, optional BOM, header row).

Each file is parsed once and indexed by key column; it is parsed again when its
modification time or size changes, so an agency can drop a new file in place. The
same stamp tells changes (``changed_since``): an unchanged file has none, a changed
one is read whole and compared by the caller, record by record.
"""

from __future__ import annotations

import asyncio
import csv
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import Connector, RawBatch, Watermark
from connectors.records import RowProblem
from connectors.spec import AgencySpec

__all__ = ["CsvConnector"]


@dataclass(slots=True)
class _ParsedFile:
    stamp: tuple[int, int]
    rows: list[dict[str, str]]
    indexes: dict[str, dict[str, list[dict[str, str]]]] = field(default_factory=dict)

    def index(self, column: str) -> dict[str, list[dict[str, str]]]:
        found = self.indexes.get(column)
        if found is None:
            found = defaultdict(list)
            for row in self.rows:
                key = (row.get(column) or "").strip()
                if key:
                    found[key].append(row)
            self.indexes[column] = found = dict(found)
        return found


def _stamp(path: Path) -> tuple[int, int]:
    """The file's modification time and size: a replaced or rewritten file changes it."""
    status = os.stat(path)
    return status.st_mtime_ns, status.st_size


def _read(path: Path, stamp: tuple[int, int]) -> _ParsedFile:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return _ParsedFile(stamp, list(csv.DictReader(handle)))


class CsvConnector(Connector):
    """Reads ``<location>/<table>.csv``."""

    kind = "csv"

    def __init__(self, spec: AgencySpec, *, report: Callable[[RowProblem], None]) -> None:
        super().__init__(spec, report=report)
        self._files: dict[Path, _ParsedFile] = {}
        self._lock = asyncio.Lock()
        self._paths: dict[str, Path] = {}  # table -> its file (a Path costs 5 us to make)

    def _path(self, table: str) -> Path:
        path = self._paths.get(table)
        if path is None:
            path = self._paths[table] = Path(self.spec.location) / f"{table}.csv"
        return path

    async def _load(self, table: str) -> _ParsedFile:
        path = self._path(table)
        stamp = _stamp(path)
        cached = self._files.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached
        async with self._lock:
            cached = self._files.get(path)
            if cached is None or cached.stamp != stamp:
                cached = await asyncio.to_thread(_read, path, stamp)
                self._files[path] = cached
        return cached

    def _query_now(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch | None:
        """The rows from the file as read before, while it is unchanged on disk."""
        path = self._path(table)
        cached = self._files.get(path)
        if cached is None:
            return None
        if cached.stamp != _stamp(path):
            return None
        index = cached.index(key_column)
        return RawBatch([row for key in keys for row in index.get(key, ())])

    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        index = (await self._load(table)).index(key_column)
        rows = [row for key in keys for row in index.get(key, ())]
        return RawBatch(rows)

    async def _scan(self, table: str) -> Sequence[Mapping[str, str]]:
        return (await self._load(table)).rows

    async def _changed(
        self, table: str, columns: Sequence[str] | None, change_column: str, since: Watermark,
    ) -> tuple[Sequence[Mapping[str, Any]], Watermark, bool]:
        """Nothing while the file's stamp (modification time, size) is the one of
        ``since``; every row, whole, once it changed."""
        path = self._path(table)
        stamp = _stamp(path)
        if since == stamp:
            return [], since, False
        parsed = await self._load(table)
        return parsed.rows, parsed.stamp, True

    async def _ping(self) -> None:
        if not os.path.isdir(self.spec.location):  # noqa: ASYNC240 - one stat call
            raise FileNotFoundError("source folder is missing")
