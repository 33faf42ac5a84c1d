"""Credit repair (信用修复, Shijingshan rules art. 19): the enterprise (or a department
for it) asks the record's owner agency to repair a record; approval sets the record's
``repaired_on`` to the day of approval in the platform overlay.

    mutation { requestCreditRepair(recordId: "P-1", agency: "SAMR",
                                   evidence: "fine paid, rectification accepted")
               { id status recordId agency requestedAt } }
    mutation { resolveCreditRepair(id: "1", decision: APPROVED) { status repairedOn } }
    { creditRepairs { id status repairedOn } }

A repaired record stops counting from ``repairedOn`` (``schema.rules.lifecycle``):
warnings, grades and restriction checks change from that day; ``asOf`` before it
gives the old answer. Who may do what: ``schema.record_workflows``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

import strawberry

from schema.context import RequestContext
from schema.errors import BadUserInput, Forbidden, GraphError
from schema.record_workflows import (
    RepairRow,
    WorkflowPort,
    WorkflowUnavailable,
    find_record,
    may_file,
    may_resolve,
    parse_id,
    port_of,
    refusing,
    step_errors,
    unavailable,
)

__all__ = ["CreditRepair", "CreditRepairDecision", "CreditRepairMutation",
           "CreditRepairNotFound", "CreditRepairQuery", "CreditRepairStatus"]

Info = strawberry.Info[RequestContext, None]
_READERS = ("enterprise", "department", "admin")


class CreditRepairNotFound(GraphError):
    code = "CREDIT_REPAIR_NOT_FOUND"


@strawberry.enum(description="Where a credit repair stands: REQUESTED (with the owner "
                             "agency), APPROVED (the record is repaired from repairedOn) or "
                             "REJECTED.")
class CreditRepairStatus(enum.Enum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


@strawberry.enum(description="The owner agency's decision: APPROVED (repaired from today) "
                             "or REJECTED.")
class CreditRepairDecision(enum.Enum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


@strawberry.type(description="A credit repair (信用修复) of an agency's record.")
class CreditRepair:
    id: strawberry.ID = strawberry.field(description="The request's id.")
    status: CreditRepairStatus = strawberry.field(description="REQUESTED, APPROVED or "
                                                              "REJECTED.")
    record_id: str = strawberry.field(description="The record to repair.")
    agency: str = strawberry.field(description="The record's owner agency (its code).")
    record_type: str = strawberry.field(description="The record's type, e.g. penalty.")
    credit_code: str | None = strawberry.field(description="The enterprise it is about.")
    evidence: str = strawberry.field(description="The evidence of rectification given.")
    requested_at: dt.datetime = strawberry.field(description="When it was asked (UTC).")
    decided_at: dt.datetime | None = strawberry.field(description="When it was decided.")
    repaired_on: dt.date | None = strawberry.field(description=(
        "The day it was approved: the record stops counting from that day."))
    note: str | None = strawberry.field(description="The owner agency's note.")


def _graph(row: RepairRow) -> CreditRepair:
    return CreditRepair(
        id=strawberry.ID(str(row.id)), status=CreditRepairStatus(row.status),
        record_id=row.record_id, agency=row.agency, record_type=row.record_type,
        credit_code=row.credit_code, evidence=row.evidence, requested_at=row.requested_at,
        decided_at=row.decided_at, repaired_on=row.repaired_on, note=row.note)


async def _one(port: WorkflowPort, repair_id: str) -> RepairRow:
    """The repair ``repair_id`` if the caller may read it (else not found)."""
    wanted = parse_id(repair_id)
    rows = [] if wanted is None else await port.repairs(repair_id=wanted)
    if not rows:
        raise CreditRepairNotFound(f"No credit repair {repair_id!r} that you may read.",
                                   argument="id")
    return rows[0]


@strawberry.type
class CreditRepairMutation:
    @strawberry.mutation(description=(
        "Ask the owner agency to repair a record (信用修复): an enterprise (its own key) on a "
        "record about itself, or a department, on a record it may see (RECORD_NOT_FOUND "
        "otherwise). One open request per record (WORKFLOW_CONFLICT)."))
    async def request_credit_repair(
        self, info: Info,
        record_id: Annotated[str, strawberry.argument(description="The record's id.")],
        agency: Annotated[str, strawberry.argument(description="Its owner agency's code.")],
        evidence: Annotated[str, strawberry.argument(
            description="Evidence of rectification (整改), e.g. the fine paid.")],
    ) -> CreditRepair:
        context = info.context
        context.reusable = False
        port = port_of(context)
        clearance = context.view.clearance
        details = {"agency": agency, "recordId": record_id}
        with refusing(port, "repair request", clearance.credit_code or None, details):
            may_file(clearance, "request a credit repair (信用修复)")
            text = evidence.strip()
            if not text or len(text) > 2000:
                raise BadUserInput("'evidence' must be 1 to 2000 characters.",
                                   argument="evidence")
            record = await find_record(context, info.path.as_list(), agency, record_id)
            with step_errors("The repair was not requested"):
                row = await port.request_repair(record, text)
        return _graph(row)

    @strawberry.mutation(description=(
        "Approve or reject a credit repair: a department of the record's owner agency, or "
        "an admin (FORBIDDEN for anyone else). APPROVED repairs the record from today: it "
        "stops counting for warnings, grades and restriction checks from that day."))
    async def resolve_credit_repair(
        self, info: Info,
        repair_id: Annotated[strawberry.ID, strawberry.argument(
            name="id", description="The request's id.")],
        decision: Annotated[CreditRepairDecision, strawberry.argument(
            description="APPROVED or REJECTED.")],
        note: Annotated[str | None, strawberry.argument(
            description="Why (kept with the request).")] = None,
    ) -> CreditRepair:
        context = info.context
        context.reusable = False
        port = port_of(context)
        details = {"repair": str(repair_id)}
        with refusing(port, "repair resolve", None, details):
            found = await _one(port, str(repair_id))
            details.update(agency=found.agency, recordId=found.record_id)
            may_resolve(context.view.clearance, found.agency, "credit repair")
            with step_errors("The repair was not decided"):
                row = await port.resolve_repair(
                    found, decision is CreditRepairDecision.APPROVED, (note or "").strip())
        return _graph(row)


@strawberry.type
class CreditRepairQuery:
    @strawberry.field(description=(
        "Credit repairs you may read: an enterprise those it asked for, a department those "
        "on its agency's records and those it asked for, an admin all; oldest first."))
    async def credit_repairs(self, info: Info, status: CreditRepairStatus | None = None,
                             ) -> list[CreditRepair]:
        context = info.context
        if context.view.clearance.role not in _READERS:
            raise Forbidden("Credit repairs are read by the enterprise they concern, the "
                            "owner agency, the department that asked and admins.")
        try:
            rows = await port_of(context).repairs(
                status=None if status is None else status.value)
        except WorkflowUnavailable as error:
            raise unavailable(error) from None
        context.reusable = False
        return [_graph(row) for row in rows]
