"""The GraphQL types of double-random inspections (双随机一公开) and who sees what of them.

Who sees a plan: its agencies' departments, admins and auditors (the plan's
*participants*) see it in every status, with the inspectors of its draw and the
results recorded; everyone else - the public, approval systems, other agencies -
sees it only once it is published (``publishInspectionPlan``), and then the plan and
the enterprises drawn that it may see in the registry (a hidden one is absent, as
from any list), never the inspectors nor the results (a result is an inspection
record in the graph, read there under its owner's openness label). The
public schema has no ``inspectors`` and no ``results`` field at all
(``PUBLIC_WITHOUT``); in the full schema they are null for whoever is not a
participant.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
from collections.abc import Collection, Mapping, Sequence
from typing import TypeVar

import strawberry

from connectors.errors import SourceError
from schema.access import Clearance
from schema.context import RequestContext
from schema.enums import EnterpriseStatus, Openness, RiskLevel
from schema.inspection_errors import refusals
from schema.inspection_port import PUBLISHED, Plan, PlanDraw, RecordedResult
from schema.page import load_enterprise, prefetch_page
from schema.redaction import selected_names
from schema.rules.model import Grade, WarningLevel
from schema.subjects import Enterprise, enterprises_from

__all__ = ["PUBLIC_WITHOUT", "InspectionDraw", "InspectionDrawItem", "InspectionPlan",
           "InspectionPlanStatus", "InspectionResult", "PlanInspector", "draw_of",
           "may_lead", "participant", "plan_of", "result_of", "seen_codes", "visible"]

Info = strawberry.Info[RequestContext, None]
_E = TypeVar("_E", bound=enum.Enum)

# What the public schema leaves out (gateway.app merges it into the fields classed
# above OPEN): the people sent, and the results recorded.
PUBLIC_WITHOUT: Mapping[str, frozenset[str]] = {
    "InspectionDrawItem": frozenset({"inspectors", "mandatory"}),
    "InspectionPlan": frozenset({"results"}),
}


def participant(clearance: Clearance, plan: Plan) -> bool:
    """Does the caller take part in (or oversee) ``plan``: see it unpublished, its
    inspectors and its results?"""
    return clearance.role in ("admin", "auditor") or (
        clearance.role == "department" and clearance.agency in plan.agencies)


def visible(clearance: Clearance, plan: Plan) -> bool:
    return plan.status == PUBLISHED or participant(clearance, plan)


def may_lead(clearance: Clearance, agency: str) -> bool:
    """May the caller create, draw and publish plans led by ``agency``?"""
    return clearance.role == "admin" or (
        clearance.role == "department" and clearance.agency == agency)


@strawberry.enum(description="Where an inspection plan stands (抽查计划状态).")
class InspectionPlanStatus(enum.Enum):
    DRAFT = "DRAFT"  # created, not drawn
    DRAWN = "DRAWN"  # drawn; known to its agencies only
    PUBLISHED = "PUBLISHED"  # published (公开): the public sees it and the enterprises drawn


@strawberry.type(description="The enterprise filter a plan draws from.")
class InspectionPlanFilter:
    name_contains: str | None = strawberry.field(description="Part of the name.")
    industry: str | None = strawberry.field(description="Industry, exactly.")
    district_code: str | None = strawberry.field(description="Division code or prefix.")
    status: EnterpriseStatus | None = strawberry.field(
        description="Registration status (ACTIVE when not given).")
    warning_level: WarningLevel | None = strawberry.field(description="Warning level.")
    credit_grade: Grade | None = strawberry.field(description="Credit grade.")


@strawberry.type(description="An inspector (执法检查人员) sent on a visit.")
class PlanInspector:
    id: strawberry.ID = strawberry.field(description="Inspector id on the roster.")
    name: str = strawberry.field(description="Name.")
    agency: str = strawberry.field(description="The agency the inspector serves.")
    unit: str = strawberry.field(description="The inspector's unit (office).")


@strawberry.type(description="One enterprise drawn, and who visits it.")
class InspectionDrawItem:
    credit_code: str = strawberry.field(description="The enterprise's credit code.")
    inspectors: list[PlanInspector] | None = strawberry.field(description=(
        "The inspectors sent (随机选派), as on the roster when drawn; null unless you "
        "take part in the plan (its agencies, admins, auditors). Never public."))
    mandatory: bool | None = strawberry.field(description=(
        "Drawn from the special list (重点监管名单: D grade, RED warning), whatever the "
        "seed; null unless you take part in the plan. Never public."))

    # the enterprise, when the draw's items were resolved together (``InspectionDraw.items``)
    node: strawberry.Private[Enterprise | None] = None
    attached: strawberry.Private[bool] = False

    @strawberry.field(description="The enterprise drawn (随机抽取), as you may see it.")
    async def enterprise(self, info: Info) -> Enterprise | None:
        if self.attached:
            return self.node
        return await load_enterprise(info, self.credit_code)


@strawberry.type(description=(
    "A plan's draw in force (抽查结果): reproducible from the plan, the seed and the "
    "registry at drawnAt; anyone holding the inputs gets the same digest."))
class InspectionDraw:
    plan_id: strawberry.ID = strawberry.field(description="The plan.")
    seed: str = strawberry.field(description="The seed the draw was made with (公开).")
    drawn_at: dt.datetime = strawberry.field(description="When it was drawn (UTC).")
    digest: str = strawberry.field(description=(
        "SHA-256 over the draw's inputs and items (gateway draw verify checks it)."))
    inputs_digest: str = strawberry.field(description="SHA-256 of the canonical inputs.")
    redraws: int = strawberry.field(description="How many times the plan was drawn again.")
    over_count: int = strawberry.field(description=(
        "Enterprises drawn beyond the plan's count: the special list alone was longer."))
    short_count: int = strawberry.field(description=(
        "Enterprises the count asked for that could not be drawn (too few candidates)."))
    reason: str | None = strawberry.field(description="Why it was drawn again (null: never).")
    drawn: strawberry.Private[list[InspectionDrawItem]]

    @strawberry.field(description="The enterprises drawn, by credit code.")
    async def items(self, info: Info) -> list[InspectionDrawItem]:
        if "enterprise" in selected_names(info):
            await _attach_enterprises(info, self.drawn)
        return self.drawn


async def _attach_enterprises(info: Info, items: Sequence[InspectionDrawItem]) -> None:
    """Every item's enterprise at once, fetched as a page of them (one call per agency,
    type and key kind) instead of one enterprise query per item: a draw of 10,000 took
    3.4 s more through the single-enterprise path. An enterprise the registry index
    does not hold, or the caller may not see, is null, as ``enterprise(creditCode:)``
    answers."""
    context = info.context
    try:
        snapshot = await context.index.snapshot(context.loaders.ages)
    except SourceError as error:
        context.failures.add(error, info.path.as_list())
        return
    records = []
    for item in items:
        at = bisect.bisect_left(snapshot.codes, item.credit_code)
        if at < len(snapshot.codes) and snapshot.codes[at] == item.credit_code:
            record = snapshot.enterprises[at]
            if context.view.sees(record):
                records.append(record)
    nodes = {node.credit_code: node
             for node in enterprises_from(info, records, under=("enterprise",))}
    await prefetch_page(info, list(nodes.values()), ("enterprise",))
    for item in items:
        item.node, item.attached = nodes.get(item.credit_code), True


@strawberry.type(description="A visit's result, kept as an inspection record (抽查结果).")
class InspectionResult:
    plan_id: strawberry.ID = strawberry.field(description="The plan.")
    credit_code: str = strawberry.field(description="The enterprise inspected.")
    agency: str = strawberry.field(description="The agency whose inspection record it is.")
    record_id: str = strawberry.field(description="The inspection record's id in the graph.")
    result_code: str = strawberry.field(description="Result code (检查结果代码).")
    result: str = strawberry.field(description="Result (检查结果).")
    inspected_on: dt.date = strawberry.field(description="The day of the visit.")
    risk_level: RiskLevel | None = strawberry.field(description="Risk level set by the agency.")
    openness: Openness = strawberry.field(description="Openness set by the agency.")


@strawberry.type(description="A double-random inspection plan (双随机抽查计划).")
class InspectionPlan:
    id: strawberry.ID = strawberry.field(description="Plan id.")
    name: str = strawberry.field(description="Plan name.")
    agency: str = strawberry.field(description="The lead agency (牵头单位).")
    agencies: list[str] = strawberry.field(description=(
        "Every agency taking part, the lead first; several: a cross-agency plan (联合抽查)."))
    count: int = strawberry.field(description="How many enterprises to draw.")
    status: InspectionPlanStatus = strawberry.field(description="DRAFT, DRAWN or PUBLISHED.")
    items: list[str] = strawberry.field(description="What is checked (抽查事项).")
    inspectors_per_visit: int = strawberry.field(description="Inspectors sent per visit.")
    filter: InspectionPlanFilter = strawberry.field(description="Which enterprises it draws from.")
    created_at: dt.datetime = strawberry.field(description="When it was created (UTC).")
    published_at: dt.datetime | None = strawberry.field(description="When it was published.")
    plan: strawberry.Private[Plan]
    takes_part: strawberry.Private[bool]

    @strawberry.field(description=(
        "The draw in force; null before the plan is drawn. Its items are the enterprises "
        "drawn that you may see (unless you take part in the plan: then all)."))
    async def draw(self, info: Info) -> InspectionDraw | None:
        port = info.context.inspections
        with refusals():
            found = None if port is None else await port.latest_draw(self.plan.id)
        if found is None:
            return None
        count = self.plan.count
        if self.takes_part:
            return draw_of(found, count, True)
        return draw_of(found, count, False,
                       await seen_codes(info, [c for c, _ in found.items]))

    @strawberry.field(description=(
        "Results recorded so far; null unless you take part in the plan. Never public."))
    async def results(self, info: Info) -> list[InspectionResult] | None:
        port = info.context.inspections
        if port is None or not self.takes_part:
            return None
        with refusals():
            return [result_of(r) for r in await port.results(self.plan.id)]


def plan_of(plan: Plan, clearance: Clearance) -> InspectionPlan:
    given = plan.filter

    def enum_value(kind: type[_E], key: str) -> _E | None:
        value = given.get(key)
        return None if value is None else kind(value)

    return InspectionPlan(
        id=strawberry.ID(str(plan.id)), name=plan.name, agency=plan.agency,
        agencies=list(plan.agencies), count=plan.count,
        status=InspectionPlanStatus(plan.status), items=list(plan.items),
        inspectors_per_visit=plan.inspectors_per_visit,
        filter=InspectionPlanFilter(
            name_contains=given.get("nameContains"), industry=given.get("industry"),
            district_code=given.get("districtCode"),
            status=enum_value(EnterpriseStatus, "status"),
            warning_level=enum_value(WarningLevel, "warningLevel"),
            credit_grade=enum_value(Grade, "creditGrade")),
        created_at=plan.created_at, published_at=plan.published_at, plan=plan,
        takes_part=participant(clearance, plan))


async def seen_codes(info: Info, codes: Sequence[str]) -> frozenset[str]:
    """Those of ``codes`` whose registry record the caller may see: a drawn enterprise
    hidden from the caller is absent from the draw it is shown, like from any list. If
    the registry cannot be read, none (and the agency's failure is reported)."""
    context = info.context
    try:
        snapshot = await context.index.snapshot(context.loaders.ages)
    except SourceError as error:
        context.failures.add(error, info.path.as_list())
        return frozenset()
    seen = set()
    for code in codes:
        at = bisect.bisect_left(snapshot.codes, code)
        if (at < len(snapshot.codes) and snapshot.codes[at] == code
                and context.view.sees(snapshot.enterprises[at])):
            seen.add(code)
    return frozenset(seen)


def draw_of(found: PlanDraw, count: int, takes_part: bool,
            shown: Collection[str] | None = None) -> InspectionDraw:
    """The graph's draw of a plan drawing ``count``: its items (those in ``shown``,
    when given), and their inspectors (as on the roster when it was drawn) and special
    list only for a participant. The counts are of the whole draw."""
    members = found.team
    drawn = len(found.items)

    def inspectors(ids: tuple[str, ...]) -> list[PlanInspector] | None:
        if not takes_part:
            return None
        return [PlanInspector(id=strawberry.ID(i), name=members[i].name if i in members else "",
                              agency=members[i].agency if i in members else "",
                              unit=members[i].unit if i in members else "") for i in ids]

    return InspectionDraw(
        plan_id=strawberry.ID(str(found.plan_id)), seed=found.seed, drawn_at=found.drawn_at,
        digest=found.digest, inputs_digest=found.inputs_digest, redraws=found.seq - 1,
        reason=found.reason or None,
        over_count=max(0, len(found.mandatory) - count), short_count=max(0, count - drawn),
        drawn=[InspectionDrawItem(credit_code=code, inspectors=inspectors(ids),
                                  mandatory=(code in found.mandatory) if takes_part else None)
               for code, ids in found.items if shown is None or code in shown])


def result_of(recorded: RecordedResult) -> InspectionResult:
    result = recorded.result
    return InspectionResult(
        plan_id=strawberry.ID(str(result.plan_id)), credit_code=result.credit_code,
        agency=result.agency, record_id=recorded.record_id, result_code=result.result_code,
        result=result.result, inspected_on=result.inspected_on,
        risk_level=None if result.risk_level is None else RiskLevel(result.risk_level),
        openness=Openness(result.openness))
