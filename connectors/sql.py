"""``sql`` sources: one table per record type, read through SQLAlchemy.

A SQLite file is read through SQLAlchemy's synchronous engine (the standard
library's driver). A lookup of a few keys runs on the event loop itself, on a
connection of the engine's pool kept for it, and never waits for a lock: when a
writer is committing it is read in a worker thread instead, which waits. Large
lookups, scans and change reads run in a few worker threads of the connector's own.
Measured on this project's VM (README, Performance): through the async engine
(aiosqlite) one query took five or six thread hops - connection checkout, execute,
fetch, reset on return - and 0.89 ms of CPU; the synchronous engine in a thread
about 0.58 ms, of which the hop alone is 0.17 ms and SQLAlchemy's connection
checkout 0.13 ms; the same indexed lookup on the loop's own connection 0.03 ms.
Every other database (PostgreSQL through asyncpg, an in-memory SQLite) is read
through the async engine.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
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
# At most this many keys are looked up on the event loop itself (an indexed lookup:
# tens of microseconds); more, in a worker thread (a page of 1,000 enterprises).
_INLINE_KEYS = 64


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
    return _as_dicts(list(result.keys()), result.all())


def _as_dicts(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(names, row, strict=True)) for row in rows]


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
        # the threads' connections and the event loop's own (kept checked out)
        self.engine: Engine = sa.create_engine(
            url, poolclass=QueuePool, pool_size=_SQLITE_THREADS + 1, max_overflow=0,
            connect_args={"check_same_thread": False})
        self._threads = ThreadPoolExecutor(_SQLITE_THREADS, thread_name_prefix=f"sql-{name}")
        quote = self.engine.dialect.identifier_preparer.quote
        self._quote: Callable[[str], str] = quote
        # (table, key column, one key) -> SQL
        self._by_keys: dict[tuple[str, str, bool], str] = {}
        self._here: Any = None  # the event loop's connection, opened at its first lookup

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    async def lookup(self, table: str, key_column: str,
                     keys: Sequence[str]) -> list[dict[str, Any]]:
        """``query``: on the event loop for a few keys unless a writer holds the
        database's lock, else in a worker thread (which waits for the lock)."""
        if len(keys) <= _INLINE_KEYS:
            rows = self.query_here(table, key_column, keys)
            if rows is not None:
                return rows
        return await self.run(lambda: self.query(table, key_column, keys))

    def _statement(self, table: str, key_column: str, one: bool = False) -> str:
        """The query of ``table`` by ``key_column``: for one key ``= ?`` (the index at
        once: 3.8 against 5.5 us a query), else one JSON parameter instead of thousands
        of bound ones, the same text whatever the number of keys."""
        sql = self._by_keys.get((table, key_column, one))
        if sql is None:
            keys = "= ?" if one else "IN (SELECT value FROM json_each(?))"
            sql = self._by_keys[(table, key_column, one)] = (
                f"SELECT * FROM {self._quote(table)} WHERE {self._quote(key_column)} {keys}")
        return sql

    def query(self, table: str, key_column: str, keys: Sequence[str]) -> list[dict[str, Any]]:
        sql = self._statement(table, key_column)
        with self.engine.connect() as conn:
            return _dicts(conn.exec_driver_sql(sql, (json.dumps(list(keys)),)))

    def query_here(self, table: str, key_column: str,
                   keys: Sequence[str]) -> list[dict[str, Any]] | None:
        """``query`` on the calling thread without waiting for a lock: None while the
        database is locked (a writer is committing)."""
        if self._here is None:
            self._here = self.engine.raw_connection()
            # SQLite's busy handler would sleep on the event loop: fail at once instead
            self._here.cursor().execute("PRAGMA busy_timeout = 0")
        cursor = self._here.cursor()
        try:
            if len(keys) == 1:
                cursor.execute(self._statement(table, key_column, one=True), (keys[0],))
            else:
                cursor.execute(self._statement(table, key_column), (json.dumps(list(keys)),))
            found = cursor.fetchall()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorname in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                return None
            raise
        finally:
            cursor.close()
        return _as_dicts([column[0] for column in cursor.description or ()], found)

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
        if self._here is not None:
            self._here.close()  # back to the pool, closed with it
            self._here = None
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

    def _query_now(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch | None:
        """A SQLite file's few keys on the event loop, unless a writer holds it."""
        file = self._file
        if file is None or len(keys) > _INLINE_KEYS:
            return None
        rows = file.query_here(table, key_column, keys)
        return None if rows is None else RawBatch(rows)

    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        file = self._file
        if file is not None:
            return RawBatch(await file.lookup(table, key_column, keys))
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
