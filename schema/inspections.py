"""Double-random inspections (双随机一公开) in the graph: ``InspectionQuery`` and
``InspectionMutation``, mixed into the root types.

    mutation { createInspectionPlan(input: {name: "2026 餐饮抽查", agency: "SAMR", count: 5,
                                            filter: {industry: "餐饮业"}}) { id status } }
    mutation { drawInspection(planId: "1", seed: "2026-12-01 公证 4711") {
                 items { enterprise { creditCode name } inspectors { id agency } } } }
    mutation { publishInspectionPlan(planId: "1") { status } }
    mutation { recordInspectionResult(planId: "1", creditCode: "...", resultCode: "02",
                 result: "未按规定公示应当公示的信息", riskLevel: LOW) { recordId } }

A department creates, draws and publishes the plans its agency leads (an admin any
plan); the departments of every agency of a plan record their results. A plan is
drawn once: ``drawInspection`` again needs a ``reason`` (PLAN_ALREADY_DRAWN without
it), and is refused once the plan is published. Publication is its own step, not
part of the draw: the drawn list is published when the agency chooses (抽查情况及查处
结果及时公开), typically after the visits, so the draw does not announce them. The
draw weighs every agency's records (``schema.inspection_candidates``) and is kept by
the port with its canonical inputs; who sees what is ``schema.inspection_graph``.
Every step - done or refused - is written into the access log by the port
(operations ``inspection create-plan``, ``inspection draw``, ``inspection publish``,
``inspection result``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import strawberry

from schema.context import RequestContext
from schema.enums import Openness, RiskLevel
from schema.errors import BadUserInput, Forbidden, GraphError
from schema.inspection_candidates import candidates
from schema.inspection_errors import (
    InspectionsUnavailable,
    NotDrawnForPlan,
    PlanAlreadyDrawn,
    PlanNotDrawn,
    PlanNotFound,
    PlanPublished,
    StepRefused,
    refusals,
)
from schema.inspection_graph import (
    InspectionDraw,
    InspectionPlan,
    InspectionPlanStatus,
    InspectionResult,
    draw_of,
    may_lead,
    participant,
    plan_of,
    result_of,
    visible,
)
from schema.inspection_plans import InspectionPlanInput, filter_of, new_plan, plan_filter
from schema.inspection_port import (
    DRAFT,
    DRAWN,
    PUBLISHED,
    InspectionPort,
    InspectionRefused,
    NewResult,
    Plan,
    Step,
)

__all__ = ["InspectionMutation", "InspectionQuery"]

Info = strawberry.Info[RequestContext, None]
MAX_PLANS_PAGE = 200


def _port(info: Info) -> InspectionPort:
    context = info.context
    context.reusable = False  # plans change with every step
    if context.inspections is None:
        raise InspectionsUnavailable(
            "Inspection plans are kept in the platform database, which this gateway does not "
            "use (it keeps no access log): start it without --no-audit-log.")
    return context.inspections


def _plan_id(value: strawberry.ID | str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise BadUserInput(f"{value!r} is not an inspection plan id (a whole number).",
                           argument="planId")
    return number


async def _visible_plan(info: Info, port: InspectionPort, plan_id: strawberry.ID) -> Plan:
    """The plan, or PLAN_NOT_FOUND - also for a plan the caller may not see (an
    unpublished plan of another agency), so its existence does not show."""
    number = _plan_id(plan_id)
    plan = await port.plan(number)
    if plan is None or not visible(info.context.view.clearance, plan):
        raise PlanNotFound(f"There is no inspection plan {number} you may see.",
                           planId=str(plan_id))
    return plan


@contextmanager
def _step(port: InspectionPort, operation: str, plan_id: int | None) -> Iterator[None]:
    """Note a refused step in the access log (a done one is noted by its resolver); a
    refusal of the port becomes the caller's error with the port's code."""
    try:
        yield
    except InspectionRefused as refused:
        port.note(Step(operation, plan_id, refusal_code=refused.code))
        raise StepRefused(refused) from None
    except GraphError as error:
        code = (error.extensions or {}).get("code", "")
        port.note(Step(operation, plan_id, refusal_code=str(code)))
        raise


def _lead_only(info: Info, plan: Plan, doing: str) -> None:
    if not may_lead(info.context.view.clearance, plan.agency):
        raise Forbidden(f"Only a department of {plan.agency} (the plan's lead agency) or an "
                        f"admin may {doing} plan {plan.id}.")


@strawberry.type
class InspectionQuery:
    @strawberry.field(description=(
        "Double-random inspection plans (双随机抽查计划), newest first: published ones for "
        "everyone; a department also sees its agency's plans in every status, admins and "
        "auditors all. 'after' is a plan id from the previous page."))
    async def inspection_plans(
        self, info: Info, status: InspectionPlanStatus | None = None,
        agency: str | None = None, first: int = 50, after: strawberry.ID | None = None,
    ) -> list[InspectionPlan]:
        if not 1 <= first <= MAX_PLANS_PAGE:
            raise BadUserInput(f"'first' must be 1-{MAX_PLANS_PAGE}, got {first}.",
                               argument="first")
        port = _port(info)
        clearance = info.context.view.clearance
        sees_all = clearance.role in ("admin", "auditor")
        mine = clearance.agency if clearance.role == "department" else None
        statuses = None if status is None else [status.value]
        if not sees_all and mine is None:
            statuses = [PUBLISHED] if status in (None, InspectionPlanStatus.PUBLISHED) else []
        after_id = None if after is None else _plan_id(after)
        with refusals():
            found = await port.plans(statuses=statuses, agency=agency,
                                     published_or_agency=None if sees_all else mine,
                                     after_id=after_id, first=first)
        return [plan_of(p, clearance) for p in found if visible(clearance, p)]

    @strawberry.field(description=(
        "One inspection plan by id; null when there is none you may see (an unpublished "
        "plan of another agency)."))
    async def inspection_plan(self, info: Info, id: strawberry.ID) -> InspectionPlan | None:
        port = _port(info)
        with refusals():
            plan = await port.plan(_plan_id(id))
        clearance = info.context.view.clearance
        if plan is None or not visible(clearance, plan):
            return None
        return plan_of(plan, clearance)


@strawberry.type
class InspectionMutation:
    @strawberry.mutation(description=(
        "Create an inspection plan (a department of the lead agency, or an admin). "
        "Status DRAFT; drawInspection draws it."))
    async def create_inspection_plan(self, info: Info,
                                     input: InspectionPlanInput) -> InspectionPlan:
        port = _port(info)
        clearance = info.context.view.clearance
        with _step(port, "inspection create-plan", None):
            if not may_lead(clearance, input.agency):
                raise Forbidden(f"Only a department of {input.agency}, or an admin, may "
                                f"create a plan led by {input.agency}.", argument="agency")
            spec = new_plan(input.name, input.agency, input.agencies, input.count,
                            plan_filter(input.filter), input.items,
                            2 if input.inspectors_per_visit is None
                            else input.inspectors_per_visit, info.context.agencies)
            plan = await port.create_plan(spec)
        port.note(Step("inspection create-plan", plan.id,
                       details={"name": plan.name, "agencies": ",".join(plan.agencies),
                                "count": str(plan.count)}))
        return plan_of(plan, clearance)

    @strawberry.mutation(description=(
        "Draw a plan (随机抽取, 随机选派): risk-weighted enterprises and their inspectors, "
        "reproducible from the plan, the seed and the registry now. Once: drawing again "
        "needs a reason (kept, and logged) and is refused once the plan is published."))
    async def draw_inspection(
        self, info: Info, plan_id: strawberry.ID,
        seed: Annotated[str, strawberry.argument(description=(
            "The seed (公开), e.g. drawn in public or from a notary; published with the draw."
        ))],
        reason: Annotated[str | None, strawberry.argument(description=(
            "Why the plan is drawn again (required for a redraw)."))] = None,
    ) -> InspectionDraw:
        port = _port(info)
        number = _plan_id(plan_id)
        with _step(port, "inspection draw", number):
            plan = await _visible_plan(info, port, plan_id)
            _lead_only(info, plan, "draw")
            if plan.status == PUBLISHED:
                raise PlanPublished(f"Plan {plan.id} is published: its draw stands and is "
                                    "not drawn again.")
            if not seed.strip():
                raise BadUserInput("The seed is empty: give the seed the draw is made with.",
                                   argument="seed")
            why = (reason or "").strip()
            if plan.status != DRAFT and not why:
                raise PlanAlreadyDrawn(
                    f"Plan {plan.id} is drawn already. To draw it again, give a reason "
                    "(drawInspection(..., reason: \"...\")): the redraw is kept and logged.")
            found = await candidates(info.context, info.path.as_list(),
                                     filter_of(plan.filter))
            made = await port.draw(plan, seed.strip(), why if plan.status != DRAFT else "",
                                   found)
        # the enterprises drawn are not the entry's creditCodes: a draw reads no
        # enterprise's file, and whoViewed must not announce an unpublished draw; they
        # are kept with the draw, which the digest pins
        port.note(Step("inspection draw", plan.id, (),
                       {"seed": made.seed, "digest": made.digest,
                        "inputsDigest": made.inputs_digest, "seq": str(made.seq),
                        "reason": made.reason, "drawn": str(len(made.items))}))
        return draw_of(made, plan.count, participant(info.context.view.clearance, plan))

    @strawberry.mutation(description=(
        "Publish a drawn plan (公开): from now on everyone sees it and the enterprises "
        "drawn (never the inspectors), and it is not drawn again."))
    async def publish_inspection_plan(self, info: Info, plan_id: strawberry.ID,
                                      ) -> InspectionPlan:
        port = _port(info)
        with _step(port, "inspection publish", _plan_id(plan_id)):
            plan = await _visible_plan(info, port, plan_id)
            _lead_only(info, plan, "publish")
            if plan.status != DRAWN:
                raise PlanNotDrawn(f"Plan {plan.id} is {plan.status}: only a drawn, "
                                   "unpublished plan is published.")
            published = await port.publish(plan)
        port.note(Step("inspection publish", plan.id))
        return plan_of(published, info.context.view.clearance)

    @strawberry.mutation(description=(
        "Record a visit's result as an inspection record of your agency (one of the "
        "plan's; admins: the lead agency's), in the graph like any agency's inspection "
        "and counted by the rules: a result with a risk level counts for warnings and "
        "grades. Openness and risk level are yours to set (谁拥有，谁标注/定级)."))
    async def record_inspection_result(
        self, info: Info, plan_id: strawberry.ID, credit_code: str, result_code: str,
        result: str,
        risk_level: Annotated[RiskLevel | None, strawberry.argument(description=(
            "LOW, MEDIUM or HIGH when problems were found; null when none."))] = None,
        openness: Annotated[Openness, strawberry.argument(description=(
            "The record's openness; OPEN by default (抽查结果 are published)."))
        ] = Openness.OPEN,
        inspected_on: Annotated[dt.date | None, strawberry.argument(description=(
            "The day of the visit (default today)."))] = None,
    ) -> InspectionResult:
        port = _port(info)
        context = info.context
        with _step(port, "inspection result", _plan_id(plan_id)):
            plan = await _visible_plan(info, port, plan_id)
            clearance = context.view.clearance
            if clearance.role == "admin":
                agency = plan.agency
            elif clearance.role == "department" and clearance.agency in plan.agencies:
                agency = clearance.agency
            else:
                raise Forbidden(f"Only a department of {', '.join(plan.agencies)} (the "
                                f"plan's agencies) or an admin records results of plan "
                                f"{plan.id}.")
            drawn = await port.latest_draw(plan.id) if plan.status != DRAFT else None
            code = credit_code.strip().upper()
            if drawn is None or code not in {c for c, _ in drawn.items}:
                raise NotDrawnForPlan(f"{credit_code} was not drawn in plan {plan.id}'s draw "
                                      "in force: record results of enterprises drawn.",
                                      argument="creditCode")
            day = inspected_on or context.today
            if day > context.today or day < drawn.drawn_at.date():
                raise BadUserInput("inspectedOn must be between the draw's day and today.",
                                   argument="inspectedOn")
            if not result_code.strip() or not result.strip():
                raise BadUserInput("resultCode and result are required (检查结果).",
                                   argument="result")
            recorded = await port.record_result(NewResult(
                plan.id, code, agency, result_code.strip(), result.strip(),
                openness.value, None if risk_level is None else risk_level.value, day))
        port.note(Step("inspection result", plan.id, [code],
                       {"agency": agency, "recordId": recorded.record_id,
                        "resultCode": result_code.strip()}))
        return result_of(recorded)

