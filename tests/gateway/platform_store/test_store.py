"""The platform store on SQLite and PostgreSQL: versioned migrations, applied once even
by two processes at once; the health check."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from platform_db import BACKENDS, platform_database, run_together, worker
from sqlalchemy.engine import Connection, make_url

from conftest import POSTGRES_URL
from gateway.platform_store.entry import AccessEntry
from gateway.platform_store.migrations import MIGRATIONS, Migration, MigrationError
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.store import open_store
from gateway.platform_store.tables import metadata, platform_migrations


@pytest.fixture(params=BACKENDS)
async def settings(request: pytest.FixtureRequest,
                   tmp_path: Path) -> AsyncIterator[PlatformSettings]:
    async with platform_database(request.param, tmp_path) as value:
        yield value


def exists(path: str) -> bool:
    return Path(path).exists()


async def recorded(settings: PlatformSettings) -> list[tuple[int, str]]:
    store = open_store(settings)
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(sa.select(platform_migrations.c.version,
                                                platform_migrations.c.name)
                                      .order_by(platform_migrations.c.version))
            return [(int(v), str(n)) for v, n in rows]
    finally:
        await store.aclose()


async def test_migrations_apply_once_and_are_recorded(settings: PlatformSettings) -> None:
    store = open_store(settings)
    try:
        assert await store.version() == 0
        assert await store.migrate() == [m.version for m in MIGRATIONS]
        assert await store.migrate() == []  # a second start: nothing to do
        assert await store.version() == len(MIGRATIONS)
    finally:
        await store.aclose()
    assert await recorded(settings) == [(m.version, m.name) for m in MIGRATIONS]


async def test_a_new_migration_is_applied_on_the_next_start(settings: PlatformSettings) -> None:
    def later_table(conn: Connection) -> None:
        meta = sa.MetaData()
        sa.Table("later_table", meta, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("credit_code", sa.Text, nullable=False))
        meta.create_all(conn, checkfirst=False)

    later = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "later table", later_table))
    store = open_store(settings)
    try:
        await store.migrate()
        assert await store.migrate(later) == [len(later)]
        assert await store.migrate(later) == []
        async with store.engine.connect() as conn:
            names = await conn.run_sync(
                lambda c: sa.inspect(c).get_table_names(schema=settings.schema))
        assert {"later_table", "access_log", "access_log_anchors"} <= set(names)
        # a gateway that does not know migration 2 refuses the database, and says why
        with pytest.raises(MigrationError, match="run the newer gateway"):
            await store.migrate()
        assert "run the newer gateway" in (await store.check() or "")
    finally:
        await store.aclose()


async def test_a_failing_migration_leaves_the_database_as_it_was(
    settings: PlatformSettings,
) -> None:
    def broken(conn: Connection) -> None:
        meta = sa.MetaData()
        sa.Table("half_done", meta, sa.Column("id", sa.Integer, primary_key=True))
        meta.create_all(conn)
        conn.execute(sa.text("SELECT * FROM no_such_table"))

    store = open_store(settings)
    try:
        await store.migrate()
        with pytest.raises(sa.exc.DBAPIError):
            await store.migrate((*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "x", broken)))
        assert await store.version() == len(MIGRATIONS)
        async with store.engine.connect() as conn:
            names = await conn.run_sync(
                lambda c: sa.inspect(c).get_table_names(schema=settings.schema))
        assert "half_done" not in names
    finally:
        await store.aclose()


async def test_two_processes_migrating_at_once_apply_each_migration_once(
    settings: PlatformSettings,
) -> None:
    results = run_together([worker("migrate", settings.database, settings.schema or "-")
                            for _ in range(2)])
    assert sorted(results) == [str([m.version for m in MIGRATIONS]), "[]"]
    assert await recorded(settings) == [(m.version, m.name) for m in MIGRATIONS]


async def test_tables_describe_what_the_migrations_create(settings: PlatformSettings) -> None:
    store = open_store(settings)
    try:
        await store.migrate()
        async with store.engine.connect() as conn:
            columns = await conn.run_sync(lambda c: {
                table: [col["name"] for col in sa.inspect(c).get_columns(
                    table, schema=settings.schema)]
                for table in metadata.tables})
    finally:
        await store.aclose()
    assert columns == {name: [c.name for c in table.columns]
                       for name, table in metadata.tables.items()}
    # every field of an entry has its column; the rest is the chain
    entry_fields = [f.name for f in dataclasses.fields(AccessEntry)]
    assert [c for c in columns["access_log"] if c not in entry_fields] == [
        "id", "content_hash", "prev_hash", "entry_hash"]
    assert set(entry_fields) <= set(columns["access_log"])


async def test_check_passes_on_a_usable_database_and_leaves_nothing(
    settings: PlatformSettings,
) -> None:
    store = open_store(settings)
    try:
        assert await store.check() is None  # a new database: nothing created yet
        if settings.backend == "sqlite":
            assert not exists(make_url(settings.database).database or "")
        await store.migrate()
        assert await store.check() is None
        async with store.engine.connect() as conn:
            names = await conn.run_sync(
                lambda c: sa.inspect(c).get_table_names(schema=settings.schema))
        assert "platform_write_check" not in names
    finally:
        await store.aclose()
    assert await recorded(settings) == [(m.version, m.name) for m in MIGRATIONS]


async def test_check_reports_an_unreachable_or_unwritable_database(tmp_path: Path) -> None:
    folder = tmp_path / "platform.db"
    folder.mkdir()  # a folder where the file should be: cannot be opened
    missing = tmp_path / "no-such-folder" / "platform.db"
    closed = make_url(POSTGRES_URL).set(port=1).render_as_string(hide_password=False)
    for settings in (PlatformSettings(f"sqlite+aiosqlite:///{folder}"),
                     PlatformSettings(f"sqlite+aiosqlite:///{missing}"),
                     PlatformSettings(closed, "platform")):
        store = open_store(settings)
        try:
            problem = await store.check(timeout_s=5)
        finally:
            await store.aclose()
        assert problem is not None, settings
        assert problem.startswith("platform database "), problem
