"""The platform store: one ``AsyncEngine`` on the platform database, its locks,
migrations and a health check.

Open it in the app's lifespan and close it there::

    store = open_store(config.platform)
    await store.migrate()          # idempotent; safe with several processes at once
    ...
    await store.aclose()

Locks serialize what must not interleave between processes sharing a database:
``transaction("chain")`` (appending to the access log) and ``transaction("migrations")``
are, on PostgreSQL, ``pg_advisory_xact_lock`` on a key derived from the schema and
the lock's name (released by the commit or rollback), and on SQLite ``BEGIN
IMMEDIATE``, the database's single write lock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.platform_store.migrations import (
    MIGRATIONS,
    Migration,
    MigrationError,
    applied_versions,
    apply_pending,
)
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.tables import platform_migrations

__all__ = ["LOCKS", "PlatformStore", "describe_error", "open_store"]

LOCKS = ("chain", "migrations", "policies", "overlay")
_SQLITE_BUSY_S = 5.0  # how long SQLite waits for another process's write lock

T = TypeVar("T")


def describe_error(exc: BaseException) -> str:
    """The driver's own message (first line), without SQLAlchemy's SQL and links."""
    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig
    text = str(cause).strip().splitlines()
    return (text[0] if text else type(cause).__name__)[:300]


class PlatformStore:
    """The platform database: ``engine`` (tables mapped into the configured schema),
    cross-process locks, migrations and ``check``."""

    def __init__(self, settings: PlatformSettings, engine: AsyncEngine,
                 sync_engine: sa.Engine | None = None) -> None:
        self.settings = settings
        self.backend = settings.backend
        self._base_engine = engine
        self.engine = (engine.execution_options(schema_translate_map={None: settings.schema})
                       if settings.schema else engine)
        # SQLite only: the same file through the standard driver, for ``run_locked``
        self._sync_engine = sync_engine
        schema = settings.schema or ""
        self._lock_keys = {name: _lock_key(f"{schema}.{name}") for name in LOCKS}

    @asynccontextmanager
    async def transaction(self, lock: str | None = None) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed when the block ends (rolled back
        on an exception); with ``lock`` ("chain", "migrations", "policies" or
        "overlay"), holding that lock across processes until then."""
        async with self.engine.connect() as conn:
            if lock is not None and self.backend == "sqlite":
                conn = await conn.execution_options(platform_write_lock=True)
            async with conn.begin():
                if lock is not None and self.backend == "postgresql":
                    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                        sa.literal(self._lock_keys[lock], sa.BigInteger))))
                yield conn

    async def run_locked(self, lock: str, work: Callable[..., T], *args: Any) -> T:
        """``work(connection, *args)`` (synchronous SQLAlchemy) in one transaction
        holding ``lock``, as ``transaction(lock)``, committed when it returns.

        On SQLite the whole transaction runs in a worker thread on the standard driver:
        one hop off the event loop. Through aiosqlite each statement is a hop, and each
        hop waits for a turn of the loop - on a saturated gateway a turn carries every
        request's work (about 0.1 s at 64 connections), so the access log's ~40 hops a
        batch took seconds and departments were refused AUDIT_UNAVAILABLE while the
        gateway was merely busy. On PostgreSQL, the async connection (``run_sync``)."""
        if self._sync_engine is not None:
            return await asyncio.to_thread(self._run_locked_here, self._sync_engine, work,
                                           args)
        async with self.transaction(lock) as conn:
            return await conn.run_sync(work, *args)

    @staticmethod
    def _run_locked_here(engine: sa.Engine, work: Callable[..., T], args: tuple[Any, ...]
                         ) -> T:
        with engine.connect() as conn:
            locked = conn.execution_options(platform_write_lock=True)  # BEGIN IMMEDIATE
            with locked.begin():
                return work(locked, *args)

    async def migrate(self, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
        """Create the schema if needed and apply pending migrations, once across
        processes; returns the versions applied now (empty when up to date)."""
        async with self.transaction("migrations") as conn:
            if self.settings.schema:
                await conn.execute(sa.schema.CreateSchema(self.settings.schema,
                                                          if_not_exists=True))
            return await conn.run_sync(apply_pending, migrations)

    async def version(self) -> int:
        """The last migration applied (0 for a new database)."""
        async with self.engine.connect() as conn:
            return max(await conn.run_sync(applied_versions), default=0)

    async def check(self, timeout_s: float = 10.0) -> str | None:
        """A problem description when the database is unreachable, cannot be written,
        or was migrated by a newer gateway; None when it can be used."""
        try:
            return await asyncio.wait_for(self._check(), timeout_s)
        except TimeoutError:
            return (f"platform database {self.settings.shown()}: no answer within "
                    f"{timeout_s:g} s")
        except Exception as exc:  # every driver has its own errors; all mean "unusable"
            return f"platform database {self.settings.shown()}: {describe_error(exc)}"

    async def _check(self) -> str | None:
        if self.backend == "sqlite":
            new_file = _new_sqlite_file(self.settings)
            if new_file is not None:  # created on first start; leave no file behind now
                return new_file or None
        async with self.engine.connect() as conn:
            transaction = await conn.begin()
            try:  # a write that is never kept: proves the database takes writes
                versions = await conn.run_sync(applied_versions)
                if versions:  # a row in the store's own table (no DDL on every probe)
                    await conn.execute(platform_migrations.insert().values(
                        version=0, name="write check", applied_at=dt.datetime.now(dt.UTC)))
                else:  # not migrated yet: what the migration will need
                    if self.settings.schema:
                        await conn.execute(sa.schema.CreateSchema(self.settings.schema,
                                                                  if_not_exists=True))
                    probe = sa.Table("platform_write_check", sa.MetaData(),
                                     sa.Column("touched", sa.Integer))
                    await conn.run_sync(probe.create)
                    await conn.execute(probe.insert().values(touched=1))
            finally:
                await transaction.rollback()
        newest = len(MIGRATIONS)
        if versions and max(versions) > newest:
            return (f"platform database {self.settings.shown()}: "
                    f"{MigrationError.__name__}: at migration {max(versions)}, this gateway "
                    f"knows up to {newest}; run the newer gateway")
        return None

    async def aclose(self) -> None:
        await self._base_engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()


def open_store(settings: PlatformSettings, **engine_options: Any) -> PlatformStore:
    """A store on ``settings.database`` (no connection is made until it is used)."""
    url = make_url(settings.database)
    backend = url.get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": backend != "sqlite"}
    if url.get_driver_name() == "asyncpg":
        options["connect_args"] = {"timeout": 5}
    elif url.get_driver_name() == "psycopg":
        options["connect_args"] = {"connect_timeout": 5}
    elif backend == "sqlite":
        options["connect_args"] = {"timeout": _SQLITE_BUSY_S}
    options.update(engine_options)
    engine = create_async_engine(url, **options)
    sync_engine = None
    if backend == "sqlite":
        _sqlite_transactions(engine.sync_engine)
        # the standard driver, for run_locked; its connections are used by whichever
        # worker thread takes them (one at a time)
        sync_engine = sa.create_engine(
            url.set(drivername="sqlite"),
            connect_args={**options["connect_args"], "check_same_thread": False})
        _sqlite_transactions(sync_engine)
    return PlatformStore(settings, engine, sync_engine)


def _new_sqlite_file(settings: PlatformSettings) -> str | None:
    """For an SQLite file not created yet: "" when its folder can be written, else
    the problem; None when the file exists."""
    path = Path(make_url(settings.database).database or "")
    if path.exists():
        return None
    if path.parent.is_dir() and os.access(path.parent, os.W_OK | os.X_OK):
        return ""
    return (f"platform database {settings.shown()}: the folder {path.parent} does not "
            f"exist or cannot be written")


def _sqlite_transactions(engine: sa.Engine) -> None:
    """Let the store issue its own BEGIN: IMMEDIATE (the write lock, taken before
    reading the chain's head) when a lock was asked for. WAL lets readers (verify,
    export, auditors) run while a writer appends."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver
        cursor = dbapi_connection.cursor()
        try:
            _use_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        locked = conn.get_execution_options().get("platform_write_lock", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if locked else "BEGIN")


def _use_wal(cursor: Any) -> None:
    """Put the file in WAL mode (kept in the file: later connections find it set).
    Changing the mode needs the file to itself, and SQLite answers "database is locked"
    at once, without waiting, while another process holds it - two gateways starting
    on a new file together, one of them migrating: retried for up to the busy time."""
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + _SQLITE_BUSY_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as error:  # the driver's OperationalError (aiosqlite's adapter)
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for this store's lock ``name``."""
    digest = hashlib.sha256(f"regulatory-graph platform lock {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
