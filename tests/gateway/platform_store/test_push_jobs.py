"""Push and claim (双告知) in the platform database: items pushed once per (enterprise,
agency) however many replicas hear the event, claimed once, escalated after their
deadline by the leader's clock - each step in the access log."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from platform_db import BACKENDS, migrated, platform_database

from gateway.events import Registered
from gateway.platform_store.store import PlatformStore
from gateway.platform_store.tables import access_log
from gateway.platform_store.writer import AccessLogWriter
from gateway.push_jobs import PushJobs
from gateway.push_store import claim_item, list_items, load_item
from schema.licensing import LicensingRules, load_licensing
from schema.pushes import CLAIMED, ESCALATED, PUSHED, PushRefused

POLICIES = Path(__file__).resolve().parents[3] / "policies"
CODE = "91110102MA0000001X"
AGENCIES = ("SAMR", "FDA", "EPB", "FIRE")
START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    """The leader's clock, moved by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def registered(code: str = CODE, scope: str = "餐饮服务；住宿服务",
               industry: str = "餐饮业") -> Registered:
    return Registered(code, "北京甲餐饮有限公司", "110102", industry, scope,
                      dt.date(2026, 11, 30), START)


def rules() -> LicensingRules:
    return load_licensing(POLICIES)


async def logged(store: PlatformStore) -> list[tuple[str, str, str]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(access_log.c.operation, access_log.c.agency,
                                            access_log.c.credit_codes).order_by(access_log.c.id))
        return [(op, agency, json.loads(codes)[0]) for op, agency, codes in rows]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_registration_is_pushed_to_each_agency_claimed_once_and_escalated_when_due(
        backend: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with platform_database(backend, tmp_path) as settings, \
                migrated(settings) as store:
            writer = AccessLogWriter(store, flush_interval_s=0.01)
            await writer.start()
            clock = Clock(START)
            jobs = PushJobs(store, rules, AGENCIES, log=writer, leads=lambda: True,
                            clock=clock)
            created = await jobs.push(registered())
            assert [(r.agency, r.status, r.licences) for r in created] == [
                ("FDA", PUSHED, ("食品经营许可 (food business)",)),
                ("FIRE", PUSHED, ("公众聚集场所投入使用、营业前消防安全检查 (fire safety, "
                                  "public venues)",))]
            assert all(r.due_at == START + dt.timedelta(days=5) for r in created)
            fda, fire = created
            # a department claims FDA's item; a second claim is refused, nothing changes
            clock.now = START + dt.timedelta(days=1)
            claimed = await claim_item(store, fda.id, "fda-clerk", clock.now)
            assert (claimed.status, claimed.claimed_by, claimed.claimed_at) == (
                CLAIMED, "fda-clerk", clock.now)
            with pytest.raises(PushRefused) as refused:
                await claim_item(store, fda.id, "fda-other", clock.now)
            assert refused.value.code == "PUSH_ALREADY_CLAIMED"
            assert "fda-clerk" in str(refused.value)
            # nothing is due before the deadline ...
            clock.now = START + dt.timedelta(days=5) - dt.timedelta(seconds=1)
            assert await jobs.escalate() == []
            # ... at it, the unclaimed FIRE item escalates; the claimed one does not
            clock.now = START + dt.timedelta(days=5)
            escalated = await jobs.escalate()
            assert [(r.id, r.status, r.escalated_at) for r in escalated] == [
                (fire.id, ESCALATED, clock.now)]
            assert await jobs.escalate() == []  # once
            assert [r.id for r in await list_items(store, "FIRE", None, True, 10)] == [fire.id]
            assert await list_items(store, "FDA", None, True, 10) == []
            # the supervisor may still claim it; it keeps when it escalated
            late = await claim_item(store, fire.id, "fire-supervisor", clock.now)
            assert (late.status, late.escalated_at) == (CLAIMED, clock.now)
            await writer.aclose()
            assert await logged(store) == [("push create", "FDA", CODE),
                                           ("push create", "FIRE", CODE),
                                           ("push escalate", "FIRE", CODE)]
    asyncio.run(scenario())


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_replicas_hearing_the_same_event_push_one_item_per_agency(
        backend: str, tmp_path: Path) -> None:
    """Both believe they lead (a moment of overlap while leadership moves): the unique
    key keeps one item per (enterprise, agency), and one 'push create' entry each."""
    async def scenario() -> None:
        async with platform_database(backend, tmp_path) as settings, \
                migrated(settings) as first, migrated(settings) as second:
            writers = [AccessLogWriter(s, flush_interval_s=0.01) for s in (first, second)]
            for writer in writers:
                await writer.start()
            replicas = [PushJobs(s, rules, AGENCIES, log=w, leads=lambda: True)
                        for s, w in zip((first, second), writers, strict=True)]
            event = registered()
            for _ in range(3):  # heard three times by each: still one item each
                results = await asyncio.gather(*(r.push(event) for r in replicas))
            assert sum(len(result) for result in results) == 0  # the last round added none
            items = await list_items(first, None, None, False, 10)
            assert sorted((r.credit_code, r.agency) for r in items) == [
                (CODE, "FDA"), (CODE, "FIRE")]
            for writer in writers:
                await writer.aclose()
            assert sorted(await logged(first)) == [("push create", "FDA", CODE),
                                                   ("push create", "FIRE", CODE)]
    asyncio.run(scenario())


def test_only_the_leader_pushes_what_it_hears_and_agencies_not_configured_get_nothing(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        async with platform_database("sqlite", tmp_path) as settings, \
                migrated(settings) as store:
            leading = False
            jobs = PushJobs(store, rules, ("FDA",), log=None, leads=lambda: leading)
            jobs.heard(registered())
            await jobs.drain()
            assert await list_items(store, None, None, False, 10) == []
            assert await jobs.escalate() == []
            leading = True
            jobs.heard(registered())
            await jobs.drain()
            # FIRE's licence is needed too, but FIRE is not an agency of this gateway
            items = await list_items(store, None, None, False, 10)
            assert [(r.agency, r.status) for r in items] == [("FDA", PUSHED)]
            # a scope needing no licence pushes nothing
            quiet = registered("91110102MA0000002X", "软件开发", "软件和信息技术服务业")
            assert await jobs.push(quiet) == []
            assert await load_item(store, items[0].id) == items[0]
    asyncio.run(scenario())
