"""Errors of the double-random inspection steps (``schema.inspections``), each with its
``extensions.code``; a refusal of the port keeps the port's code (``StepRefused``).

    GraphError
    ├── InspectionsUnavailable  INSPECTIONS_UNAVAILABLE (no platform database)
    ├── PlanNotFound            PLAN_NOT_FOUND (none, or one the caller may not see)
    ├── PlanAlreadyDrawn        PLAN_ALREADY_DRAWN (a redraw without a reason)
    ├── PlanNotDrawn            PLAN_NOT_DRAWN (publishing a plan not drawn)
    ├── PlanPublished           PLAN_PUBLISHED (drawing a published plan)
    ├── NotDrawnForPlan         NOT_DRAWN_FOR_PLAN (a result for an enterprise not drawn)
    └── StepRefused             DRAW_FAILED, PLAN_CHANGED, RESULT_EXISTS, RESULT_REFUSED,
                                INSPECTIONS_UNAVAILABLE (the platform database away)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from schema.errors import GraphError
from schema.inspection_port import InspectionRefused

__all__ = ["InspectionsUnavailable", "NotDrawnForPlan", "PlanAlreadyDrawn", "PlanNotDrawn",
           "PlanNotFound", "PlanPublished", "StepRefused", "refusals"]


class InspectionsUnavailable(GraphError):
    code = "INSPECTIONS_UNAVAILABLE"


class PlanNotFound(GraphError):
    code = "PLAN_NOT_FOUND"


class PlanAlreadyDrawn(GraphError):
    code = "PLAN_ALREADY_DRAWN"


class PlanNotDrawn(GraphError):
    code = "PLAN_NOT_DRAWN"


class PlanPublished(GraphError):
    code = "PLAN_PUBLISHED"


class NotDrawnForPlan(GraphError):
    code = "NOT_DRAWN_FOR_PLAN"


class StepRefused(GraphError):
    """A refusal of the port (DRAW_FAILED, PLAN_CHANGED, RESULT_EXISTS): its code."""

    def __init__(self, refused: InspectionRefused) -> None:
        self.code = refused.code
        super().__init__(str(refused))


@contextmanager
def refusals() -> Iterator[None]:
    """A refusal of the port (the platform database away...) as the caller's error."""
    try:
        yield
    except InspectionRefused as refused:
        raise StepRefused(refused) from None
