"""Objections (异议, Shijingshan rules arts. 18-19): an enterprise or a department
disputes an agency's record; the owner agency upholds or rejects it.

    mutation { fileObjection(recordId: "P-1", agency: "SAMR", reason: "paid on time")
               { id status recordId agency filedAt } }
    mutation { resolveObjection(id: "1", decision: UPHELD, note: "checked") { status } }
    { objections(status: FILED) { id recordId agency reason } }

While an objection is FILED the record shows ``disputed: true`` (also in warnings'
evidence) and, when ``lifecycle.disputed_records_count`` is false, stops counting.
UPHELD withdraws the record in the platform overlay from the resolution day
(``withdrawnOn``): warnings, grades and restriction checks change from that day, and
``asOf`` before it still gives the old answer. Who may do what, and what nobody
learns: ``schema.record_workflows``. Every step is in the access log.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

import strawberry

from schema.context import RequestContext
from schema.errors import BadUserInput, Forbidden, GraphError
from schema.record_objection import ObjectionStatus
from schema.record_workflows import (
    ObjectionRow,
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

__all__ = ["Objection", "ObjectionDecision", "ObjectionMutation", "ObjectionNotFound",
           "ObjectionQuery"]

Info = strawberry.Info[RequestContext, None]
_READERS = ("enterprise", "department", "admin")


class ObjectionNotFound(GraphError):
    code = "OBJECTION_NOT_FOUND"


@strawberry.enum(description="How the owner agency resolves an objection: UPHELD (the record "
                             "is withdrawn from today) or REJECTED (it stands).")
class ObjectionDecision(enum.Enum):
    UPHELD = "UPHELD"
    REJECTED = "REJECTED"


@strawberry.type(description=(
    "An objection (异议) to an agency's record, filed by the enterprise it is about or by a "
    "department, resolved by the record's owner agency."))
class Objection:
    id: strawberry.ID = strawberry.field(description="The objection's id.")
    status: ObjectionStatus = strawberry.field(description="FILED, UPHELD or REJECTED.")
    record_id: str = strawberry.field(description="The record objected to.")
    agency: str = strawberry.field(description="The record's owner agency (its code).")
    record_type: str = strawberry.field(description="The record's type, e.g. penalty.")
    credit_code: str | None = strawberry.field(description="The enterprise it is about.")
    reason: str = strawberry.field(description="Why the record is disputed.")
    filed_at: dt.datetime = strawberry.field(description="When it was filed (UTC).")
    resolved_at: dt.datetime | None = strawberry.field(description="When it was resolved.")
    resolved_on: dt.date | None = strawberry.field(description=(
        "The day it was resolved: an upheld objection withdraws the record from that day."))
    note: str | None = strawberry.field(description="The owner agency's note.")


def _graph(row: ObjectionRow) -> Objection:
    return Objection(
        id=strawberry.ID(str(row.id)), status=ObjectionStatus(row.status),
        record_id=row.record_id, agency=row.agency, record_type=row.record_type,
        credit_code=row.credit_code, reason=row.reason, filed_at=row.filed_at,
        resolved_at=row.resolved_at, resolved_on=row.resolved_on, note=row.note)


def _text(value: str, argument: str, limit: int = 2000) -> str:
    text = value.strip()
    if not text or len(text) > limit:
        raise BadUserInput(f"'{argument}' must be 1 to {limit} characters.", argument=argument)
    return text


@strawberry.type
class ObjectionMutation:
    @strawberry.mutation(description=(
        "File an objection (异议) to a record: an enterprise (its own key) on a record about "
        "itself, or a department, on a record it may see (RECORD_NOT_FOUND otherwise, as for "
        "a record that does not exist). The record shows disputed: true until the owner "
        "agency resolves it. One open objection per record (WORKFLOW_CONFLICT)."))
    async def file_objection(
        self, info: Info,
        record_id: Annotated[str, strawberry.argument(description="The record's id.")],
        agency: Annotated[str, strawberry.argument(description="Its owner agency's code.")],
        reason: Annotated[str, strawberry.argument(description="Why it is disputed.")],
    ) -> Objection:
        context = info.context
        context.reusable = False
        port = port_of(context)
        clearance = context.view.clearance
        details = {"agency": agency, "recordId": record_id}
        with refusing(port, "objection file", clearance.credit_code or None, details):
            may_file(clearance, "file an objection (异议)")
            text = _text(reason, "reason")
            record = await find_record(context, info.path.as_list(), agency, record_id)
            with step_errors("The objection was not filed"):
                row = await port.file_objection(record, text)
        return _graph(row)

    @strawberry.mutation(description=(
        "Resolve an objection: a department of the record's owner agency, or an admin "
        "(FORBIDDEN for anyone else). UPHELD withdraws the record from today in the "
        "platform overlay; REJECTED lets it stand. An objection is resolved once."))
    async def resolve_objection(
        self, info: Info,
        objection_id: Annotated[strawberry.ID, strawberry.argument(
            name="id", description="The objection's id.")],
        decision: Annotated[ObjectionDecision, strawberry.argument(
            description="UPHELD or REJECTED.")],
        note: Annotated[str | None, strawberry.argument(
            description="Why (kept with the objection).")] = None,
    ) -> Objection:
        context = info.context
        context.reusable = False
        port = port_of(context)
        clearance = context.view.clearance
        details = {"objection": str(objection_id)}
        with refusing(port, "objection resolve", None, details):
            found = await _one(port, str(objection_id))
            details.update(agency=found.agency, recordId=found.record_id)
            may_resolve(clearance, found.agency, "objection")
            with step_errors("The objection was not resolved"):
                row = await port.resolve_objection(found, decision is ObjectionDecision.UPHELD,
                                                   (note or "").strip())
        return _graph(row)


async def _one(port: WorkflowPort, objection_id: str) -> ObjectionRow:
    """The objection ``objection_id`` if the caller may read it; one it may not read
    is not found, like one that does not exist."""
    wanted = parse_id(objection_id)
    rows = [] if wanted is None else await port.objections(objection_id=wanted)
    if not rows:
        raise ObjectionNotFound(f"No objection {objection_id!r} that you may read.",
                                argument="id")
    return rows[0]


@strawberry.type
class ObjectionQuery:
    @strawberry.field(description=(
        "Objections you may read: an enterprise those it filed, a department those on "
        "its agency's records and those it filed, an admin all; oldest first."))
    async def objections(self, info: Info, status: ObjectionStatus | None = None,
                         ) -> list[Objection]:
        context = info.context
        if context.view.clearance.role not in _READERS:
            raise Forbidden("Objections are read by the enterprise they concern, the owner "
                            "agency, the department that filed them and admins.")
        try:
            rows = await port_of(context).objections(
                status=None if status is None else status.value)
        except WorkflowUnavailable as error:
            raise unavailable(error) from None
        context.reusable = False
        return [_graph(row) for row in rows]
