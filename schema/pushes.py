"""Push and claim (双告知): ``pushedRegistrations`` and ``claimRegistration``.

When a new enterprise registers, the gateway's leader pushes one item to every agency
whose licence an activity in its business scope needs (policies/licensing.yaml,
Qujing seed 001 (3)): the agency's departments see it here and one of them claims it
(认领) for its follow-up supervision. An item not claimed by its deadline escalates to
the agency's ``supervisor`` role, which sees the escalated items and may claim them
too. The items live in the platform database behind ``PushPort``
(``RequestContext.pushes``; ``gateway.push_store`` implements it); every claim is an
access-log entry of its own (operation ``push claim``) beside the request's.

Who sees what: a department, its agency's items; a supervisor, its agency's items
that escalated; an admin, every item. And only items whose enterprise the caller's
view sees (the registry record may be CONDITIONAL): an item of an enterprise the
caller may not see is absent, and claiming it answers PUSH_NOT_FOUND - as for an item
that does not exist or belongs to another agency.

    { pushedRegistrations(status: PUSHED) { id creditCode licences dueAt
                                            enterprise { name businessScope } } }
    mutation { claimRegistration(id: "7") { status claimedAt claimedBy } }
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import strawberry

from connectors.records import Record as SourceRecord
from schema.context import RequestContext
from schema.errors import BadUserInput, Forbidden, GraphError
from schema.gather import gather_checked
from schema.subjects import Enterprise, enterprise_from

__all__ = ["CLAIMED", "ESCALATED", "PUBLIC_WITHOUT", "PUSHED", "PushMutation", "PushNotFound",
           "PushPort", "PushQuery", "PushRefused", "PushRow", "PushStatus", "PushedRegistration"]

Info = strawberry.Info[RequestContext, None]

PUSHED, CLAIMED, ESCALATED = "PUSHED", "CLAIMED", "ESCALATED"
_ROLES = ("department", "supervisor", "admin")
# never in the public schema: pushed items are an agency's work
PUBLIC_WITHOUT = {"Query": frozenset({"pushedRegistrations"})}
_MAX_FIRST = 1000


@strawberry.enum(description="Where a pushed registration stands (双告知).")
class PushStatus(enum.Enum):
    PUSHED = strawberry.enum_value(PUSHED, description="Pushed, not claimed, not yet due.")
    CLAIMED = strawberry.enum_value(CLAIMED, description="Claimed (认领) by a department.")
    ESCALATED = strawberry.enum_value(ESCALATED, description=(
        "Not claimed by its deadline: escalated to the agency's supervisor."))


@dataclass(frozen=True, slots=True)
class PushRow:
    """One pushed item as the platform database keeps it."""

    id: int
    credit_code: str
    agency: str
    licences: tuple[str, ...]
    status: str
    registered_on: dt.date | None
    pushed_at: dt.datetime
    due_at: dt.datetime
    claimed_at: dt.datetime | None = None
    claimed_by: str | None = None
    escalated_at: dt.datetime | None = None


class PushRefused(Exception):
    """Raised by the port: the claim cannot be made (``code``); nothing changed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PushPort(Protocol):
    """The pushed items as one caller's request reads and claims them."""

    async def items(self, agency: str | None, status: str | None, escalated_only: bool,
                    limit: int) -> list[PushRow]:
        """Items of ``agency`` (None: every agency), of ``status`` (None: any), only
        those that escalated when ``escalated_only``; oldest deadline first."""
        ...

    async def item(self, item_id: int) -> PushRow | None: ...

    async def claim(self, item_id: int) -> PushRow:
        """Claim the item for the caller; ``PushRefused`` (PUSH_ALREADY_CLAIMED) when it
        was claimed already."""
        ...

    def note(self, operation: str, row: PushRow, refusal_code: str = "") -> None:
        """Write the step into the access log (``push claim``)."""
        ...


class PushNotFound(GraphError):
    code = "PUSH_NOT_FOUND"


class PushAlreadyClaimed(GraphError):
    code = "PUSH_ALREADY_CLAIMED"


class PushesUnavailable(GraphError):
    code = "PUSHES_UNAVAILABLE"


@strawberry.type(description=(
    "A new enterprise pushed to an agency whose licence (许可) its business scope needs "
    "(双告知): claimed by one of the agency's departments before dueAt, or escalated to "
    "the agency's supervisor."))
class PushedRegistration:
    id: strawberry.ID = strawberry.field(description="The item's id (claimRegistration).")
    credit_code: str = strawberry.field(description="The enterprise's credit code.")
    agency: str = strawberry.field(description="The agency told (its code).")
    licences: list[str] = strawberry.field(description=(
        "The agency's licences the business scope needs (policies/licensing.yaml)."))
    status: PushStatus = strawberry.field(description="PUSHED, CLAIMED or ESCALATED.")
    registered_on: dt.date | None = strawberry.field(description="Date of establishment.")
    pushed_at: dt.datetime = strawberry.field(description="When the agency was told.")
    due_at: dt.datetime = strawberry.field(description="Claim by then, or it escalates.")
    claimed_at: dt.datetime | None = strawberry.field(description="When it was claimed.")
    claimed_by: str | None = strawberry.field(description="The principal who claimed it.")
    escalated_at: dt.datetime | None = strawberry.field(description=(
        "When it escalated to the supervisor (kept after a claim)."))
    raw: strawberry.Private[SourceRecord]

    @strawberry.field(description="The enterprise, as your view shows it.")
    def enterprise(self, info: Info) -> Enterprise:
        return enterprise_from(info, self.raw)


def _port(info: Info) -> PushPort:
    role = info.context.view.clearance.role
    if role not in _ROLES:
        raise Forbidden("Pushed registrations are for departments, supervisors and admins.")
    port = info.context.pushes
    if port is None:
        raise PushesUnavailable("Push and claim needs the platform database, which this "
                                "gateway does not keep.")
    return port


def _not_found(item_id: strawberry.ID) -> PushNotFound:
    """The one answer for an item that does not exist and one the caller may not see."""
    return PushNotFound(f"No pushed registration {item_id} of your agency that you may "
                        "see; list yours with pushedRegistrations.", argument="id")


def _item_id(value: strawberry.ID | str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise BadUserInput(f"{value!r} is not a pushed registration's id.",
                           argument="id") from None


async def _visible(info: Info, rows: Sequence[PushRow]) -> list[PushedRegistration]:
    """The rows whose enterprise the caller's view sees, as graph objects."""
    context = info.context
    codes = sorted({row.credit_code for row in rows})
    if not codes:
        return []
    raws, _ = await gather_checked(context, info.path.as_list(), "enterprise", "credit_code",
                                   codes, visible_only=False)
    seen = {code: next((r for r in found if context.view.sees(r)), None)
            for code, found in zip(codes, raws, strict=True)}
    return [_graph(row, raw) for row in rows if (raw := seen[row.credit_code]) is not None]


def _graph(row: PushRow, raw: SourceRecord) -> PushedRegistration:
    return PushedRegistration(
        id=strawberry.ID(str(row.id)), credit_code=row.credit_code, agency=row.agency,
        licences=list(row.licences), status=PushStatus[row.status],
        registered_on=row.registered_on, pushed_at=row.pushed_at, due_at=row.due_at,
        claimed_at=row.claimed_at, claimed_by=row.claimed_by, escalated_at=row.escalated_at,
        raw=raw)


def _mine(info: Info, row: PushRow | None) -> bool:
    """Whether the caller may act on ``row``: its agency's department, its agency's
    supervisor once it escalated, or an admin."""
    if row is None:
        return False
    clearance = info.context.view.clearance
    if clearance.role == "admin":
        return True
    if clearance.agency != row.agency:
        return False
    return clearance.role == "department" or row.escalated_at is not None


@strawberry.type
class PushQuery:
    @strawberry.field(description=(
        "New enterprises pushed to your agency because their business scope needs its "
        "licence (双告知), oldest deadline first: departments see their agency's items, "
        "supervisors the escalated ones, admins all. Only items whose enterprise you may "
        "see. 'first' is 1-1000 (default 100)."))
    async def pushed_registrations(self, info: Info, status: PushStatus | None = None,
                                   first: int = 100) -> list[PushedRegistration]:
        info.context.reusable = False  # items change with every claim
        if not 1 <= first <= _MAX_FIRST:
            raise BadUserInput(f"first must be 1-{_MAX_FIRST}.", argument="first")
        port = _port(info)
        clearance = info.context.view.clearance
        agency = None if clearance.role == "admin" else clearance.agency
        rows = await port.items(agency, None if status is None else status.name,
                                clearance.role == "supervisor", _MAX_FIRST)
        return (await _visible(info, rows))[:first]


@strawberry.type
class PushMutation:
    @strawberry.mutation(description=(
        "Claim (认领) a registration pushed to your agency: it is yours to supervise. "
        "Departments of the item's agency, its supervisor once escalated, or admins. "
        "PUSH_NOT_FOUND for an item you cannot see; PUSH_ALREADY_CLAIMED when another "
        "department was first (nothing changes). Recorded in the access log "
        "(operation 'push claim')."))
    async def claim_registration(self, info: Info, id: strawberry.ID) -> PushedRegistration:
        info.context.reusable = False
        port = _port(info)
        item_id = _item_id(id)
        row = await port.item(item_id)
        found = await _visible(info, [row]) if row is not None and _mine(info, row) else []
        if row is None or not found:
            raise _not_found(id)
        try:
            claimed = await port.claim(item_id)
        except PushRefused as refused:
            port.note("push claim", row, refused.code)
            if refused.code == PushAlreadyClaimed.code:
                raise PushAlreadyClaimed(str(refused), argument="id") from None
            raise _not_found(id) from None
        port.note("push claim", claimed)
        return _graph(claimed, found[0].raw)
