"""Double-random inspections in the platform database (双随机一公开): the imported
roster, plans, their draws and the results recorded (tables in
``gateway.platform_store.tables``, created by migration 4).

Plain async functions of a ``PlatformStore``; each write is one transaction. A plan
is drawn once: its draws are numbered (``seq`` 1, then one more per redraw, which
needs a reason), the highest is in force, and a unique ``(plan_id, seq)`` makes two
concurrent draws of one plan end with one draw and one ``DrawConflict``. The stored
draw keeps its canonical inputs (``schema.inspection_draw.canonical_inputs``), so
``gateway draw verify`` can make it again and compare.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.inspector_settings import RosterEntry
from gateway.platform_store.store import PlatformStore
from gateway.platform_store.tables import (
    inspection_draws,
    inspection_plans,
    inspection_results,
    inspectors,
)
from schema.inspection_port import (
    DRAFT,
    DRAWN,
    PUBLISHED,
    NewPlan,
    NewResult,
    Plan,
    PlanDraw,
    RecordedResult,
)
from schema.inspection_types import Inspector

__all__ = ["DrawConflict", "add_result", "create_plan", "draws", "import_roster",
           "latest_draw", "load_plan", "load_plans", "publish", "remove_result", "results",
           "save_draw", "stored_roster"]


class DrawConflict(Exception):
    """The plan changed meanwhile (another draw, a publication): nothing was saved."""


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plan(row: sa.Row[Any]) -> Plan:
    return Plan(int(row.id), row.name, row.agency, tuple(json.loads(row.agencies)),
                int(row._mapping["count"]), dict(json.loads(row.filter)),
                tuple(json.loads(row.items)), int(row.inspectors_per_visit), row.status,
                row.created_at, row.created_by, row.published_at)


def _draw(row: sa.Row[Any]) -> PlanDraw:
    stored = json.loads(row.items)  # [credit code, [inspector ids], on the special list]
    items = tuple((str(code), tuple(str(i) for i in ids)) for code, ids, _ in stored)
    mandatory = frozenset(str(code) for code, _, special in stored if special)
    team = {key: Inspector(key, value["name"], value["agency"], value["unit"],
                           frozenset(value["avoid"]))
            for key, value in json.loads(row.team).items()}
    return PlanDraw(int(row.plan_id), int(row.seq), row.seed, row.drawn_at, row.drawn_by,
                    row.reason, row.inputs.encode("utf-8"), items, row.digest,
                    row.inputs_digest, team, mandatory)


# -- the roster ----------------------------------------------------------------------

async def import_roster(store: PlatformStore, entries: Sequence[RosterEntry], *,
                        principal: str) -> tuple[int, int]:
    """Add or replace (by id) ``entries`` in one transaction; (added, replaced)."""
    now = dt.datetime.now(dt.UTC)
    async with store.transaction() as conn:
        ids = [e.id for e in entries]
        known = set((await conn.execute(
            sa.select(inspectors.c.id).where(inspectors.c.id.in_(ids)))).scalars())
        if known:
            await conn.execute(inspectors.delete().where(inspectors.c.id.in_(known)))
        if entries:
            await conn.execute(inspectors.insert(), [
                {"id": e.id, "name": e.name, "agency": e.agency, "unit": e.unit,
                 "avoid": _json(list(e.avoid)), "imported_by": principal, "imported_at": now}
                for e in entries])
    return len(entries) - len(known), len(known)


async def stored_roster(store: PlatformStore) -> list[RosterEntry]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(inspectors).order_by(inspectors.c.id))
        return [RosterEntry(r.id, r.name, r.agency, r.unit, tuple(json.loads(r.avoid)))
                for r in rows]


# -- plans ---------------------------------------------------------------------------

async def create_plan(store: PlatformStore, plan: NewPlan, *, principal: str,
                      at: dt.datetime) -> Plan:
    async with store.transaction() as conn:
        result = await conn.execute(inspection_plans.insert().values(
            name=plan.name, agency=plan.agency, agencies=_json(list(plan.agencies)),
            filter=_json(dict(plan.filter)), items=_json(list(plan.items)), count=plan.count,
            inspectors_per_visit=plan.inspectors_per_visit, status=DRAFT, created_at=at,
            created_by=principal))
        key = result.inserted_primary_key
        assert key is not None
        row = (await conn.execute(sa.select(inspection_plans)
                                  .where(inspection_plans.c.id == key[0]))).one()
    return _plan(row)


async def load_plan(store: PlatformStore, plan_id: int) -> Plan | None:
    async with store.engine.connect() as conn:
        row = (await conn.execute(sa.select(inspection_plans)
                                  .where(inspection_plans.c.id == plan_id))).one_or_none()
    return None if row is None else _plan(row)


async def load_plans(store: PlatformStore, *, statuses: Sequence[str] | None = None,
                     agency: str | None = None, published_or_agency: str | None = None,
                     after_id: int | None = None, first: int = 50) -> list[Plan]:
    """Plans by id, newest first: with ``statuses`` only those; with ``agency`` only
    plans that agency takes part in; with ``published_or_agency`` only published plans
    and those that agency takes part in (a department's view)."""
    query = sa.select(inspection_plans).order_by(inspection_plans.c.id.desc())
    if statuses is not None:
        query = query.where(inspection_plans.c.status.in_(list(statuses)))
    if after_id is not None:
        query = query.where(inspection_plans.c.id < after_id)
    async with store.engine.connect() as conn:
        rows = [_plan(r) for r in await conn.execute(query)]
    # agencies are a JSON list: filtered here (plans are few: tens a year per agency)
    if agency is not None:
        rows = [r for r in rows if agency in r.agencies]
    if published_or_agency is not None:
        rows = [r for r in rows if r.status == PUBLISHED or published_or_agency in r.agencies]
    return rows[:first]


async def publish(store: PlatformStore, plan_id: int, *, principal: str,
                  at: dt.datetime) -> None:
    """Mark a drawn plan published; ``DrawConflict`` when it is not drawn (any more)."""
    async with store.transaction() as conn:
        result = await conn.execute(
            inspection_plans.update()
            .where(inspection_plans.c.id == plan_id, inspection_plans.c.status == DRAWN)
            .values(status=PUBLISHED, published_at=at, published_by=principal))
        if result.rowcount != 1:
            raise DrawConflict(f"plan {plan_id} is not drawn or already published")


# -- draws ---------------------------------------------------------------------------

async def save_draw(store: PlatformStore, draw: PlanDraw) -> None:
    """Keep ``draw`` as the plan's draw in force and mark the plan DRAWN, provided its
    ``seq`` is the next one and the plan is not published; ``DrawConflict`` if not.

    The row is inserted first: the unique ``(plan_id, seq)`` decides between two
    processes drawing at once (on SQLite the first write takes the write lock, so the
    other waits instead of failing to upgrade a read lock)."""
    try:
        async with store.transaction() as conn:
            await conn.execute(inspection_draws.insert().values(
                plan_id=draw.plan_id, seq=draw.seq, seed=draw.seed, drawn_at=draw.drawn_at,
                drawn_by=draw.drawn_by, reason=draw.reason,
                inputs=draw.inputs.decode("utf-8"),
                items=_json([[code, list(team), code in draw.mandatory]
                             for code, team in draw.items]),
                team=_json({key: {"name": i.name, "agency": i.agency, "unit": i.unit,
                                  "avoid": sorted(i.avoid)} for key, i in draw.team.items()}),
                digest=draw.digest, inputs_digest=draw.inputs_digest))
            before = (await conn.execute(
                sa.select(sa.func.max(inspection_draws.c.seq))
                .where(inspection_draws.c.plan_id == draw.plan_id,
                       inspection_draws.c.seq < draw.seq))).scalar()
            if (before or 0) + 1 != draw.seq:
                raise DrawConflict(f"plan {draw.plan_id} has no draw {draw.seq - 1} to "
                                   f"draw again")
            updated = await conn.execute(
                inspection_plans.update()
                .where(inspection_plans.c.id == draw.plan_id,
                       inspection_plans.c.status != PUBLISHED)
                .values(status=DRAWN))
            if updated.rowcount != 1:
                raise DrawConflict(f"plan {draw.plan_id} was published meanwhile")
    except IntegrityError:  # the same seq inserted by another process first
        raise DrawConflict(f"plan {draw.plan_id} was drawn meanwhile") from None


async def draws(store: PlatformStore, plan_id: int) -> list[PlanDraw]:
    """Every draw of the plan, the first first (the last is in force)."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(inspection_draws)
                                  .where(inspection_draws.c.plan_id == plan_id)
                                  .order_by(inspection_draws.c.seq))
        return [_draw(r) for r in rows]


async def latest_draw(store: PlatformStore, plan_id: int) -> PlanDraw | None:
    async with store.engine.connect() as conn:
        row = (await conn.execute(sa.select(inspection_draws)
                                  .where(inspection_draws.c.plan_id == plan_id)
                                  .order_by(inspection_draws.c.seq.desc())
                                  .limit(1))).one_or_none()
    return None if row is None else _draw(row)


# -- results -------------------------------------------------------------------------

async def add_result(store: PlatformStore, recorded: RecordedResult) -> bool:
    """Keep a visit's result; False when that agency already recorded one for the
    enterprise in this plan (nothing changed)."""
    result = recorded.result
    try:
        async with store.transaction() as conn:
            await conn.execute(inspection_results.insert().values(
                plan_id=result.plan_id, credit_code=result.credit_code, agency=result.agency,
                record_id=recorded.record_id, result_code=result.result_code,
                result=result.result, openness=result.openness,
                risk_level=result.risk_level, inspected_on=result.inspected_on,
                recorded_at=recorded.recorded_at, recorded_by=recorded.recorded_by))
    except IntegrityError:
        return False
    return True


async def remove_result(store: PlatformStore, plan_id: int, credit_code: str,
                        agency: str) -> None:
    """Take back a result whose record could not be added (see the port)."""
    async with store.transaction() as conn:
        await conn.execute(inspection_results.delete().where(
            inspection_results.c.plan_id == plan_id,
            inspection_results.c.credit_code == credit_code,
            inspection_results.c.agency == agency))


async def results(store: PlatformStore, plan_id: int) -> list[RecordedResult]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(inspection_results)
                                  .where(inspection_results.c.plan_id == plan_id)
                                  .order_by(inspection_results.c.credit_code,
                                            inspection_results.c.agency))
        return [RecordedResult(
            NewResult(int(r.plan_id), r.credit_code, r.agency, r.result_code, r.result,
                      r.openness, r.risk_level, r.inspected_on),
            r.record_id, r.recorded_at, r.recorded_by) for r in rows]
