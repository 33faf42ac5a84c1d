"""An inspection plan as the graph checks it and keeps its filter
(``schema.inspection_plans``), and who sees and leads a plan
(``schema.inspection_graph``): pure functions, no gateway."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schema.access import Clearance
from schema.connection import EnterpriseFilter
from schema.enums import EnterpriseStatus
from schema.errors import BadUserInput
from schema.inspection_graph import may_lead, participant, visible
from schema.inspection_plans import MAX_COUNT, filter_of, new_plan, plan_filter
from schema.inspection_port import Plan
from schema.rules.model import Grade, WarningLevel

KNOWN = {"SAMR": object(), "FDA": object(), "EPB": object()}


def a_plan(status: str, agencies: tuple[str, ...] = ("SAMR", "FDA")) -> Plan:
    return Plan(1, "抽查", agencies[0], agencies, 3, {}, (), 2, status,
                dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "p", None)


def test_a_filter_is_kept_as_text_and_read_back_the_same() -> None:
    given = EnterpriseFilter(name_contains="餐饮", industry="餐饮业", district_code="110102",
                             status=EnterpriseStatus.REVOKED, warning_level=WarningLevel.RED,
                             credit_grade=Grade.C)
    stored = plan_filter(given)
    assert stored == {"nameContains": "餐饮", "industry": "餐饮业", "districtCode": "110102",
                      "status": "REVOKED", "warningLevel": "RED", "creditGrade": "C"}
    assert filter_of(stored) == given
    assert plan_filter(None) == {} and filter_of({}) == EnterpriseFilter()


def test_a_plan_cannot_select_by_another_agencys_records() -> None:
    with pytest.raises(BadUserInput) as refused:
        plan_filter(EnterpriseFilter(has_records_from="EPB"))
    assert refused.value.extensions == {"code": "BAD_USER_INPUT",
                                        "argument": "filter.hasRecordsFrom"}


def test_a_new_plan_puts_the_lead_agency_first_once() -> None:
    plan = new_plan(" 餐饮抽查 ", "SAMR", ["FDA", "SAMR", " EPB "], 5, {"industry": "餐饮业"},
                    ["营业执照"], 2, KNOWN)
    assert (plan.name, plan.agency, plan.agencies, plan.count, plan.items) == (
        "餐饮抽查", "SAMR", ("SAMR", "FDA", "EPB"), 5, ("营业执照",))


@pytest.mark.parametrize(("change", "argument"), [
    ({"name": "  "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"agency": "TAX"}, "agencies"),
    ({"others": ["FDA", "FDA"]}, "agencies"),
    ({"count": 0}, "count"),
    ({"count": MAX_COUNT + 1}, "count"),
    ({"per_visit": 0}, "inspectorsPerVisit"),
    ({"items": ["x"] * 51}, "items"),
    ({"items": [""]}, "items"),
])
def test_a_wrong_plan_names_its_argument(change: dict[str, Any], argument: str) -> None:
    asked: dict[str, Any] = {"name": "抽查", "agency": "SAMR", "others": None, "count": 1,
                             "items": None, "per_visit": 2, **change}
    with pytest.raises(BadUserInput) as refused:
        new_plan(asked["name"], asked["agency"], asked["others"], asked["count"], {},
                 asked["items"], asked["per_visit"], KNOWN)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "argument": argument}


def test_who_sees_and_leads_a_plan() -> None:
    lead, joint = Clearance("department", "SAMR"), Clearance("department", "FDA")
    other, public = Clearance("department", "EPB"), Clearance("public")
    admin, auditor = Clearance("admin"), Clearance("auditor", purpose="AUDIT")
    drawn, published = a_plan("DRAWN"), a_plan("PUBLISHED")
    assert [participant(c, drawn) for c in (lead, joint, other, public, admin, auditor)] == [
        True, True, False, False, True, True]
    assert [visible(c, drawn) for c in (other, public)] == [False, False]
    assert [visible(c, published) for c in (other, public)] == [True, True]
    assert not participant(public, published)  # sees it, never its inspectors or results
    assert [may_lead(c, "SAMR") for c in (lead, joint, other, public, admin, auditor)] == [
        True, False, False, False, True, False]
