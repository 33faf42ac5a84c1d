"""A draw's candidates carry the warning level and grade the graph gives each enterprise.

``schema.inspection_candidates`` reads the registry's risk records whole; the graph
resolves each enterprise's warning and grade through the loaders. On the demo district
(SQLite, CSV and HTTP agencies on loopback) both must agree for every enterprise, on
the basis the policy gives the draw (ALL as shipped; VISIBLE when derivation.yaml says
so), today and on another day; the filter selects what the graph's filter selects.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ACTIONS, DEMO_DAY, Demo
from connectors.records import Record, Value
from connectors.standard import Openness, RiskLevel
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.rules_files import load_rules
from gateway.runtime import Runtime, open_runtime
from schema.access import Clearance
from schema.build import build_schema
from schema.connection import EnterpriseFilter
from schema.enums import EnterpriseStatus
from schema.errors import BadUserInput, SourceUnavailableError
from schema.inspection_candidates import candidates, grade_alone
from schema.inspection_types import Candidate
from schema.risk import RISK_TYPES
from schema.rules.grades import grade
from schema.rules.model import Grade, WarningLevel

FULL = build_schema(actions=ACTIONS)
NODES = """query($after: String, $day: Date, $f: EnterpriseFilter) {
  enterprises(first: 1000, after: $after, filter: $f) {
  pageInfo { hasNextPage endCursor } edges { node { creditCode status registeringAgency
    warning(asOf: $day) { level } creditGrade(asOf: $day) { grade } } } } }"""


def _policies(tmp_path: Path, bases: dict[str, Any]) -> PolicyStore:
    """policies/ with ``bases`` put into derivation.yaml."""
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    path = folder / "derivation.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document.update(bases)
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return PolicyStore(folder)


@pytest.fixture
async def every_record(demo: Demo, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A gateway whose department callers get warnings and grades from every record,
    the draw's basis as shipped."""
    runtime = open_runtime(demo.config, policies=_policies(tmp_path, {
        "Enterprise.warning": {"default": "VISIBLE", "department": "ALL"},
        "Enterprise.creditGrade": {"default": "VISIBLE", "department": "ALL"}}))
    runtime.today = lambda: DEMO_DAY
    yield runtime
    await runtime.aclose()


async def _graph(runtime: Runtime, clearance: Clearance, day: dt.date | None = None,
                 condition: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every enterprise's node as the graph resolves it, page after page."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        result = await FULL.execute(
            NODES, {"after": after, "day": day and day.isoformat(), "f": condition},
            context_value=runtime.new_context(clearance))
        assert result.errors is None, result.errors
        assert result.data is not None
        page = result.data["enterprises"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _expected(nodes: list[dict[str, Any]]) -> list[Candidate]:
    return [Candidate(n["creditCode"], n["registeringAgency"], n["warning"]["level"],
                      n["creditGrade"]["grade"]) for n in nodes if n["status"] == "ACTIVE"]


async def test_candidates_equal_the_graphs_values_on_every_record(
        every_record: Runtime) -> None:
    department = Clearance("department", "SAMR", "INSPECTION")
    for day in (DEMO_DAY, DEMO_DAY - dt.timedelta(days=400)):
        nodes = await _graph(every_record, department, day)
        found = await candidates(every_record.new_context(department), ["draw"], None, day)
        expected = _expected(nodes)
        assert found == expected
        assert {c.warning for c in found} == {level.value for level in WarningLevel}
        assert {c.grade for c in found} == {grade.value for grade in Grade}
        assert len(found) < len(nodes)  # only ACTIVE enterprises by default


async def test_the_draws_basis_is_all_whoever_asks(every_record: Runtime) -> None:
    """The public's own warnings are computed from what it may see; the draw weighs
    every record for it too - the same candidates as for a department."""
    department = Clearance("department", "SAMR", "INSPECTION")
    for_department = await candidates(every_record.new_context(department), ["draw"], None)
    for_tax = await candidates(every_record.new_context(Clearance("department", "TAX")),
                               ["draw"], None)
    assert for_tax == for_department


async def test_with_a_visible_basis_candidates_equal_the_callers_own_values(
        demo: Demo, tmp_path: Path) -> None:
    runtime = open_runtime(demo.config, policies=_policies(
        tmp_path, {"InspectionDraw": {"default": "VISIBLE"}}))
    runtime.today = lambda: DEMO_DAY
    caller = Clearance("department", "TAX", "CASE_HANDLING")
    try:
        nodes = await _graph(runtime, caller)
        found = await candidates(runtime.new_context(caller), ["draw"], None)
        assert found == _expected(nodes)
        every = await candidates(runtime.new_context(Clearance("admin")), ["draw"], None)
        assert found != every  # the caller's view is narrower than every record
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("condition", [
    {"warningLevel": "ORANGE"},
    {"creditGrade": "C"},
    {"districtCode": "1101", "creditGrade": "B"},
    {"status": "REVOKED"},
    {"nameContains": "科技"},
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
async def test_the_filter_selects_what_the_graphs_filter_selects(
        every_record: Runtime, condition: dict[str, Any]) -> None:
    department = Clearance("department", "SAMR", "INSPECTION")
    status = condition.get("status", "ACTIVE")
    nodes = await _graph(every_record, department, None, {**condition, "status": status})
    assert nodes, "the condition should select some enterprises of the demo"
    given = EnterpriseFilter(
        warning_level=WarningLevel(condition["warningLevel"]) if "warningLevel" in condition
        else None,
        credit_grade=Grade(condition["creditGrade"]) if "creditGrade" in condition else None,
        district_code=condition.get("districtCode"),
        status=EnterpriseStatus(condition["status"]) if "status" in condition else None,
        name_contains=condition.get("nameContains"))
    found = await candidates(every_record.new_context(department), ["draw"], given)
    assert [c.credit_code for c in found] == [n["creditCode"] for n in nodes]


async def test_records_from_one_agency_cannot_select_a_plan(every_record: Runtime) -> None:
    with pytest.raises(BadUserInput, match="hasRecordsFrom"):
        await candidates(every_record.new_context(Clearance("admin")), ["draw"],
                         EnterpriseFilter(has_records_from="SAMR"))


async def test_no_candidates_while_an_agency_cannot_be_read(
        every_record: Runtime, demo: Demo) -> None:
    fire = demo.agency("fire")
    fire.state.control.mode = "error_500"
    try:
        with pytest.raises(SourceUnavailableError, match="FIRE") as raised:
            await candidates(every_record.new_context(Clearance("admin")), ["draw"], None)
        assert raised.value.extensions == {"code": "SOURCE_UNAVAILABLE", "agency": "FIRE",
                                           }
    finally:
        fire.state.control.mode = "ok"


# --- the grade alone, as the candidates compute it ----------------------------------------

_DAYS = st.one_of(st.none(), st.dates(DEMO_DAY - dt.timedelta(days=900),
                                      DEMO_DAY + dt.timedelta(days=30)))


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    found = []
    for number in range(draw(st.integers(0, 6))):
        record_type = draw(st.sampled_from(RISK_TYPES))
        values: dict[str, Value] = {
            "decided_on": draw(_DAYS), "listed_on": draw(_DAYS), "inspected_on": draw(_DAYS),
            "removed_on": draw(_DAYS), "repaired_on": draw(_DAYS), "published_on": draw(_DAYS),
            "penalty_type": draw(st.sampled_from(("FINE", "WARNING", "CRITICISM", None))),
            "amount": draw(st.sampled_from((None, 100.0, 50_000.0))),
        }
        found.append(Record(record_type, draw(st.sampled_from(("SAMR", "TAX"))), f"R{number}",
                            "91350100M000100Y43", Openness.OPEN,
                            draw(st.sampled_from((None, *RiskLevel))), values))
    return found


@settings(max_examples=400, deadline=None, derandomize=True)
@given(records=_records(), day=st.dates(DEMO_DAY - dt.timedelta(days=400), DEMO_DAY))
def test_the_grade_alone_is_the_grades_letter(records: list[Record], day: dt.date) -> None:
    shipped = load_rules(DEFAULT_POLICY_DIR)
    lifecycle = shipped.warnings.lifecycle
    assert grade_alone(records, shipped.grades, lifecycle, day) is grade(
        records, shipped.grades, lifecycle, day).grade
