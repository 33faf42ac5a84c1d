"""``sql`` sources: one table per record type, read through SQLAlchemy.

A SQLite file is read through SQLAlchemy's synchronous engine (the standard
library's driver) in a few worker threads of the connector's own: one thread hop
per query. Through the async engine (aiosqlite) one query took five or six hops -
connection checkout, execute, fetch, reset on return - and 0.89 ms of CPU; the
synchronous engine in a thread takes about a fifth of that (README, Performance).
Every other database (PostgreSQL through asyncpg, an in-memory SQLite) is read
through the async engine.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from connectors.base import Connector, RawBatch, Watermark
from connectors.records import RowProblem
from connectors.spec import AgencySpec

__all__ = ["SqlConnector", "open_engine"]

T = TypeVar("T")

# Stay well under every database's bind-parameter limit (SQLite: 32,766).
_IN_CHUNK = 5_000
# Connections kept open per engine: SQLAlchemy's default bound (5 kept + 10 more), all
# kept. One enterprise query asks a registry agency for seven or eight record types at
# once; with 5 kept, every request opened and closed two or three connections (for
# aiosqlite a thread and a file each: 1-2 ms of CPU per request, see the README's
# performance section).
_POOL_SIZE = 15
# Worker threads (and connections) of a SQLite file source: SQLite reads in parallel,
# the machine has few cores, and a query holds its thread for tens of microseconds.
_SQLITE_THREADS = 4


def open_engine(location: str) -> AsyncEngine:
    """An async engine for ``location`` whose pool keeps the connections it opens."""
    engine = create_async_engine(location)
    if isinstance(engine.pool, QueuePool):  # file databases and servers (not :memory:)
        engine = create_async_engine(location, pool_size=_POOL_SIZE, max_overflow=0)
    return engine


def sqlite_file(location: str) -> bool:
    """True for a SQLite database file (read in threads), whatever the driver named."""
    url = make_url(location)
    return (url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
            and not url.database.startswith("file::memory:"))


def _dicts(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    """The rows as plain dictionaries: read once per column by the normalisation,
    which costs a third of what reading SQLAlchemy's row mappings does."""
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.all()]


# The watermark of a table with a change-time column and no rows yet.
EMPTY_TABLE = "(empty table)"


def _changes_statement(table: str, present: set[str], columns: Sequence[str] | None,
                       change_column: str, since: Watermark) -> tuple[sa.Select[Any], bool]:
    """The statement reading a table's changes and whether it tells changes: with the
    change-time column, the rows written after ``since`` (every row when ``since`` is
    None); without it, every row (the caller compares)."""
    source = sa.table(table)
    chosen: list[Any] = ([sa.text("*")] if columns is None
                         else [sa.column(name) for name in columns if name in present])
    statement = sa.select(*chosen).select_from(source)
    if change_column not in present:
        return statement, False
    if since is not None and since != EMPTY_TABLE:
        # strictly after: rows loaded together share one change time, and reading them
        # all again at every poll would cost a whole read each time. A row written later
        # with a change time not after the watermark (the same microsecond, a long
        # transaction) is found by the feed's next whole comparison (reconcile_s).
        statement = statement.where(sa.column(change_column) > sa.bindparam("since", since))
    return statement, True


def _changes_found(rows: list[dict[str, Any]], tells: bool, change_column: str,
                   since: Watermark) -> tuple[list[dict[str, Any]], Watermark, bool]:
    if not tells:
        return rows, None, True
    marks = [row[change_column] for row in rows if row.get(change_column) is not None]
    watermark = max(marks, default=since)
    # an empty table that has the column tells its changes too: every row it will hold
    # is new (without a mark it was taken for a table that cannot tell, compared whole
    # once per cache lifetime)
    return rows, EMPTY_TABLE if watermark is None else watermark, since is None


class _SqliteFile:
    """A SQLite file through the synchronous engine, in worker threads of its own."""

    def __init__(self, location: str, name: str) -> None:
        url = make_url(location).set(drivername="sqlite")
        self.path = str(url.database)
        # a connection is used by one thread at a time, not always the same one
        self.engine: Engine = sa.create_engine(
            url, poolclass=QueuePool, pool_size=_SQLITE_THREADS, max_overflow=0,
            connect_args={"check_same_thread": False})
        self._threads = ThreadPoolExecutor(_SQLITE_THREADS, thread_name_prefix=f"sql-{name}")
        quote = self.engine.dialect.identifier_preparer.quote
        self._quote: Callable[[str], str] = quote
        self._by_keys: dict[tuple[str, str], str] = {}  # (table, key column) -> SQL

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    def query(self, table: str, key_column: str, keys: Sequence[str]) -> list[dict[str, Any]]:
        sql = self._by_keys.get((table, key_column))
        if sql is None:
            # one JSON parameter instead of thousands of bound ones: the statement is
            # the same text whatever the number of keys
            sql = self._by_keys[(table, key_column)] = (
                f"SELECT * FROM {self._quote(table)} WHERE {self._quote(key_column)} "
                "IN (SELECT value FROM json_each(?))")
        with self.engine.connect() as conn:
            return _dicts(conn.exec_driver_sql(sql, (json.dumps(list(keys)),)))

    def scan(self, table: str, columns: Sequence[str] | None) -> list[dict[str, Any]]:
        source = sa.table(table)
        with self.engine.connect() as conn:
            if columns is None:
                return _dicts(conn.execute(sa.select(sa.text("*")).select_from(source)))
            present = set(conn.execute(sa.select(sa.text("*")).select_from(source).limit(0))
                          .keys())
            chosen: list[sa.ColumnClause[Any]] = [sa.column(name) for name in columns
                                                  if name in present]
            return _dicts(conn.execute(sa.select(*chosen).select_from(source)))

    def stamp(self) -> tuple[int, int]:
        """The latest modification time and the size of the file and its write-ahead
        log: every committed write changes them."""
        latest = size = 0
        for path in (self.path, self.path + "-wal"):
            try:
                status = os.stat(path)
            except FileNotFoundError:
                continue
            latest, size = max(latest, status.st_mtime_ns), size + status.st_size
        return latest, size

    def changed(self, table: str, columns: Sequence[str] | None, change_column: str,
                since: Watermark) -> tuple[list[dict[str, Any]], Watermark, bool]:
        """By the change-time column where the table has it; otherwise by the file's
        stamp (nothing while the file is unchanged, every row once it changed)."""
        stamp = self.stamp()  # before reading: a write meanwhile is read again next time
        if isinstance(since, tuple) and since == stamp:
            return [], since, False
        source = sa.table(table)
        with self.engine.connect() as conn:
            present = set(conn.execute(sa.select(sa.text("*")).select_from(source).limit(0))
                          .keys())
            after = None if isinstance(since, tuple) else since  # a stamp: read whole
            statement, tells = _changes_statement(table, present, columns, change_column, after)
            rows = _dicts(conn.execute(statement))
        if not tells:
            return rows, stamp, True
        return _changes_found(rows, tells, change_column, after)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self.engine.dispose()


class SqlConnector(Connector):
    """Reads tables named as the record types (or as the configuration renames them).

    ``engine``: an async engine to read through instead of the one the location gives
    (tests)."""

    kind = "sql"

    def __init__(
        self,
        spec: AgencySpec,
        *,
        report: Callable[[RowProblem], None],
        engine: AsyncEngine | None = None,
    ) -> None:
        super().__init__(spec, report=report)
        self._file: _SqliteFile | None = None
        self._engine: AsyncEngine | None = engine
        if engine is None:
            if sqlite_file(spec.location):
                self._file = _SqliteFile(spec.location, spec.code)
            else:
                self._engine = open_engine(spec.location)

    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        file = self._file
        if file is not None:
            return RawBatch(await file.run(lambda: file.query(table, key_column, keys)))
        assert self._engine is not None
        rows: list[Mapping[str, Any]] = []
        source = sa.table(table)
        key: sa.ColumnClause[Any] = sa.column(key_column)
        async with self._engine.connect() as conn:
            if self._engine.dialect.name == "sqlite":
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
        file = self._file
        if file is not None:
            return await file.run(lambda: file.scan(table, None))
        assert self._engine is not None
        async with self._engine.connect() as conn:
            return _dicts(await conn.execute(sa.select(sa.text("*")).select_from(sa.table(table))))

    async def _scan_columns(self, table: str,
                            columns: Sequence[str]) -> Sequence[Mapping[str, Any]]:
        file = self._file
        if file is not None:
            return await file.run(lambda: file.scan(table, columns))
        assert self._engine is not None
        source = sa.table(table)
        async with self._engine.connect() as conn:
            # a table may lack a column of the standard (its values are then null)
            present = set((await conn.execute(
                sa.select(sa.text("*")).select_from(source).limit(0))).keys())
            chosen: list[sa.ColumnClause[Any]] = [sa.column(name) for name in columns
                                                  if name in present]
            return _dicts(await conn.execute(sa.select(*chosen).select_from(source)))

    async def _changed(
        self, table: str, columns: Sequence[str] | None, change_column: str, since: Watermark,
    ) -> tuple[Sequence[Mapping[str, Any]], Watermark, bool]:
        """By the ``updated_at`` column (or its rename) where the table has it; else,
        for a SQLite file, by the file's stamp; every row otherwise."""
        file = self._file
        if file is not None:
            return await file.run(lambda: file.changed(table, columns, change_column, since))
        assert self._engine is not None
        source = sa.table(table)
        async with self._engine.connect() as conn:
            present = set((await conn.execute(
                sa.select(sa.text("*")).select_from(source).limit(0))).keys())
            statement, tells = _changes_statement(table, present, columns, change_column, since)
            rows = _dicts(await conn.execute(statement))
        return _changes_found(rows, tells, change_column, since)

    async def _ping(self) -> None:
        file = self._file
        if file is not None:
            await file.run(file.ping)
            return
        assert self._engine is not None
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def aclose(self) -> None:
        if self._file is not None:
            await asyncio.to_thread(self._file.close)
        if self._engine is not None:
            await self._engine.dispose()
