"""Local sources read at once (``Connector._query_now``): a CSV file already read and
unchanged, a SQLite file no writer holds, are read on the calling thread without the
timeout, retry and failure machinery of ``_query`` - and every other case still goes
through it: a changed or vanished file, a locked database, an open circuit breaker."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import ACME, BETA, write_csv, write_sqlite
from connectors.base import RawBatch
from connectors.csv_folder import CsvConnector
from connectors.errors import SourceUnavailable
from connectors.observe import BREAKER_OPEN, OK, CallWatch
from connectors.spec import AgencySpec
from connectors.sql import SqlConnector


class _Watch:
    def __init__(self, ends: list[tuple[str, int, str]], record_type: str, size: int) -> None:
        self._ends, self._what = ends, (record_type, size)

    def end(self, outcome: str) -> None:
        self._ends.append((*self._what, outcome))


class Calls:
    """An observer keeping (record type, batch size, outcome) of every call."""

    def __init__(self) -> None:
        self.ends: list[tuple[str, int, str]] = []

    def call(self, agency: str, record_type: str, batch_size: int) -> CallWatch:
        return _Watch(self.ends, record_type, batch_size)

    def cache_lookup(self, hits: int, misses: int) -> None:
        return None

    def stale_served(self, agency: str) -> None:
        return None


class CountedCsv(CsvConnector):
    """Counts the awaited reads (``_query``)."""

    awaited = 0

    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        self.awaited += 1
        return await super()._query(table, key_column, keys)


class CountedSql(SqlConnector):
    awaited = 0

    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        self.awaited += 1
        return await super()._query(table, key_column, keys)


def penalty(rid: str, code: str, number: str) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "openness": "完全开放", "risk_level": "",
            "decision_no": number, "penalty_type": "FINE", "amount": "10",
            "decided_on": "2026-01-01"}


def csv_source(folder: Path, **extra: Any) -> CountedCsv:
    spec = AgencySpec(code="EPB", name="生态环境局", kind="csv", location=str(folder),
                      provides=("penalty",), **extra)
    return CountedCsv(spec, report=lambda problem: None)


def sql_source(path: Path) -> CountedSql:
    spec = AgencySpec(code="SAMR", name="市场监督管理局", kind="sql",
                      location=f"sqlite:///{path}", provides=("penalty",))
    return CountedSql(spec, report=lambda problem: None)


def numbers(found: list[Any]) -> list[list[str]]:
    return [sorted(str(r.values["decision_no"]) for r in each) for each in found]


async def test_a_csv_file_read_before_is_read_at_once_until_it_changes(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "penalty.csv", [penalty("1", ACME, "A-1")])
    source = csv_source(tmp_path)
    calls = source.observer = Calls()
    assert numbers(await source.fetch("penalty", "credit_code", [ACME, BETA])) == [["A-1"], []]
    assert source.awaited == 1  # the first read loads the file
    for _ in range(3):
        assert numbers(await source.fetch("penalty", "credit_code", [BETA, ACME])) == [
            [], ["A-1"]]
    assert source.awaited == 1  # then read at once
    assert calls.ends == [("penalty", 2, OK)] * 4  # each told to the observer all the same
    write_csv(path, [penalty("1", ACME, "A-1"), penalty("2", BETA, "B-1")], bom=False)
    os.utime(path, ns=(1, 1))  # a different stamp even within one modification-time tick
    assert numbers(await source.fetch("penalty", "credit_code", [BETA])) == [["B-1"]]
    assert source.awaited == 2  # a changed file is loaded again, by the awaited read


async def test_a_vanished_csv_file_is_a_source_failure_as_before(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "penalty.csv", [penalty("1", ACME, "A-1")])
    source = csv_source(tmp_path, retries=0)
    await source.fetch("penalty", "credit_code", [ACME])
    path.unlink()
    with pytest.raises(SourceUnavailable) as caught:
        await source.fetch("penalty", "credit_code", [ACME])
    assert str(tmp_path) not in caught.value.reason  # mapped as the awaited read maps it
    assert source.awaited == 2


async def test_an_open_circuit_breaker_is_not_passed_by_a_read_at_once(tmp_path: Path) -> None:
    write_csv(tmp_path / "penalty.csv", [penalty("1", ACME, "A-1")])
    source = csv_source(tmp_path, breaker_failures=1, breaker_open_s=60.0)
    calls = source.observer = Calls()
    await source.fetch("penalty", "credit_code", [ACME])
    source.breaker.failure()  # as after a failed call
    with pytest.raises(SourceUnavailable, match="circuit open"):
        await source.fetch("penalty", "credit_code", [ACME])
    assert calls.ends[-1] == ("penalty", 1, BREAKER_OPEN)


async def test_a_sqlite_file_is_read_at_once_unless_a_writer_holds_it(tmp_path: Path) -> None:
    path = write_sqlite(tmp_path / "agency.db", {"penalty": [penalty("1", ACME, "A-1")]})
    source = sql_source(path)
    calls = source.observer = Calls()
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        for _ in range(3):
            assert numbers(await source.fetch("penalty", "credit_code", [ACME])) == [["A-1"]]
        assert source.awaited == 0
        assert calls.ends == [("penalty", 1, OK)] * 3
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO penalty (record_id, credit_code, openness, risk_level, "
                       "decision_no, penalty_type, amount, decided_on) VALUES ('2', ?, "
                       "'OPEN', '', 'A-2', 'FINE', '5', '2026-02-01')", (ACME,))
        lookup = asyncio.create_task(source.fetch("penalty", "credit_code", [ACME]))
        await asyncio.sleep(0.2)
        assert not lookup.done() and source.awaited == 1  # waits in a thread, not here
        writer.execute("COMMIT")
        assert numbers(await asyncio.wait_for(lookup, 5)) == [["A-1", "A-2"]]
        assert numbers(await source.fetch("penalty", "credit_code", [ACME])) == [
            ["A-1", "A-2"]]
        assert source.awaited == 1  # at once again
    finally:
        writer.close()
        await source.aclose()


async def test_a_missing_table_goes_to_the_awaited_read_and_its_mapping(tmp_path: Path) -> None:
    path = write_sqlite(tmp_path / "agency.db", {"other": [penalty("1", ACME, "A-1")]})
    source = sql_source(path)
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await source.fetch("penalty", "credit_code", [ACME])
    finally:
        await source.aclose()
    assert source.awaited >= 1
    assert caught.value.agency == "SAMR" and "no such table" not in caught.value.reason
