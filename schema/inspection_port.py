"""Double-random inspections (双随机一公开) as the graph asks for them: the values and
the port the gateway implements over its platform database (``RequestContext.inspections``).

Nothing here knows a database or the access log: the port is made for one caller's
request, keeps plans, draws and results, makes the draw (``schema.inspection_draw``,
with the roster and the weights in force) and writes every step into the access log
(``note``). Who may do what is decided in ``schema.inspections``, before the port is
asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from schema.inspection_types import Candidate, Inspector

__all__ = ["DRAFT", "DRAWN", "PUBLISHED", "InspectionPort", "InspectionRefused", "NewPlan",
           "NewResult", "Plan", "PlanDraw", "RecordedResult", "Step"]

# A plan's status: created; drawn (the draw known to its agencies only); published
# (公开: the public sees the plan and the enterprises drawn, never the inspectors).
DRAFT, DRAWN, PUBLISHED = "DRAFT", "DRAWN", "PUBLISHED"


class InspectionRefused(Exception):
    """Raised by the port: the step cannot be done as asked (``code``: the error code
    the caller gets, e.g. DRAW_FAILED); nothing changed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class NewPlan:
    """A plan as created (``createInspectionPlan``)."""

    name: str
    agency: str  # the lead agency (牵头单位)
    agencies: tuple[str, ...]  # every agency taking part, the lead first
    count: int
    filter: Mapping[str, str]  # the enterprise filter: GraphQL field names -> values
    items: tuple[str, ...]  # what is checked (抽查事项)
    inspectors_per_visit: int


@dataclass(frozen=True, slots=True)
class Plan:
    id: int
    name: str
    agency: str
    agencies: tuple[str, ...]
    count: int
    filter: Mapping[str, str]
    items: tuple[str, ...]
    inspectors_per_visit: int
    status: str
    created_at: dt.datetime
    created_by: str
    published_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PlanDraw:
    """A plan's draw as kept: enough to make it again (``inputs``) and to check it."""

    plan_id: int
    seq: int  # 1 for the first draw; each redraw has the next
    seed: str
    drawn_at: dt.datetime
    drawn_by: str
    reason: str  # why it was drawn again ("" for the first draw)
    inputs: bytes  # the canonical inputs (schema.inspection_draw.canonical_inputs)
    items: tuple[tuple[str, tuple[str, ...]], ...]  # (credit code, inspector ids)
    digest: str
    inputs_digest: str
    team: Mapping[str, Inspector]  # the inspectors sent, as on the roster when drawn
    # the enterprises drawn from the special list (重点监管名单: D grade, RED...), drawn
    # whatever the seed
    mandatory: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class NewResult:
    """A visit's result, recorded by one of the plan's agencies."""

    plan_id: int
    credit_code: str
    agency: str  # the agency whose inspection record it becomes
    result_code: str
    result: str
    openness: str  # OPEN, CONDITIONAL or NOT_OPEN: set by that agency
    risk_level: str | None  # LOW, MEDIUM, HIGH: set by that agency (谁拥有，谁定级)
    inspected_on: dt.date


@dataclass(frozen=True, slots=True)
class RecordedResult:
    result: NewResult
    record_id: str  # the inspection record's id in the graph
    recorded_at: dt.datetime
    recorded_by: str


@dataclass(frozen=True, slots=True)
class Step:
    """One step for the access log: ``operation`` (``inspection draw``...), the plan,
    the enterprises it concerns, what it decided (seed, digest, reason...) and how it
    ended (``refusal_code`` "" when done)."""

    operation: str
    plan_id: int | None
    credit_codes: Sequence[str] = ()
    details: Mapping[str, str] | None = None
    refusal_code: str = ""


class InspectionPort(Protocol):
    """Plans, draws and results for one caller's request."""

    async def create_plan(self, plan: NewPlan) -> Plan: ...

    async def plan(self, plan_id: int) -> Plan | None: ...

    async def plans(self, *, statuses: Sequence[str] | None, agency: str | None,
                    published_or_agency: str | None, after_id: int | None,
                    first: int) -> list[Plan]:
        """Plans newest first (see ``gateway.inspection_store.load_plans``)."""
        ...

    async def draw(self, plan: Plan, seed: str, reason: str,
                   candidates: Sequence[Candidate]) -> PlanDraw:
        """Draw ``plan`` among ``candidates`` with the roster and weights in force and
        keep the draw (the next ``seq``); ``InspectionRefused`` when it cannot be made
        (DRAW_FAILED), the plan was drawn or published meanwhile (PLAN_CHANGED)."""
        ...

    async def latest_draw(self, plan_id: int) -> PlanDraw | None: ...

    async def publish(self, plan: Plan) -> Plan: ...

    async def record_result(self, result: NewResult) -> RecordedResult:
        """Keep the result and add its inspection record to the graph, owned by
        ``result.agency``; ``InspectionRefused`` (RESULT_EXISTS) when that agency
        recorded one for the enterprise in this plan already."""
        ...

    async def results(self, plan_id: int) -> list[RecordedResult]: ...

    def note(self, step: Step) -> None:
        """Write ``step`` into the access log (done or refused)."""
        ...
