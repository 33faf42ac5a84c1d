"""Inspection plans, draws, results and the imported roster in the platform database
(``gateway.inspection_store``) on SQLite and PostgreSQL: kept as given, a draw kept
once per number, none after publication, one result per visit and agency."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from platform_db import BACKENDS, START, platform_database

from gateway.inspection_store import (
    DrawConflict,
    add_result,
    create_plan,
    draws,
    import_roster,
    latest_draw,
    load_plan,
    load_plans,
    publish,
    results,
    save_draw,
    stored_roster,
)
from gateway.inspector_settings import RosterEntry
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.store import PlatformStore, open_store
from schema.inspection_port import NewPlan, NewResult, PlanDraw, RecordedResult
from schema.inspection_types import Inspector

CODE = "91110102MA0000001N"
SPEC = NewPlan("餐饮抽查", "SAMR", ("SAMR", "FDA"), 5, {"industry": "餐饮业"},
               ("食品安全",), 2)
R1 = Inspector("R1", "王磊", "SAMR", "东城所", frozenset({CODE}))


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PlatformStore]:
    settings: PlatformSettings
    async with platform_database(request.param, tmp_path) as settings:
        opened = open_store(settings)
        await opened.migrate()
        try:
            yield opened
        finally:
            await opened.aclose()


def a_draw(plan_id: int, seq: int, seed: str = "s") -> PlanDraw:
    return PlanDraw(plan_id, seq, seed, START + dt.timedelta(minutes=seq), "dept", "",
                    b'{"format":"x"}', ((CODE, ("R1", "R2")),), "d" * 64, "i" * 64,
                    {"R1": R1})


async def test_a_plan_and_its_draws_are_kept_and_a_draw_once_per_number(
    store: PlatformStore,
) -> None:
    plan = await create_plan(store, SPEC, principal="dept", at=START)
    assert (plan.name, plan.agency, plan.agencies, plan.count, plan.filter, plan.items,
            plan.inspectors_per_visit, plan.status, plan.created_at) == (
        "餐饮抽查", "SAMR", ("SAMR", "FDA"), 5, {"industry": "餐饮业"}, ("食品安全",), 2,
        "DRAFT", START)
    assert await load_plan(store, plan.id) == plan
    assert await latest_draw(store, plan.id) is None
    await save_draw(store, a_draw(plan.id, 1))
    with pytest.raises(DrawConflict):
        await save_draw(store, a_draw(plan.id, 1, "other"))  # drawn meanwhile
    with pytest.raises(DrawConflict):
        await save_draw(store, a_draw(plan.id, 3))  # not the next number
    await save_draw(store, a_draw(plan.id, 2, "again"))
    assert [d.seed for d in await draws(store, plan.id)] == ["s", "again"]
    latest = await latest_draw(store, plan.id)
    assert latest == a_draw(plan.id, 2, "again")
    assert (await load_plan(store, plan.id)).status == "DRAWN"  # type: ignore[union-attr]
    await publish(store, plan.id, principal="dept", at=START)
    with pytest.raises(DrawConflict):
        await publish(store, plan.id, principal="dept", at=START)
    with pytest.raises(DrawConflict):  # a published plan is not drawn again
        await save_draw(store, a_draw(plan.id, 3))
    assert len(await draws(store, plan.id)) == 2


async def test_plans_are_listed_for_whoever_may_see_them(store: PlatformStore) -> None:
    first = await create_plan(store, SPEC, principal="a", at=START)
    other = await create_plan(store, NewPlan("环保抽查", "EPB", ("EPB",), 1, {}, (), 1),
                              principal="b", at=START)
    await save_draw(store, a_draw(other.id, 1))
    await publish(store, other.id, principal="b", at=START)
    assert [p.id for p in await load_plans(store)] == [other.id, first.id]
    assert [p.id for p in await load_plans(store, agency="FDA")] == [first.id]
    assert [p.id for p in await load_plans(store, statuses=["PUBLISHED"])] == [other.id]
    assert [p.id for p in await load_plans(store, published_or_agency="TAX")] == [other.id]
    assert [p.id for p in await load_plans(store, published_or_agency="FDA")] == [
        other.id, first.id]
    assert [p.id for p in await load_plans(store, after_id=other.id)] == [first.id]
    assert [p.id for p in await load_plans(store, first=1)] == [other.id]


async def test_one_result_per_visit_and_agency(store: PlatformStore) -> None:
    plan = await create_plan(store, SPEC, principal="a", at=START)
    result = NewResult(plan.id, CODE, "SAMR", "02", "未按规定公示", "OPEN", "LOW",
                       dt.date(2026, 12, 1))
    recorded = RecordedResult(result, f"PLATFORM-{plan.id}-{CODE}", START, "dept")
    assert await add_result(store, recorded)
    assert not await add_result(store, recorded)
    fda = RecordedResult(NewResult(plan.id, CODE, "FDA", "01", "未发现问题", "CONDITIONAL",
                                   None, dt.date(2026, 12, 1)), "FDA-x", START, "fda")
    assert await add_result(store, fda)
    assert await results(store, plan.id) == [fda, recorded]


async def test_an_import_adds_and_replaces_inspectors_by_id(store: PlatformStore) -> None:
    one = RosterEntry("R1", "王磊", "SAMR", "东城所", (CODE,))
    assert await import_roster(store, [one, RosterEntry("R2", "李娜", "SAMR", "朝阳所")],
                               principal="cli:x") == (2, 0)
    moved = RosterEntry("R1", "王磊", "SAMR", "海淀所")
    assert await import_roster(store, [moved], principal="cli:x") == (0, 1)
    assert [(e.id, e.unit, e.avoid) for e in await stored_roster(store)] == [
        ("R1", "海淀所", ()), ("R2", "朝阳所", ())]


async def test_two_gateways_drawing_one_plan_at_once_keep_one_draw(
    store: PlatformStore,
) -> None:
    plan = await create_plan(store, SPEC, principal="a", at=START)
    second = open_store(store.settings)
    try:
        outcomes = await asyncio.gather(save_draw(store, a_draw(plan.id, 1, "a")),
                                        save_draw(second, a_draw(plan.id, 1, "b")),
                                        return_exceptions=True)
    finally:
        await second.aclose()
    assert sorted(type(o).__name__ for o in outcomes) == ["DrawConflict", "NoneType"]
    assert len(await draws(store, plan.id)) == 1
