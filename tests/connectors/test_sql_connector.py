"""The sql connector against a real SQLite file and the real PostgreSQL on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from conftest import ACME, BETA, GAMMA, POSTGRES_URL, write_sqlite
from connectors.errors import SourceUnavailable, SourceUnsupported
from connectors.records import RowProblem
from connectors.spec import AgencySpec
from connectors.sql import _INLINE_KEYS, _SQLITE_THREADS, SqlConnector


def rows() -> list[dict[str, Any]]:
    def row(rid: str, code: str | None, wsh: str, person: str | None = None) -> dict[str, Any]:
        return {"record_id": rid, "credit_code": code, "openness": "OPEN", "risk_level": "LOW",
                "person_id": person, "wsh": wsh, "penalty_type": "FINE", "amount": "10",
                "decided_on": "2026-01-01"}

    # 5 and 6 are fines on a person alone (credit_code NULL, ''); 7 is about nobody.
    return [row("1", ACME, "A-1"), row("2", BETA, "B-1", "P7"), row("3", ACME, "A-2"),
            row("4", "91110102MA00000010", "BAD"), row("5", None, "P-1", "P8"),
            row("6", "", "P-2", "P8"), row("7", None, "NOBODY")]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(url, table) with the same rows in a real database of each kind."""
    table = f"xzcf_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        path = write_sqlite(tmp_path / "agency.db", {table: rows()})
        yield f"sqlite+aiosqlite:///{path}", table
        return
    engine = create_async_engine(POSTGRES_URL)
    columns = list(rows()[0])
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            f'CREATE TABLE "{table}" ({", ".join(f"{c} TEXT" for c in columns)})'
        ))
        await conn.execute(
            sa.text(f'INSERT INTO "{table}" VALUES ({", ".join(":" + c for c in columns)})'),
            rows(),
        )
    try:
        yield POSTGRES_URL, table
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP TABLE "{table}"'))
        await engine.dispose()


def connector(url: str, table: str, problems: list[RowProblem], **extra: Any) -> SqlConnector:
    spec = AgencySpec(code="SAMR", name="市场监督管理局", kind="sql", location=url,
                      provides=("penalty",), tables={"penalty": table},
                      columns={"penalty": {"decision_no": "wsh"}}, **extra)
    return SqlConnector(spec, report=problems.append)


async def test_batch_fetch_in_order_with_renames(sql_url: tuple[str, str]) -> None:
    problems: list[RowProblem] = []
    source = connector(*sql_url, problems)
    try:
        result = await source.fetch("penalty", "credit_code", [BETA, GAMMA, ACME])
    finally:
        await source.aclose()
    assert not isinstance(result[0], Exception) and not isinstance(result[2], Exception)
    assert [r.values["decision_no"] for r in result[0]] == ["B-1"]
    assert result[1] == []
    assert sorted(str(r.values["decision_no"]) for r in result[2]) == ["A-1", "A-2"]
    assert source.calls["penalty"] == 1


async def test_fetch_by_person(sql_url: tuple[str, str]) -> None:
    source = connector(*sql_url, [])
    try:
        (records,) = await source.fetch("penalty", "person_id", ["P7"])
    finally:
        await source.aclose()
    assert not isinstance(records, Exception)
    assert [r.record_id for r in records] == ["2"]


async def test_fetch_by_person_finds_records_without_credit_code(
    sql_url: tuple[str, str],
) -> None:
    problems: list[RowProblem] = []
    source = connector(*sql_url, problems)
    try:
        by_person = await source.fetch("penalty", "person_id", ["P8", "P7"])
        by_code = await source.fetch("penalty", "credit_code", [ACME, BETA])
    finally:
        await source.aclose()
    (on_p8, on_p7), (on_acme, on_beta) = by_person, by_code
    assert isinstance(on_p8, list) and isinstance(on_p7, list)
    assert isinstance(on_acme, list) and isinstance(on_beta, list)
    assert sorted(r.record_id for r in on_p8) == ["5", "6"]  # NULL and '' alike
    assert all(r.credit_code is None and r.person_id == "P8" for r in on_p8)
    assert [r.record_id for r in on_p7] == ["2"]
    assert sorted(r.record_id for r in on_acme + on_beta) == ["1", "2", "3"]
    assert problems == []


async def test_scan_reports_bad_rows(sql_url: tuple[str, str]) -> None:
    problems: list[RowProblem] = []
    source = connector(*sql_url, problems)
    try:
        records = await source.scan("penalty")
    finally:
        await source.aclose()
    assert sorted(r.record_id for r in records) == ["1", "2", "3", "5", "6"]
    reasons = {p.record_id: p.reason for p in problems}
    assert [(p.agency, p.record_type) for p in problems] == [("SAMR", "penalty")] * 2
    assert sorted(reasons) == ["4", "7"]
    assert "invalid credit_code" in reasons["4"]
    assert reasons["7"] == "missing credit_code and person_id; row left out"


async def test_scan_of_some_columns_reads_only_those(sql_url: tuple[str, str]) -> None:
    """A scan for the rules (``columns``) reads the columns named - renamed ones by
    their source name, ones the table lacks as null - and carries no other value."""
    problems: list[RowProblem] = []
    source = connector(*sql_url, problems)
    try:
        whole = await source.scan("penalty")
        narrow = await source.scan("penalty", columns={"amount", "decided_on", "repaired_on"})
    finally:
        await source.aclose()
    assert [r.record_id for r in narrow] == [r.record_id for r in whole]
    first = narrow[0]
    assert dict(first.values) == {"person_id": None, "amount": 10.0,
                                  "decided_on": whole[0].values["decided_on"],
                                  "repaired_on": None}
    assert (first.credit_code, first.openness, first.risk_level) == (
        whole[0].credit_code, whole[0].openness, whole[0].risk_level)
    assert [r.person_id for r in narrow] == [r.person_id for r in whole]
    assert len(problems) == 4  # the two bad rows, reported by each scan
    assert source.calls["scan:penalty"] == 2


async def test_missing_table_is_a_source_failure_without_internals(
    sql_url: tuple[str, str],
) -> None:
    source = connector(sql_url[0], "no_such_table", [])
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await source.fetch("penalty", "credit_code", [ACME])
    finally:
        await source.aclose()
    assert caught.value.agency == "SAMR"
    assert "no_such_table" not in caught.value.reason  # the reason is safe to show
    assert "failed" in caught.value.reason


async def test_types_not_provided_are_refused(tmp_path: Path) -> None:
    source = connector(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "t", [])
    with pytest.raises(SourceUnsupported):
        await source.fetch("licence", "credit_code", [ACME])
    await source.aclose()


async def test_unreachable_database_is_unavailable_and_unhealthy() -> None:
    source = connector("postgresql+asyncpg://postgres@127.0.0.1:1/none", "t", [],
                       timeout_s=2.0)
    assert await source.health() is False
    with pytest.raises(SourceUnavailable):
        await source.fetch("penalty", "credit_code", [ACME])
    await source.aclose()


async def test_bursts_of_queries_reuse_the_connections_they_opened(
    sql_url: tuple[str, str],
) -> None:
    """One enterprise query asks a registry agency for several record types at once;
    the connections a burst opens stay for the next burst (none opened per request)."""
    source = connector(*sql_url, [])
    opened: list[object] = []
    # a SQLite file is read through the synchronous engine in the connector's threads
    engine = (source._file.engine if source._file is not None
              else source._engine.sync_engine if source._engine is not None else None)
    assert engine is not None
    sa.event.listen(engine, "connect", lambda *_: opened.append(1))
    keys = [[ACME], [BETA], [GAMMA], ["P7"], [ACME, BETA], [BETA, GAMMA], [GAMMA, ACME], [ACME]]
    try:
        for burst in range(3):
            results = await asyncio.gather(*(source.fetch("penalty", "credit_code", k)
                                              for k in keys))
            assert all(isinstance(r, list) for result in results for r in result)
            if burst == 0:
                first_burst = len(opened)
    finally:
        await source.aclose()
    if source._file is not None:
        # a SQLite file: one connection at most per worker thread of the connector, kept
        # (which threads a burst uses is the executor's choice, so a later burst may
        # still open the last of them)
        assert 1 <= len(opened) <= _SQLITE_THREADS
        return
    assert 1 < first_burst <= len(keys)
    assert len(opened) == first_burst  # the later bursts opened none


def _sqlite_source(tmp_path: Path, count: int = 0) -> tuple[SqlConnector, Path]:
    extra = [{**rows()[0], "record_id": f"X{n}", "credit_code": f"KEY{n}"} for n in range(count)]
    path = write_sqlite(tmp_path / "agency.db", {"xzcf": rows() + extra})
    return connector(f"sqlite:///{path}", "xzcf", []), path


def _connecting_threads(source: SqlConnector) -> list[str]:
    """The names of the threads that open connections of the source's engine."""
    assert source._file is not None
    threads: list[str] = []
    sa.event.listen(source._file.engine, "connect",
                    lambda *_: threads.append(threading.current_thread().name))
    return threads


async def test_a_few_keys_are_looked_up_on_the_event_loop_and_many_in_a_thread(
        tmp_path: Path) -> None:
    """A lookup of a few keys costs no thread hop (0.58 -> 0.13 ms of CPU per call on
    this VM); a page's thousand keys do not hold the event loop."""
    source, _ = _sqlite_source(tmp_path, count=_INLINE_KEYS + 10)
    threads = _connecting_threads(source)
    try:
        few = await source.fetch("penalty", "credit_code", [BETA, ACME])
        assert [len(r) for r in few if isinstance(r, list)] == [1, 2]
        assert threads == [threading.current_thread().name]  # the loop's own connection
        for _ in range(5):
            await source.fetch("penalty", "credit_code", [GAMMA])
        assert len(threads) == 1  # kept, not opened per lookup
        many = [f"KEY{n}" for n in range(_INLINE_KEYS + 10)]
        found = await source.fetch("penalty", "credit_code", many)
        assert len(found) == len(many) and all(isinstance(r, list) for r in found)
        assert len(threads) == 2 and threads[1].startswith("sql-SAMR")
    finally:
        await source.aclose()


async def test_a_locked_database_is_read_in_a_thread_without_holding_the_loop(
        tmp_path: Path) -> None:
    """While a writer holds the lock, the loop's lookup does not wait on the loop: it
    is read in a worker thread, which waits for the lock, and answers once it is
    released; meanwhile the event loop goes on."""
    source, path = _sqlite_source(tmp_path)
    await source.fetch("penalty", "credit_code", [ACME])  # the loop's connection is open
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("INSERT INTO xzcf (record_id, credit_code, openness, risk_level, wsh, "
                   "penalty_type, amount, decided_on) VALUES ('8', ?, 'OPEN', 'LOW', 'A-3', "
                   "'FINE', '5', '2026-02-01')", (ACME,))
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    try:
        lookup = asyncio.create_task(source.fetch("penalty", "credit_code", [ACME]))
        await asyncio.sleep(0.3)
        assert not lookup.done()  # waiting for the lock, in a thread
        assert ticks >= 10  # the loop was not held
        writer.execute("COMMIT")
        found = await asyncio.wait_for(lookup, 5)
        assert isinstance(found[0], list)
        assert sorted(str(r.values["decision_no"]) for r in found[0]) == ["A-1", "A-2", "A-3"]
    finally:
        ticker.cancel()
        writer.close()
        await source.aclose()
