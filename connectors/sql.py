"""``sql`` sources: one table per record type, read through SQLAlchemy's async engine."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from connectors.base import Connector, RawBatch
from connectors.records import RowProblem
from connectors.spec import AgencySpec

__all__ = ["SqlConnector"]

# Stay well under every database's bind-parameter limit (SQLite: 32,766).
_IN_CHUNK = 5_000
# Connections kept open per engine: SQLAlchemy's default bound (5 kept + 10 more), all
# kept. One enterprise query asks a registry agency for seven or eight record types at
# once; with 5 kept, every request opened and closed two or three connections (for
# aiosqlite a thread and a file each: 1-2 ms of CPU per request, see the README's
# performance section).
_POOL_SIZE = 15


def open_engine(location: str) -> AsyncEngine:
    """An async engine for ``location`` whose pool keeps the connections it opens."""
    engine = create_async_engine(location)
    if isinstance(engine.pool, QueuePool):  # file databases and servers (not :memory:)
        engine = create_async_engine(location, pool_size=_POOL_SIZE, max_overflow=0)
    return engine


def _dicts(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    """The rows as plain dictionaries: read once per column by the normalisation,
    which costs a third of what reading SQLAlchemy's row mappings does."""
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.all()]


class SqlConnector(Connector):
    """Reads tables named as the record types (or as the configuration renames them)."""

    kind = "sql"

    def __init__(
        self,
        spec: AgencySpec,
        *,
        report: Callable[[RowProblem], None],
        engine: AsyncEngine | None = None,
    ) -> None:
        super().__init__(spec, report=report)
        self._engine = engine if engine is not None else open_engine(spec.location)

    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        rows: list[Mapping[str, Any]] = []
        source = sa.table(table)
        key: sa.ColumnClause[Any] = sa.column(key_column)
        async with self._engine.connect() as conn:
            if self._engine.dialect.name == "sqlite":
                # One JSON parameter instead of thousands of bound ones: the statement
                # stays small and compiles once, whatever the number of keys.
                members: sa.Select[Any] = sa.select(sa.column("value")).select_from(
                    sa.func.json_each(sa.bindparam("keys"))
                )
                statement = sa.select(sa.text("*")).select_from(source).where(key.in_(members))
                result = await conn.execute(statement, {"keys": json.dumps(list(keys))})
                return RawBatch(_dicts(result))
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = list(keys[start : start + _IN_CHUNK])
                statement = sa.select(sa.text("*")).select_from(source).where(key.in_(chunk))
                rows.extend(_dicts(await conn.execute(statement)))
        return RawBatch(rows)

    async def _scan(self, table: str) -> Sequence[Mapping[str, Any]]:
        async with self._engine.connect() as conn:
            return _dicts(await conn.execute(sa.select(sa.text("*")).select_from(sa.table(table))))

    async def _scan_columns(self, table: str,
                            columns: Sequence[str]) -> Sequence[Mapping[str, Any]]:
        source = sa.table(table)
        async with self._engine.connect() as conn:
            # a table may lack a column of the standard (its values are then null)
            present = set((await conn.execute(
                sa.select(sa.text("*")).select_from(source).limit(0))).keys())
            chosen: list[sa.ColumnClause[Any]] = [sa.column(name) for name in columns
                                                  if name in present]
            return _dicts(await conn.execute(sa.select(*chosen).select_from(source)))

    async def _ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def aclose(self) -> None:
        await self._engine.dispose()
