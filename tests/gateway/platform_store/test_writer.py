"""The access-log writer on SQLite and PostgreSQL: one valid chain from batches and from
two processes at once, anchors, nothing lost on close, fail-closed and recovery."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from platform_db import (
    BACKENDS,
    START,
    TcpProxy,
    entry,
    migrated,
    platform_database,
    run_together,
    worker,
)
from sqlalchemy.engine import make_url

from conftest import POSTGRES_URL
from gateway.platform_store.audit import verify
from gateway.platform_store.chain import GENESIS, entry_of_row, link_hash
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.store import PlatformStore, open_store
from gateway.platform_store.tables import access_log, access_log_anchors
from gateway.platform_store.writer import AccessLogWriter


@pytest.fixture(params=BACKENDS)
async def settings(request: pytest.FixtureRequest,
                   tmp_path: Path) -> AsyncIterator[PlatformSettings]:
    async with platform_database(request.param, tmp_path) as value:
        yield value


async def rows(store: PlatformStore) -> list[sa.RowMapping]:
    async with store.engine.connect() as conn:
        result = await conn.execute(sa.select(access_log).order_by(access_log.c.id))
        return list(result.mappings())


async def anchor_heads(store: PlatformStore) -> list[int]:
    async with store.engine.connect() as conn:
        result = await conn.execute(sa.select(access_log_anchors.c.head_id)
                                    .order_by(access_log_anchors.c.id))
        return [int(v) for v in result.scalars()]


async def eventually(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_entries_form_a_chain_with_the_stored_content(settings: PlatformSettings) -> None:
    entries = [entry(n) for n in range(1, 121)]
    entries[5] = entry(6, principal="zero\x00byte", latency_ms=3)  # stored as read back
    async with migrated(settings) as store:
        writer = AccessLogWriter(store, batch_max=50)
        await writer.start()
        for item in entries:
            writer.record(item)
        await writer.flush()
        assert writer.healthy() and writer.written == 120
        await writer.aclose()
        stored = await rows(store)
        verdict = await verify(store)
    assert [r["id"] for r in stored] == list(range(1, 121))
    prev = GENESIS
    for row, item in zip(stored, entries, strict=True):
        read = entry_of_row(row)
        assert row["content_hash"] == read.content_hash()
        assert row["prev_hash"] == prev
        assert row["entry_hash"] == link_hash(prev, row["content_hash"])
        prev = row["entry_hash"]
        if item.principal != "zero\x00byte":
            assert read.content() == item.content()
    assert stored[5]["principal"] == "zero\ufffdbyte"
    assert verdict.intact and verdict.count == 120 and verdict.head_hash == prev


async def test_sqlite_rows_hold_what_sqlalchemys_insert_would_store(tmp_path: Path) -> None:
    """On SQLite the writer inserts many rows per statement with the driver's own
    parameters (``_insert_sqlite``); the stored values are byte for byte what
    ``access_log.insert()`` stores - times in other zones, fractions of a second, NUL,
    whole-number latencies, more rows than one statement takes."""
    entries = [entry(n, at=(START + dt.timedelta(microseconds=7919 * n)).astimezone(
        dt.timezone(dt.timedelta(hours=8 if n % 2 else -5))), latency_ms=n % 3 or 0.5)
        for n in range(1, 1601)]
    entries[9] = entry(10, principal="nul\x00here", operation="北京")
    async with platform_database("sqlite", tmp_path) as settings, migrated(settings) as store:
        writer = AccessLogWriter(store, batch_max=2000)
        for item in entries:  # queued before the writer runs: one batch of 1,600
            writer.record(item)
        await writer.start()
        await writer.aclose()
        stored = await rows(store)
    assert len(stored) == 1600
    database = tmp_path / "platform.db"
    with sqlite3.connect(database) as db:
        fast = db.execute("SELECT * FROM access_log ORDER BY id").fetchall()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'core.db'}")
    access_log.metadata.create_all(engine, tables=[access_log])
    with engine.begin() as conn:  # the same rows through SQLAlchemy's insert
        conn.execute(access_log.insert(), [dict(row) for row in stored])
    engine.dispose()
    with sqlite3.connect(tmp_path / "core.db") as db:
        core = db.execute("SELECT * FROM access_log ORDER BY id").fetchall()
    assert fast == core
    assert fast[0][1] == (START + dt.timedelta(microseconds=7919)).strftime(
        "%Y-%m-%d %H:%M:%S.%f")  # naive UTC text


async def test_anchors_every_n_entries_and_on_close(settings: PlatformSettings) -> None:
    async with migrated(settings) as store:
        writer = AccessLogWriter(store, batch_max=50, anchor_every=100)
        for number in range(250):  # queued before the writer runs: batches of exactly 50
            writer.record(entry(number))
        await writer.start()
        await writer.aclose()
        # the first batch anchors (none yet), then every 100 entries; the last on close
        assert await anchor_heads(store) == [50, 150, 250]
        closing = AccessLogWriter(store)
        await closing.start()
        closing.record(entry(251))
        await closing.aclose()
        assert await anchor_heads(store) == [50, 150, 250, 251]


async def test_an_idle_writer_anchors_after_anchor_every_s(settings: PlatformSettings) -> None:
    async with migrated(settings) as store:
        writer = AccessLogWriter(store, anchor_every_s=0.3)
        await writer.start()
        writer.record(entry(1))
        await writer.flush()
        for number in range(2, 6):
            writer.record(entry(number))
        await writer.flush()
        assert await anchor_heads(store) == [1]
        await asyncio.sleep(0.6)  # no more requests: the writer anchors on its own
        assert await anchor_heads(store) == [1, 5]
        await writer.aclose()
        assert await anchor_heads(store) == [1, 5]  # nothing new to anchor


async def test_aclose_writes_every_entry_recorded(settings: PlatformSettings) -> None:
    async with migrated(settings) as store:
        writer = AccessLogWriter(store)
        await writer.start()
        for number in range(3000):
            writer.record(entry(number))
        await writer.aclose()  # straight away: the queue is still full
        assert writer.written == 3000 and writer.pending == 0
        stored = await rows(store)
        assert [r["request_id"] for r in stored] == [f"req-{n}" for n in range(3000)]
        assert (await anchor_heads(store))[-1] == 3000
        assert (await verify(store)).intact


async def test_ten_thousand_entries_from_two_processes_form_one_chain(
    settings: PlatformSettings,
) -> None:
    async with migrated(settings) as store:
        schema = settings.schema or "-"
        results = run_together([worker("write", settings.database, schema, "5000", tag)
                                for tag in ("process-a", "process-b")])
        assert results == ["5000", "5000"]
        verdict = await verify(store)
        assert verdict.intact, verdict.reason
        assert verdict.count == 10_000
        stored = await rows(store)
    by_process = [r["principal"] for r in stored]
    assert by_process.count("process-a") == by_process.count("process-b") == 5000
    switches = sum(1 for a, b in itertools.pairwise(by_process) if a != b)
    assert switches >= 2, "the two processes did not write at the same time"
    for tag in ("process-a", "process-b"):  # each process's entries in its own order
        mine = [r["request_id"] for r in stored if r["principal"] == tag]
        assert mine == [f"{tag}-{n}" for n in range(5000)]


@pytest.mark.postgres
async def test_healthy_turns_false_when_postgresql_goes_away_and_back_on_return(
    tmp_path: Path,
) -> None:
    proxy = TcpProxy(make_url(POSTGRES_URL).port or 5432)
    await proxy.start()
    url = make_url(POSTGRES_URL).set(port=proxy.port).render_as_string(hide_password=False)
    async with platform_database("postgresql", tmp_path) as direct:
        settings = PlatformSettings(url, direct.schema, audit_fail_after_s=0.3)
        async with migrated(settings) as store:
            writer = AccessLogWriter(store)
            await writer.start()
            writer.record(entry(1))
            await writer.flush()
            await proxy.stop()  # the database stops answering
            for number in range(2, 52):
                writer.record(entry(number))
            assert writer.healthy()  # not yet: only after audit_fail_after_s
            await eventually(lambda: not writer.healthy())
            assert writer.pending == 50
            assert writer.problem() is not None
            await asyncio.sleep(0.3)
            await proxy.start()  # it is back: the entries kept are written
            await eventually(writer.healthy)
            await writer.aclose()
            assert writer.written == 51
        async with migrated(direct) as store:
            verdict = await verify(store)
    assert verdict.intact and verdict.count == 51


async def test_healthy_turns_false_while_sqlite_is_locked_and_back_after(
    tmp_path: Path,
) -> None:
    async with platform_database("sqlite", tmp_path, audit_fail_after_s=0.3) as settings, \
            migrated(settings) as store:
        writer = AccessLogWriter(store)
        await writer.start()
        writer.record(entry(1))
        await writer.flush()
        other = sqlite3.connect(make_url(settings.database).database or "",
                                isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            for number in range(2, 12):
                writer.record(entry(number))
            await eventually(lambda: not writer.healthy())
        finally:
            other.execute("ROLLBACK")
            other.close()
        await eventually(writer.healthy)
        await writer.aclose()
        assert writer.written == 11
        assert (await verify(store)).count == 11


async def test_past_the_queue_bound_entries_are_counted_in_the_chain(tmp_path: Path) -> None:
    async with platform_database("sqlite", tmp_path) as settings, migrated(settings) as store:
        writer = AccessLogWriter(store, max_pending=10)
        for number in range(15):  # the database is slow: the writer has not started
            writer.record(entry(number))
        assert not writer.healthy()  # fail closed at once
        assert writer.not_kept == 5
        await writer.start()
        await writer.flush()
        assert writer.healthy()
        await writer.aclose()
        stored = await rows(store)
    assert len(stored) == 11
    gap = entry_of_row(stored[-1])
    assert (gap.operation, gap.refusal_code, dict(gap.redactions)) == (
        "audit-overflow", "AUDIT_OVERFLOW", {"entries": 5})
    assert gap.at == entry(10).at  # the first entry not kept
    assert gap.latency_ms == 4000.0  # until the last one, 4 s later


async def test_a_closed_store_is_refused_loudly_not_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    async with platform_database("sqlite", tmp_path) as settings:
        store = open_store(settings)
        await store.migrate()
        writer = AccessLogWriter(store)
        await writer.start()
        await writer.aclose()
        writer.record(entry(1))
        await store.aclose()
    assert "recorded after the writer closed" in caplog.text


async def test_a_batch_committed_before_its_failure_is_not_written_twice(
    settings: PlatformSettings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with migrated(settings) as store:
        real = store.run_locked
        lost_answers = [OSError("connection reset after COMMIT was sent")]

        async def commit_then_fail(lock: str, work: Callable[..., Any], *args: Any) -> Any:
            done = await real(lock, work, *args)
            if lost_answers:  # committed, but the writer is told it failed
                raise lost_answers.pop()
            return done

        monkeypatch.setattr(store, "run_locked", commit_then_fail)
        writer = AccessLogWriter(store)
        for number in range(5):
            writer.record(entry(number))
        await writer.start()
        await writer.aclose()
        assert not lost_answers and writer.written == 5
        assert [r["request_id"] for r in await rows(store)] == [f"req-{n}" for n in range(5)]


async def test_on_a_busy_event_loop_a_batch_waits_for_its_statements_not_its_size(
        tmp_path: Path) -> None:
    """Each await of the writer's task waits for a turn of everything else the loop
    runs; at 64 connections a turn took about 0.1 s. Entries are hashed when recorded,
    and on SQLite a batch's transaction is one hop to a worker thread
    (``PlatformStore.run_locked``), so a batch costs a few turns: about 40 when each
    statement went through aiosqlite, 75 when entries were hashed in the writer's task
    in slices; departments were refused AUDIT_UNAVAILABLE while the gateway was merely
    busy."""
    async with platform_database("sqlite", tmp_path) as settings, \
            migrated(settings) as store:
        # a full batch: written at once, not after flush_interval_s
        writer = AccessLogWriter(store, batch_max=1000)
        await writer.start()
        for n in range(1, 1001):
            writer.record(entry(n))
        turns = 0
        stop = asyncio.Event()

        async def busy() -> None:  # every turn of the loop carries 10 ms of other work
            nonlocal turns
            while not stop.is_set():
                turns += 1
                time.sleep(0.01)  # noqa: ASYNC251 - the point: a loop kept busy
                await asyncio.sleep(0)

        requests = asyncio.create_task(busy())
        try:
            await writer.flush()
        finally:
            stop.set()
            await requests
        assert writer.written == 1000 and writer.healthy()
        assert turns < 15, turns
        await writer.aclose()
        assert (await verify(store)).intact
