"""The change feed (gateway.change_feed, run by gateway.change_service): a change in a
source - a sql row with a newer updated_at, a rewritten csv file, an http agency's
answer to ``since`` - becomes exactly one event on the bus within 2 s, and the
registry's risk records are patched, not read again whole."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from conftest import RedisServer, ServerThread, write_csv
from connectors.credit_code import with_check_char
from gateway.change_feed import ChangeFeed
from gateway.change_service import ChangeService
from gateway.change_settings import ChangeSettings
from gateway.config import load_config
from gateway.demo.agency_service import create_agency_app
from gateway.events import Event, Registered, Subscription, WarningChanged
from gateway.feed_memory import FeedMemory
from gateway.runtime import Runtime, open_runtime
from schema.registry_risk import RiskRecords
from schema.rules.columns import riskless_counted

ACME = with_check_char("91110102MA0000001")
BETA = with_check_char("91110102MA0000002")
GAMMA = with_check_char("91110105MA0000003")
NEW = with_check_char("91110102MA0000009")
TODAY = dt.date(2026, 12, 1)
ANOMALY = ("record_id", "credit_code", "openness", "risk_level", "reason", "listed_on",
           "removed_on")
ENTERPRISE = ("record_id", "credit_code", "openness", "risk_level", "name", "legal_rep_id",
              "established_on", "status", "district_code", "industry", "business_scope")


def _anomaly(record_id: str, code: str, risk: str) -> dict[str, str]:
    return {"record_id": record_id, "credit_code": code, "openness": "OPEN",
            "risk_level": risk, "reason": "未按期公示年报", "listed_on": "2026-05-01",
            "removed_on": ""}


def _enterprise(code: str, name: str, person: str) -> tuple[str, ...]:
    return (f"E-{code[-4:]}", code, "OPEN", "", name, person, "2019-03-01", "ACTIVE",
            "110102", "餐饮业", "餐饮服务")


@dataclass
class Sources:
    folder: Path
    registry: Path
    court: Starlette
    config: Path

    def sql(self, statement: str, *values: Any) -> None:
        with sqlite3.connect(self.registry) as db:
            db.execute(statement, values)


@pytest.fixture
def sources(tmp_path: Path, serve: Callable[..., ServerThread]) -> Sources:
    registry = tmp_path / "reg.db"
    with sqlite3.connect(registry) as db:
        db.execute(f"CREATE TABLE enterprise ({', '.join(ENTERPRISE)}, updated_at TEXT)")
        for code, name, person in ((ACME, "北京甲餐饮有限公司", "P1"),
                                   (BETA, "北京乙科技有限公司", "P2"),
                                   (GAMMA, "北京丙贸易有限公司", "P3")):
            db.execute(f"INSERT INTO enterprise VALUES ({', '.join('?' * 12)})",
                       (*_enterprise(code, name, person), "2026-11-30T08:00:00.000000"))
        db.execute(f"CREATE TABLE anomaly ({', '.join(ANOMALY)}, updated_at TEXT)")
        db.execute(f"INSERT INTO anomaly VALUES ({', '.join('?' * 8)})",
                   (*_anomaly("REG-1", ACME, "LOW").values(), "2026-11-30T08:00:00.000000"))
    with sqlite3.connect(tmp_path / "tax.db") as db:  # no change times: the file's stamp
        db.execute(f"CREATE TABLE anomaly ({', '.join(ANOMALY)})")
    write_csv(tmp_path / "epb" / "anomaly.csv", [_anomaly("EPB-1", BETA, "LOW")])
    court = create_agency_app({"judgment_default": [
        {**_anomaly("COURT-1", GAMMA, "LOW"), "person_id": "", "court": "西城法院",
         "case_no": "(2026)京0102执1号", "obligation": "支付货款", "performance": "未履行"}]})
    server = serve(court)
    config = tmp_path / "gateway.yaml"
    config.write_text(f"""
agencies:
  - {{code: REG, name: 登记机关, kind: sql, url: "sqlite+aiosqlite:///{registry}",
      provides: [enterprise, anomaly]}}
  - {{code: TAX, name: 税务局, kind: sql, url: "sqlite+aiosqlite:///{tmp_path / 'tax.db'}",
      provides: [anomaly], cache_ttl_s: 60}}
  - {{code: EPB, name: 生态环境局, kind: csv, path: epb, provides: [anomaly]}}
  - {{code: COURT, name: 人民法院, kind: http, base_url: "{server.url}",
      provides: [judgment_default], cache_ttl_s: 0.5}}
changes: {{poll_s: 0.2}}
""", encoding="utf-8")
    return Sources(tmp_path, registry, court, config)


def _runtime(config: Path) -> Runtime:
    runtime = open_runtime(load_config(config), policies=None)
    runtime.today = lambda: TODAY
    return runtime


@contextmanager
def _events_of(runtime: Runtime, settings: ChangeSettings) -> Iterator[
        tuple[ChangeService, Subscription, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    service = ChangeService(settings, runtime, None)
    loop.run_until_complete(service.start())
    subscription = service.bus.subscribe()
    try:
        yield service, subscription, loop
    finally:
        subscription.close()
        loop.run_until_complete(service.aclose())
        loop.run_until_complete(runtime.aclose())
        loop.close()


async def _ready(service: ChangeService) -> None:
    feed = service.feed
    assert feed is not None
    for _ in range(100):  # the first poll reads every source whole
        if feed.ready:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the change feed did not read the sources within 5 s")


async def _next(subscription: Subscription, within_s: float) -> Event:
    async with asyncio.timeout(within_s):
        return await anext(subscription)


async def _nothing_more(subscription: Subscription, wait_s: float = 0.8) -> None:
    try:
        extra = await asyncio.wait_for(anext(subscription), wait_s)
    except TimeoutError:
        return
    pytest.fail(f"an unexpected event: {extra}")


POLL = ChangeSettings(poll_s=0.2)


def _one_change(sources: Sources, change: Callable[[], None]) -> Event:
    """The one event ``change`` makes, within 2 s of it."""
    runtime = _runtime(sources.config)
    with _events_of(runtime, POLL) as (service, subscription, loop):
        async def run() -> Event:
            await _ready(service)
            await _nothing_more(subscription, 0.5)  # the first poll tells nothing
            change()
            started = loop.time()
            event = await _next(subscription, 2.0)
            assert loop.time() - started < 2.0
            await _nothing_more(subscription)
            return event

        return loop.run_until_complete(run())


def test_sql_row_with_newer_change_time_is_one_warning_change(sources: Sources) -> None:
    event = _one_change(sources, lambda: sources.sql(
        "UPDATE anomaly SET risk_level = 'HIGH', updated_at = '2026-12-01T09:00:00.000000' "
        "WHERE record_id = 'REG-1'"))
    assert isinstance(event, WarningChanged)
    assert (event.credit_code, event.name, event.from_level, event.to_level) == (
        ACME, "北京甲餐饮有限公司", "YELLOW", "ORANGE")
    assert event.reasons[0] == "SINGLE_AGENCY_HIGH_RISK" and event.agencies == ("REG",)
    assert (event.district_code, event.industry) == ("110102", "餐饮业")
    assert event.at.tzinfo is dt.UTC


def test_sqlite_file_without_change_times_is_one_warning_change(sources: Sources) -> None:
    def insert() -> None:
        with sqlite3.connect(sources.folder / "tax.db") as db:
            db.execute(f"INSERT INTO anomaly VALUES ({', '.join('?' * 7)})",
                       tuple(_anomaly("TAX-1", GAMMA, "LOW").values()))

    event = _one_change(sources, insert)  # within 2 s, not within cache_ttl_s (60 s)
    assert isinstance(event, WarningChanged)
    assert (event.credit_code, event.from_level, event.to_level) == (GAMMA, "YELLOW", "RED")
    assert event.agencies == ("COURT", "TAX")


def test_rewritten_csv_file_is_one_warning_change(sources: Sources) -> None:
    path = sources.folder / "epb" / "anomaly.csv"

    def rewrite() -> None:
        write_csv(path, [_anomaly("EPB-1", BETA, "LOW"), _anomaly("EPB-2", ACME, "LOW")])
        stamp = os.stat(path)
        os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))

    event = _one_change(sources, rewrite)
    assert isinstance(event, WarningChanged)
    # ACME's own registry anomaly and now the EPB's: two agencies, red
    assert (event.credit_code, event.from_level, event.to_level) == (ACME, "YELLOW", "RED")
    assert event.agencies == ("EPB", "REG") and "CROSS_AGENCY" in event.reasons


def test_http_agency_since_is_one_warning_change(sources: Sources) -> None:
    row = {**_anomaly("COURT-1", GAMMA, "HIGH"), "person_id": "", "court": "西城法院",
           "case_no": "(2026)京0102执1号", "obligation": "支付货款", "performance": "未履行"}
    event = _one_change(sources, lambda: sources.court.state.write("judgment_default", row))
    assert isinstance(event, WarningChanged)
    assert (event.credit_code, event.from_level, event.to_level) == (GAMMA, "YELLOW", "ORANGE")


def test_http_agency_without_since_is_compared_whole(sources: Sources) -> None:
    sources.court.state.control.answers_since = False
    row = {**_anomaly("COURT-2", BETA, "HIGH"), "person_id": "", "court": "西城法院",
           "case_no": "(2026)京0102执2号", "obligation": "支付工资", "performance": "未履行"}
    event = _one_change(sources, lambda: sources.court.state.write("judgment_default", row))
    assert isinstance(event, WarningChanged)
    assert (event.credit_code, event.from_level, event.to_level) == (BETA, "YELLOW", "RED")


def test_new_registry_row_is_one_registration(sources: Sources) -> None:
    event = _one_change(sources, lambda: sources.sql(
        f"INSERT INTO enterprise VALUES ({', '.join('?' * 12)})",
        *_enterprise(NEW, "北京丁食品有限公司", "P9"), "2026-12-01T09:30:00.000000"))
    assert event == Registered(NEW, "北京丁食品有限公司", "110102", "餐饮业", "餐饮服务",
                               dt.date(2019, 3, 1), event.at)


def test_a_change_that_keeps_the_level_tells_nothing(sources: Sources) -> None:
    runtime = _runtime(sources.config)
    with _events_of(runtime, POLL) as (service, subscription, loop):
        async def run() -> None:
            await _ready(service)
            sources.sql("INSERT INTO anomaly VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        *_anomaly("REG-2", ACME, "MEDIUM").values(),
                        "2026-12-01T10:00:00.000000")  # still yellow
            await _nothing_more(subscription, 1.0)

        loop.run_until_complete(run())


def test_changes_patch_the_risk_records_without_reading_whole(sources: Sources) -> None:
    runtime = _runtime(sources.config)
    with _events_of(runtime, POLL) as (service, subscription, loop):
        async def run() -> None:
            await _ready(service)
            registry = runtime.sources.registry
            scans_before = registry.calls["scan:anomaly"]
            sources.sql("UPDATE anomaly SET risk_level = 'HIGH', "
                        "updated_at = '2026-12-01T09:00:00.000000' WHERE record_id = 'REG-1'")
            await _next(subscription, 2.0)
            assert runtime.registry_risk is not None
            snapshot = await runtime.index.snapshot()
            ages: dict[str, float] = {}
            risk = await runtime.registry_risk.records(
                snapshot, ages, {}, riskless_counted(runtime.rules))
            [record] = [r for r in risk.by_code[ACME] if r.record_id == "REG-1"]
            assert record.risk_level is not None and record.risk_level.value == "HIGH"
            assert registry.calls["scan:anomaly"] == scans_before == 0  # not read whole
            assert registry.calls["changes:anomaly"] >= 2

        loop.run_until_complete(run())


def test_leaving_the_feed_off_makes_no_poll(sources: Sources) -> None:
    runtime = _runtime(sources.config)
    with _events_of(runtime, ChangeSettings()) as (service, _, loop):
        loop.run_until_complete(asyncio.sleep(0.3))
        assert service.feed is None
        assert not any(k.startswith("changes:") for k in runtime.sources.registry.calls)


def test_a_new_overlay_version_computes_every_level_again(sources: Sources) -> None:
    """A platform decision (an objection upheld, a repair: the record overlay) changes a
    level without any source changing."""
    runtime = _runtime(sources.config)
    assert runtime.registry_risk is not None
    withdrawn: list[str] = []

    def amend(risk: RiskRecords) -> RiskRecords:
        kept = {code: records for code, records in risk.by_code.items()
                if code not in withdrawn}
        return RiskRecords(kept, risk.by_person, risk.failed, risk.version)

    feed = ChangeFeed(runtime.sources, runtime.registry_risk, lambda: runtime.rules,
                      today=lambda: TODAY, amend=amend, amended=lambda: len(withdrawn))

    async def run() -> None:
        assert await feed.poll() == []  # the first poll tells nothing
        assert await feed.poll() == []
        withdrawn.append(ACME)
        [event] = await feed.poll()
        assert isinstance(event, WarningChanged)
        assert (event.credit_code, event.from_level, event.to_level, event.reasons) == (
            ACME, "YELLOW", "NONE", ())
        assert await feed.poll() == []
        await runtime.aclose()

    asyncio.run(run())


def test_a_new_leader_tells_what_changed_while_nobody_led(
        sources: Sources, private_redis: RedisServer) -> None:
    """The cluster's memory (gateway.feed_memory): a replica that becomes leader tells
    what differs from what the last leader told - and, from a memory too old, nothing."""
    def feed(runtime: Runtime, memory: FeedMemory) -> ChangeFeed:
        assert runtime.registry_risk is not None
        return ChangeFeed(runtime.sources, runtime.registry_risk, lambda: runtime.rules,
                          today=lambda: TODAY, memory=memory)

    async def run() -> None:
        first, second, third = (_runtime(sources.config) for _ in range(3))
        memories = [FeedMemory(private_redis.url, max_age_s=30),
                    FeedMemory(private_redis.url, max_age_s=30),
                    FeedMemory(private_redis.url, max_age_s=30,
                               clock=lambda: time.time() + 60)]  # 60 s later
        old_leader = feed(first, memories[0])
        assert await old_leader.poll() == [] and await old_leader.poll() == []
        # the leader is gone; meanwhile a listing turns HIGH and an enterprise registers
        sources.sql("UPDATE anomaly SET risk_level = 'HIGH', "
                    "updated_at = '2026-12-01T09:00:00.000000' WHERE record_id = 'REG-1'")
        sources.sql(f"INSERT INTO enterprise VALUES ({', '.join('?' * 12)})",
                    *_enterprise(NEW, "北京丁食品有限公司", "P9"), "2026-12-01T09:30:00.000000")
        new_leader = feed(second, memories[1])
        told = await new_leader.poll()
        assert sorted((type(e).__name__, e.credit_code) for e in told) == [
            ("Registered", NEW), ("WarningChanged", ACME)]
        [changed] = [e for e in told if isinstance(e, WarningChanged)]
        assert (changed.from_level, changed.to_level) == ("YELLOW", "ORANGE")
        assert await new_leader.poll() == []  # told once
        # that leader is gone too; the cluster stays down past the memory's age
        sources.sql("UPDATE anomaly SET risk_level = 'LOW', "
                    "updated_at = '2026-12-01T10:00:00.000000' WHERE record_id = 'REG-1'")
        too_late = feed(third, memories[2])
        assert await too_late.poll() == []  # history, not news
        for runtime in (first, second, third):
            await runtime.aclose()
        for memory in memories:
            await memory.aclose()

    asyncio.run(run())
