"""A new inspection plan: its input (``createInspectionPlan``), checked, and its
enterprise filter kept as plain text so a later draw reads the same filter.

The filter is stored under its GraphQL field names (``districtCode: "110102"``,
``status: "ACTIVE"``) and turned back into an ``EnterpriseFilter`` when the plan is
drawn. ``hasRecordsFrom`` is refused: a plan draws from the registry, by what the
registry and the risk rules say of each enterprise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import strawberry

from schema.connection import EnterpriseFilter
from schema.enums import EnterpriseStatus
from schema.errors import BadUserInput
from schema.inspection_port import NewPlan
from schema.rules.model import Grade, WarningLevel

__all__ = ["MAX_COUNT", "MAX_PER_VISIT", "InspectionPlanInput", "filter_of", "new_plan",
           "plan_filter"]

MAX_COUNT = 100_000
MAX_PER_VISIT = 10
_MAX_TEXT = 200
_MAX_ITEMS = 50

# GraphQL name -> EnterpriseFilter attribute
_FIELDS: Mapping[str, str] = {
    "nameContains": "name_contains", "industry": "industry", "districtCode": "district_code",
    "status": "status", "warningLevel": "warning_level", "creditGrade": "credit_grade",
}


@strawberry.input(description="A new double-random inspection plan.")
class InspectionPlanInput:
    name: str = strawberry.field(description="Plan name, e.g. 2026年第四季度餐饮业抽查.")
    agency: str = strawberry.field(description="The lead agency (your own, unless admin).")
    count: int = strawberry.field(description="How many enterprises to draw (1-100,000).")
    agencies: list[str] | None = strawberry.field(default=None, description=(
        "Other agencies taking part (联合抽查); their inspectors join the visits."))
    filter: EnterpriseFilter | None = strawberry.field(default=None, description=(
        "Which enterprises it draws from (status ACTIVE unless given; not hasRecordsFrom)."))
    items: list[str] | None = strawberry.field(default=None,
                                               description="What is checked (抽查事项).")
    inspectors_per_visit: int | None = strawberry.field(default=2, description=(
        "Inspectors sent per visit (1-10; at least two by the rules of 双随机); null "
        "means the default, 2."))


def plan_filter(condition: EnterpriseFilter | None) -> dict[str, str]:
    """The filter as stored: GraphQL names -> text (enums by value)."""
    if condition is None:
        return {}
    if condition.has_records_from is not None:
        raise BadUserInput(
            "filter.hasRecordsFrom cannot select an inspection plan's enterprises: a plan "
            "draws from the registry by district, industry, status, name, warning level "
            "and credit grade. Leave it out.", argument="filter.hasRecordsFrom")
    stored: dict[str, str] = {}
    for name, attribute in _FIELDS.items():
        value = getattr(condition, attribute)
        if value is not None:
            stored[name] = value if isinstance(value, str) else str(value.value)
    return stored


def filter_of(stored: Mapping[str, str]) -> EnterpriseFilter:
    """The ``EnterpriseFilter`` a stored filter describes."""

    def text(name: str) -> str | None:
        return stored.get(name)

    status, warning, grade = (stored.get(n) for n in ("status", "warningLevel", "creditGrade"))
    return EnterpriseFilter(
        name_contains=text("nameContains"), industry=text("industry"),
        district_code=text("districtCode"),
        status=None if status is None else EnterpriseStatus(status),
        warning_level=None if warning is None else WarningLevel(warning),
        credit_grade=None if grade is None else Grade(grade))


def _text(value: str, argument: str) -> str:
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        raise BadUserInput(f"{argument} must be 1-{_MAX_TEXT} characters.", argument=argument)
    return text


def new_plan(name: str, agency: str, others: Sequence[str] | None, count: int,
             stored_filter: Mapping[str, str], items: Sequence[str] | None,
             inspectors_per_visit: int, known: Mapping[str, object]) -> NewPlan:
    """The plan asked for, checked against the gateway's ``known`` agencies;
    ``BadUserInput`` naming the argument when something is wrong."""
    title = _text(name, "name")
    agencies = [agency, *[a.strip() for a in others or () if a.strip() != agency]]
    unknown = [a for a in agencies if a not in known]
    if unknown:
        raise BadUserInput(f"Unknown agency {', '.join(unknown)}: the agencies are "
                           f"{', '.join(sorted(known))}.", argument="agencies")
    if len(set(agencies)) != len(agencies):
        raise BadUserInput("An agency is named twice in agencies.", argument="agencies")
    if not 1 <= count <= MAX_COUNT:
        raise BadUserInput(f"count must be 1-{MAX_COUNT:,}, got {count}.", argument="count")
    if not 1 <= inspectors_per_visit <= MAX_PER_VISIT:
        raise BadUserInput(f"inspectorsPerVisit must be 1-{MAX_PER_VISIT}, got "
                           f"{inspectors_per_visit}.", argument="inspectorsPerVisit")
    checked = tuple(_text(item, "items") for item in items or ())
    if len(checked) > _MAX_ITEMS:
        raise BadUserInput(f"At most {_MAX_ITEMS} items (抽查事项).", argument="items")
    return NewPlan(title, agency, tuple(agencies), count, dict(stored_filter), checked,
                   inspectors_per_visit)
