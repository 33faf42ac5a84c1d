"""Double-random inspections over the platform database: ``Inspections`` (one per
running gateway) and the ``schema.inspection_port.InspectionPort`` it makes for each
caller's request (``for_caller``).

The port makes the draw with the pure engine (``schema.inspection_draw``): the roster
in force (the configuration's ``inspectors:`` and the rows ``gateway inspectors
import`` loaded), the weights of ``policies/inspections.yaml`` and the candidates the
graph computed; it keeps the draw with its canonical inputs, so ``gateway draw verify``
can make it again. A result becomes an ``inspection`` record of the agency through the
record overlay (``gateway.overlay_store.OverlayStore.add_record``). Every step is an
access-log entry of its own - operation ``inspection draw`` and so on, principal,
role, agency and purpose of the caller, the enterprises concerned, and what it decided
(seed, digest, reason) in ``decisions`` - beside the entry of the GraphQL request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from connectors.records import Record
from connectors.standard import Openness, RiskLevel
from gateway.callers import Caller
from gateway.inspection_store import (
    DrawConflict,
    add_result,
    create_plan,
    latest_draw,
    load_plan,
    load_plans,
    publish,
    remove_result,
    results,
    save_draw,
    stored_roster,
)
from gateway.inspector_settings import RosterEntry
from gateway.platform_store.entry import AccessEntry, text_hash
from gateway.platform_store.store import PlatformStore, describe_error
from gateway.platform_store.writer import AccessLogWriter
from schema.inspection_draw import DrawError, draw_with_inputs
from schema.inspection_port import (
    InspectionRefused,
    NewPlan,
    NewResult,
    Plan,
    PlanDraw,
    RecordedResult,
    Step,
)
from schema.inspection_types import Candidate, DrawPlan, Inspector
from schema.rules.inspections import DrawWeights

__all__ = ["Inspections", "RecordAdder", "inspector_of", "merged_roster", "result_record"]


@contextmanager
def _reachable() -> Iterator[None]:
    """The platform database away (a driver error, a lock not granted) as the caller's
    INSPECTIONS_UNAVAILABLE, never a masked internal error."""
    try:
        yield
    except (SQLAlchemyError, OSError) as error:
        raise InspectionRefused(
            "INSPECTIONS_UNAVAILABLE", f"The platform database cannot be used now "
            f"({describe_error(error)}); retry later.") from None


class RecordAdder(Protocol):
    """Where a result's inspection record goes (``gateway.overlay_store.OverlayStore``)."""

    async def add_record(self, record: Record, *, principal: str | None,
                         reason: str) -> None: ...


def inspector_of(entry: RosterEntry) -> Inspector:
    return Inspector(entry.id, entry.name, entry.agency, entry.unit, frozenset(entry.avoid))


def merged_roster(configured: Sequence[RosterEntry],
                  stored: Sequence[RosterEntry]) -> list[Inspector]:
    """The roster in force: the configuration's entries and the imported rows (the
    import refuses an id the configuration has; should both hold one, the
    configuration's wins)."""
    ids = {e.id for e in configured}
    return [inspector_of(e) for e in (*configured, *(e for e in stored if e.id not in ids))]


def result_record(recorded: RecordedResult) -> Record:
    """The inspection record a result becomes (collection standard ``inspection``)."""
    result = recorded.result
    return Record(
        record_type="inspection", agency=result.agency, record_id=recorded.record_id,
        credit_code=result.credit_code, openness=Openness(result.openness),
        risk_level=None if result.risk_level is None else RiskLevel(result.risk_level),
        values={"plan_id": f"PLATFORM-{result.plan_id}", "inspected_on": result.inspected_on,
                "result_code": result.result_code, "result": result.result})


class Inspections:
    """What the gateway keeps for inspections; ``for_caller`` makes a request's port."""

    def __init__(self, store: PlatformStore, roster: Sequence[RosterEntry],
                 weights: Callable[[], DrawWeights], *, log: AccessLogWriter | None,
                 records: RecordAdder | None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.store = store
        self.configured = tuple(roster)
        self.weights = weights
        self.log = log
        self.records = records
        self.clock = clock

    async def roster(self) -> list[Inspector]:
        return merged_roster(self.configured, await stored_roster(self.store))

    def for_caller(self, caller: Caller, client: str, request_id: str) -> CallerInspections:
        return CallerInspections(self, caller, client, request_id)


class CallerInspections:
    """``InspectionPort`` for one caller's request."""

    def __init__(self, service: Inspections, caller: Caller, client: str,
                 request_id: str) -> None:
        self._service = service
        self._store = service.store
        self._caller = caller
        self._client = client
        self._request_id = request_id
        self._principal = caller.principal or ""

    async def create_plan(self, plan: NewPlan) -> Plan:
        with _reachable():
            return await create_plan(self._store, plan, principal=self._principal,
                                     at=self._service.clock())

    async def plan(self, plan_id: int) -> Plan | None:
        with _reachable():
            return await load_plan(self._store, plan_id)

    async def plans(self, *, statuses: Sequence[str] | None, agency: str | None,
                    published_or_agency: str | None, after_id: int | None,
                    first: int) -> list[Plan]:
        with _reachable():
            return await load_plans(self._store, statuses=statuses, agency=agency,
                                    published_or_agency=published_or_agency,
                                    after_id=after_id, first=first)

    async def draw(self, plan: Plan, seed: str, reason: str,
                   candidates: Sequence[Candidate]) -> PlanDraw:
        with _reachable():
            roster = await self._service.roster()
            previous = await latest_draw(self._store, plan.id)
        weights = self._service.weights()
        drawn_at = self._service.clock()
        spec = DrawPlan(str(plan.id), plan.agencies, plan.count, plan.inspectors_per_visit)

        def make() -> PlanDraw:
            made, inputs = draw_with_inputs(spec, seed, candidates, roster, weights)
            sent = {i for item in made.items for i in item.inspectors}
            return PlanDraw(
                plan.id, 1 if previous is None else previous.seq + 1, seed, drawn_at,
                self._principal, reason, inputs,
                tuple((item.credit_code, item.inspectors) for item in made.items),
                made.digest, made.inputs_digest,
                {i.id: i for i in roster if i.id in sent},
                frozenset(item.credit_code for item in made.items if item.mandatory))

        try:  # CPU-bound over a large registry: off the event loop
            kept = await asyncio.to_thread(make)
        except DrawError as error:
            raise InspectionRefused("DRAW_FAILED", f"Plan {plan.id} cannot be drawn: {error}. "
                                    "Nothing was drawn.") from None
        try:
            with _reachable():
                await save_draw(self._store, kept)
        except DrawConflict as error:
            raise InspectionRefused("PLAN_CHANGED", f"{error}; nothing was saved: read the "
                                    "plan again.") from None
        return kept

    async def latest_draw(self, plan_id: int) -> PlanDraw | None:
        with _reachable():
            return await latest_draw(self._store, plan_id)

    async def publish(self, plan: Plan) -> Plan:
        try:
            with _reachable():
                await publish(self._store, plan.id, principal=self._principal,
                              at=self._service.clock())
                published = await load_plan(self._store, plan.id)
        except DrawConflict as error:
            raise InspectionRefused("PLAN_CHANGED", f"{error}: read the plan again.") from None
        assert published is not None  # plans are never deleted
        return published

    async def record_result(self, result: NewResult) -> RecordedResult:
        with _reachable():
            return await self._record(result)

    async def _record(self, result: NewResult) -> RecordedResult:
        adder = self._service.records
        if adder is None:
            raise InspectionRefused("INSPECTIONS_UNAVAILABLE", "This gateway keeps no record "
                                    "overlay, so results cannot be recorded.")
        recorded = RecordedResult(result, f"PLATFORM-{result.plan_id}-{result.credit_code}",
                                  self._service.clock(), self._principal)
        if not await add_result(self._store, recorded):
            raise InspectionRefused(
                "RESULT_EXISTS", f"{result.agency} recorded the result of "
                f"{result.credit_code} in plan {result.plan_id} already; nothing changed.")
        try:
            await adder.add_record(result_record(recorded), principal=self._principal,
                                   reason=f"inspection plan {result.plan_id}: result "
                                          f"{result.result_code}")
        except Exception as error:  # not in the graph: then the result is not kept
            await remove_result(self._store, result.plan_id, result.credit_code,
                                result.agency)
            if isinstance(error, ValueError):  # the overlay's RecordRefused
                raise InspectionRefused("RESULT_REFUSED", f"The result cannot be recorded: "
                                        f"{error}.") from None
            raise
        return recorded

    async def results(self, plan_id: int) -> list[RecordedResult]:
        with _reachable():
            return await results(self._store, plan_id)

    def note(self, step: Step) -> None:
        log = self._service.log
        if log is None:
            return
        clearance = self._caller.clearance
        details: Mapping[str, str] = step.details or {}
        decision = {"planId": "" if step.plan_id is None else str(step.plan_id), **details}
        log.record(AccessEntry(
            at=self._service.clock(), principal=self._principal, role=clearance.role,
            agency=clearance.agency, purpose=clearance.purpose, client=self._client,
            request_id=self._request_id, operation=step.operation,
            query_hash=text_hash(json.dumps(decision, sort_keys=True, ensure_ascii=False)),
            variables_hash="", credit_codes=tuple(step.credit_codes), decisions=(decision,),
            outcome="refused" if step.refusal_code else "ok", refusal_code=step.refusal_code,
            latency_ms=0.0))

