"""Connector.changed_since: each kind tells what changed since a watermark - a change
time column (sql), the file's stamp (csv), the agency's ``since`` query (http) - or
answers with every record for the caller to compare."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from conftest import ServerThread, write_csv
from connectors.base import Changes, Connector
from connectors.credit_code import with_check_char
from connectors.csv_folder import CsvConnector
from connectors.errors import SourceUnsupported
from connectors.http_service import HttpConnector
from connectors.records import RowProblem
from connectors.spec import AgencySpec
from connectors.sql import EMPTY_TABLE, SqlConnector
from gateway.demo.agency_service import create_agency_app

ACME = with_check_char("91110102MA0000001")
BETA = with_check_char("91110102MA0000002")
COLUMNS = ("record_id", "credit_code", "openness", "risk_level", "reason", "listed_on")


def _row(record_id: str, code: str, risk: str = "LOW") -> dict[str, str]:
    return {"record_id": record_id, "credit_code": code, "openness": "OPEN",
            "risk_level": risk, "reason": "未按期公示年报", "listed_on": "2026-05-01"}


def _ignore(problem: RowProblem) -> None:
    raise AssertionError(str(problem))


def _ids(changes: Changes) -> list[str]:
    return sorted(record.record_id for record in changes.records)


def _table(path: Path, *, change_column: str | None = "updated_at") -> Path:
    with sqlite3.connect(path) as db:
        extra = f", {change_column} TEXT" if change_column else ""
        db.execute(f"CREATE TABLE anomaly ({', '.join(COLUMNS)}{extra})")
        for index, code in enumerate((ACME, BETA), start=1):
            values = [*_row(f"A-{index}", code).values()]
            if change_column:
                values.append(f"2026-12-01T08:00:0{index}.000000")
            db.execute(f"INSERT INTO anomaly VALUES ({', '.join('?' * len(values))})", values)
    return path


def _sql(path: Path, **extra: Any) -> SqlConnector:
    spec = AgencySpec("SAMR", "市场监管局", "sql", f"sqlite+aiosqlite:///{path}",
                      ("anomaly",), **extra)
    return SqlConnector(spec, report=_ignore)


async def _closing(connector: Connector, work: Callable[[Connector], Any]) -> Any:
    try:
        return await work(connector)
    finally:
        await connector.aclose()


def test_sql_reads_rows_written_after_the_watermark(tmp_path: Path) -> None:
    path = _table(tmp_path / "samr.db")

    async def run(connector: Connector) -> None:
        first = await connector.changed_since("anomaly", None)
        assert (_ids(first), first.whole) == (["A-1", "A-2"], True)
        assert first.watermark == "2026-12-01T08:00:02.000000"
        with sqlite3.connect(path) as db:
            db.execute("UPDATE anomaly SET risk_level = 'HIGH', "
                       "updated_at = '2026-12-01T09:00:00.000000' WHERE record_id = 'A-1'")
        second = await connector.changed_since("anomaly", first.watermark)
        assert (_ids(second), second.whole) == (["A-1"], False)
        risk = {r.record_id: r.risk_level for r in second.records}
        assert risk["A-1"] is not None and risk["A-1"].value == "HIGH"
        assert second.watermark == "2026-12-01T09:00:00.000000"
        # nothing written since: nothing, and the watermark stays
        third = await connector.changed_since("anomaly", second.watermark)
        assert (_ids(third), third.whole, third.watermark) == ([], False, second.watermark)

    asyncio.run(_closing(_sql(path), run))


def test_sqlite_table_without_change_times_tells_by_the_file_stamp(tmp_path: Path) -> None:
    path = _table(tmp_path / "samr.db", change_column=None)

    async def run(connector: Connector) -> None:
        first = await connector.changed_since("anomaly", None)
        assert (_ids(first), first.whole) == (["A-1", "A-2"], True)
        assert isinstance(first.watermark, tuple)
        same = await connector.changed_since("anomaly", first.watermark)
        assert (same.records, same.whole, same.watermark) == ([], False, first.watermark)
        with sqlite3.connect(path) as db:
            db.execute("UPDATE anomaly SET risk_level = 'HIGH' WHERE record_id = 'A-2'")
        changed = await connector.changed_since("anomaly", first.watermark)
        assert (_ids(changed), changed.whole) == (["A-1", "A-2"], True)  # compared whole
        assert changed.watermark != first.watermark

    asyncio.run(_closing(_sql(path), run))


def test_a_database_without_change_times_or_file_answers_whole() -> None:
    async def run() -> None:
        engine = create_async_engine("sqlite+aiosqlite:///:memory:",
                                     poolclass=sa.pool.StaticPool)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"CREATE TABLE anomaly ({', '.join(COLUMNS)})"))
            await conn.execute(sa.text("INSERT INTO anomaly VALUES (:r, :c, 'OPEN', 'LOW', "
                                       "'x', '2026-05-01')"), {"r": "A-1", "c": ACME})
        spec = AgencySpec("SAMR", "市场监管局", "sql", "sqlite+aiosqlite:///:memory:",
                          ("anomaly",))
        connector = SqlConnector(spec, report=_ignore, engine=engine)
        for since in (None, "2026-12-01T00:00:00"):
            found = await connector.changed_since("anomaly", since)
            assert (_ids(found), found.whole, found.watermark) == (["A-1"], True, None)
        await connector.aclose()

    asyncio.run(run())


def test_sql_change_column_renamed_and_columns_narrowed(tmp_path: Path) -> None:
    path = _table(tmp_path / "samr.db", change_column="gxsj")
    connector = _sql(path, columns={"anomaly": {"updated_at": "gxsj"}})

    async def run(connector: Connector) -> None:
        first = await connector.changed_since("anomaly", None, columns={"listed_on"})
        assert first.watermark == "2026-12-01T08:00:02.000000"
        assert set(first.records[0].values) == {"listed_on"}
        later = await connector.changed_since("anomaly", "2026-12-01T08:00:02")
        assert _ids(later) == ["A-2"]

    asyncio.run(_closing(connector, run))


@pytest.mark.postgres
def test_postgres_timestamps_are_change_times(postgres_url: str) -> None:
    table = f"anomaly_{uuid.uuid4().hex[:12]}"
    spec = AgencySpec("SAMR", "市场监管局", "sql", postgres_url, ("anomaly",),
                      tables={"anomaly": table})

    async def execute(statement: str, **values: str) -> None:
        engine = create_async_engine(postgres_url)
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), values)
        await engine.dispose()

    async def run(connector: Connector) -> None:
        await execute(f"CREATE TABLE {table} (record_id text, credit_code text, openness "
                      "text, risk_level text, reason text, listed_on text, updated_at "
                      "timestamptz)")
        try:
            await execute(f"INSERT INTO {table} VALUES ('A-1', :c, 'OPEN', 'LOW', 'x', "
                          "'2026-05-01', '2026-12-01 08:00:00+00')", c=ACME)
            first = await connector.changed_since("anomaly", None)
            assert _ids(first) == ["A-1"] and first.whole
            await execute(f"INSERT INTO {table} VALUES ('A-2', :c, 'OPEN', 'HIGH', 'y', "
                          "'2026-06-01', '2026-12-01 09:00:00+00')", c=BETA)
            second = await connector.changed_since("anomaly", first.watermark)
            assert (_ids(second), second.whole) == (["A-2"], False)
            third = await connector.changed_since("anomaly", second.watermark)
            assert (_ids(third), third.watermark) == ([], second.watermark)
        finally:
            await execute(f"DROP TABLE {table}")

    asyncio.run(_closing(SqlConnector(spec, report=_ignore), run))


def test_csv_tells_changes_by_the_file_stamp(tmp_path: Path) -> None:
    folder = tmp_path / "epb"
    path = write_csv(folder / "anomaly.csv", [_row("A-1", ACME), _row("A-2", BETA)])
    spec = AgencySpec("EPB", "生态环境局", "csv", str(folder), ("anomaly",))

    async def run(connector: Connector) -> None:
        first = await connector.changed_since("anomaly", None)
        assert (_ids(first), first.whole) == (["A-1", "A-2"], True)
        same = await connector.changed_since("anomaly", first.watermark)
        assert (same.records, same.whole, same.watermark) == ([], False, first.watermark)
        write_csv(path, [_row("A-1", ACME, "HIGH"), _row("A-2", BETA), _row("A-3", BETA)])
        stamp = os.stat(path)
        os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
        rewritten = await connector.changed_since("anomaly", first.watermark)
        assert (_ids(rewritten), rewritten.whole) == (["A-1", "A-2", "A-3"], True)
        assert rewritten.watermark != first.watermark

    asyncio.run(_closing(CsvConnector(spec, report=_ignore), run))


def test_http_agency_answers_since_and_until(serve: Callable[..., ServerThread]) -> None:
    agency = create_agency_app({"anomaly": [_row("A-1", ACME), _row("A-2", BETA)]})
    server = serve(agency)
    spec = AgencySpec("COURT", "人民法院", "http", server.url, ("anomaly",))

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            connector = HttpConnector(spec, report=_ignore, client=client)
            first = await connector.changed_since("anomaly", None)
            assert (_ids(first), first.whole) == (["A-1", "A-2"], True)
            assert isinstance(first.watermark, str)
            nothing = await connector.changed_since("anomaly", first.watermark)
            assert (nothing.records, nothing.whole) == ([], False)
            agency.state.write("anomaly", _row("A-2", BETA, "HIGH"))
            changed = await connector.changed_since("anomaly", nothing.watermark)
            assert (_ids(changed), changed.whole) == (["A-2"], False)
            assert str(changed.watermark) > str(nothing.watermark)
            agency.state.control.answers_since = False
            with pytest.raises(SourceUnsupported, match="HTTP 400"):
                await connector.changed_since("anomaly", changed.watermark)
            # the agency still answers by key as before
            [found] = await connector.fetch("anomaly", "credit_code", [BETA])
            assert isinstance(found, list) and [r.record_id for r in found] == ["A-2"]

    asyncio.run(run())


def test_http_agency_without_until_does_not_support_since() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": []})  # an old agency ignoring 'since'

    spec = AgencySpec("OLD", "旧系统", "http", "http://old.invalid", ("anomaly",))

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            connector = HttpConnector(spec, report=_ignore, client=client)
            with pytest.raises(SourceUnsupported, match="until"):
                await connector.changed_since("anomaly", None)

    asyncio.run(run())


def test_a_large_read_is_normalised_off_the_loop_and_its_problems_reported(
    tmp_path: Path,
) -> None:
    """6,000 rows (a whole read): normalised in a worker thread, the same records, and a
    bad row reported once, on the loop's side."""
    path = tmp_path / "samr.db"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE anomaly ({', '.join(COLUMNS)})")
        rows = [[*_row(f"A-{n}", ACME if n % 2 else BETA).values()] for n in range(6_000)]
        rows[17][2] = "MAYBE"  # an unknown openness: kept as NOT_OPEN and reported
        db.executemany(f"INSERT INTO anomaly VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    reported: list[RowProblem] = []
    spec = AgencySpec("SAMR", "市场监管局", "sql", f"sqlite+aiosqlite:///{path}", ("anomaly",))
    connector = SqlConnector(spec, report=reported.append)

    async def run(connector: Connector) -> Changes:
        return await connector.changed_since("anomaly", None)

    changes = asyncio.run(_closing(connector, run))
    assert len(changes.records) == 6_000 and changes.whole
    assert [problem.record_id for problem in reported] == ["A-17"]
    assert "unknown openness 'MAYBE'" in reported[0].reason


def test_an_empty_table_with_change_times_tells_its_first_rows(tmp_path: Path) -> None:
    """A table with ``updated_at`` and no rows yet tells changes like any other (it used
    to be taken for one that cannot, compared whole once per cache lifetime)."""
    path = tmp_path / "samr.db"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE anomaly ({', '.join(COLUMNS)}, updated_at TEXT)")

    async def run(connector: Connector) -> None:
        first = await connector.changed_since("anomaly", None)
        assert (first.records, first.whole) == ([], True) and first.watermark == EMPTY_TABLE
        again = await connector.changed_since("anomaly", first.watermark)
        assert (again.records, again.whole, again.watermark) == ([], False, EMPTY_TABLE)
        with sqlite3.connect(path) as db:
            values = [*_row("A-1", ACME).values(), "2026-12-01T08:00:00.000000"]
            db.execute(f"INSERT INTO anomaly VALUES ({', '.join('?' * len(values))})", values)
        second = await connector.changed_since("anomaly", again.watermark)
        assert (_ids(second), second.whole) == (["A-1"], False)
        assert second.watermark == "2026-12-01T08:00:00.000000"

    asyncio.run(_closing(_sql(path), run))
