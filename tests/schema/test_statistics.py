"""statistics / statisticsTrend on the demo district (SQLite, CSV and HTTP agencies on
loopback): the figures equal counts made from what each caller reads through the graph
itself (every enterprise page with its record lists - another road through the view:
loaders, resolvers and redaction); departments must declare STATISTICS; the public
never sees a small cell, and a trend is the same figures day by day.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ACTIONS, DEMO_DAY, Demo
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import Runtime, open_runtime
from schema.access import Clearance
from schema.build import build_schema
from schema.statistics import month_ends

POLICY = PolicyStore(DEFAULT_POLICY_DIR)
FULL = build_schema(actions=ACTIONS)
PUBLIC_SCHEMA = build_schema(actions=ACTIONS, without=POLICY.current().classes.above_open())
DEPARTMENT = Clearance("department", "SAMR", "STATISTICS")
EXACT_CALLERS = [DEPARTMENT, Clearance("department", "TAX", "STATISTICS"), Clearance("admin")]
DIMENSIONS = ["DISTRICT", "INDUSTRY", "WARNING_LEVEL", "CREDIT_GRADE", "AGENCY", "RECORD_TYPE",
              "MONTH"]
STATISTICS = """query($g: [StatisticsDimension!]!, $f: EnterpriseFilter, $d: Date) {
  statistics(groupBy: $g, filter: $f, asOf: $d) {
    groupBy unit asOf total suppressedCells protected threshold missingAgencies
    cells { keys count suppressed } } }"""
TREND = """query($g: [StatisticsDimension!]!, $f: EnterpriseFilter, $m: Int!) {
  statisticsTrend(groupBy: $g, filter: $f, months: $m) {
    asOf total cells { keys count suppressed } } }"""
LISTS = {"penalties": ("Penalty", "decidedOn"), "anomalies": ("Anomaly", "listedOn"),
         "seriousViolations": ("SeriousViolation", "listedOn"),
         "judgmentDefaults": ("JudgmentDefault", "listedOn"),
         "inspections": ("Inspection", "inspectedOn")}
EVERYTHING = """query($after: String) { enterprises(first: 1000, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node {
    creditCode name districtCode industry status establishedOn
    warning { level } creditGrade { grade } """ + " ".join(
    f"{name}(period: ALL) {{ agency {{ code }} {date} }}"
    for name, (_, date) in LISTS.items()) + """
  } } } }"""


@pytest.fixture
async def runtime(demo: Demo) -> AsyncIterator[Runtime]:
    runtime = open_runtime(demo.config, policies=POLICY)
    runtime.today = lambda: DEMO_DAY
    yield runtime
    await runtime.aclose()


async def run(runtime: Runtime, clearance: Clearance, query: str,
              variables: dict[str, Any]) -> dict[str, Any]:
    schema = PUBLIC_SCHEMA if clearance.role == "public" else FULL
    result = await schema.execute(query, variables, context_value=runtime.new_context(clearance))
    assert result.errors is None, (clearance, result.errors)
    assert result.data is not None
    return result.data


async def errors_of(runtime: Runtime, clearance: Clearance, query: str,
                    variables: dict[str, Any]) -> list[str]:
    schema = PUBLIC_SCHEMA if clearance.role == "public" else FULL
    result = await schema.execute(query, variables, context_value=runtime.new_context(clearance))
    return [(e.extensions or {}).get("code", "") for e in result.errors or []]


async def everything(runtime: Runtime, clearance: Clearance) -> list[dict[str, Any]]:
    """Every enterprise the caller may see, as the graph shows it to the caller."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await run(runtime, clearance, EVERYTHING, {"after": after}))["enterprises"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def expected(nodes: list[dict[str, Any]], group_by: list[str], condition: dict[str, Any],
             as_of: dt.date) -> Counter[tuple[str | None, ...]]:
    """The figures counted from the caller's graph, by the documented rules."""
    counts: Counter[tuple[str | None, ...]] = Counter()
    of_records = any(d in ("AGENCY", "RECORD_TYPE", "MONTH") for d in group_by)
    for node in nodes:
        established = _day(node["establishedOn"])
        if established is not None and established > as_of:
            continue
        if "industry" in condition and node["industry"] != condition["industry"]:
            continue
        if "districtCode" in condition and not (node["districtCode"] or "").startswith(
                condition["districtCode"]):
            continue
        if "nameContains" in condition and condition["nameContains"].casefold() not in (
                node["name"] or "").casefold():
            continue
        if "status" in condition and node["status"] != condition["status"]:
            continue
        level = (node["warning"] or {}).get("level")
        grade = (node["creditGrade"] or {}).get("grade")
        if "warningLevel" in condition and level != condition["warningLevel"]:
            continue
        if "creditGrade" in condition and grade != condition["creditGrade"]:
            continue
        records = []
        for name, (type_name, date_field) in LISTS.items():
            for record in node[name] or []:
                made = _day(record[date_field])
                if made is None or made <= as_of:
                    records.append((record["agency"]["code"], type_name, made))
        if "hasRecordsFrom" in condition and not any(
                agency == condition["hasRecordsFrom"] for agency, _, _ in records):
            continue
        own = {"DISTRICT": node["districtCode"], "INDUSTRY": node["industry"],
               "WARNING_LEVEL": level, "CREDIT_GRADE": grade}
        if not of_records:
            counts[tuple(own[d] for d in group_by)] += 1
            continue
        for agency, type_name, made in records:
            month = f"{made.year:04d}-{made.month:02d}" if made else None
            values = {**own, "AGENCY": agency, "RECORD_TYPE": type_name, "MONTH": month}
            counts[tuple(values[d] for d in group_by)] += 1
    return counts


def figures(answer: dict[str, Any]) -> Counter[tuple[str | None, ...]]:
    return Counter({tuple(cell["keys"]): cell["count"] for cell in answer["cells"]})


groupings = st.lists(st.sampled_from(DIMENSIONS), min_size=0, max_size=3, unique=True)


@st.composite
def conditions(draw: st.DrawFn, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """A filter of values that occur in the district (or not at all)."""
    sample = draw(st.sampled_from(nodes))
    found: dict[str, Any] = {}
    if draw(st.booleans()):
        found["industry"] = sample["industry"]
    if draw(st.booleans()):
        found["districtCode"] = (sample["districtCode"] or "")[:draw(st.integers(2, 6))]
    if draw(st.integers(0, 3)) == 0:
        found["warningLevel"] = draw(st.sampled_from(["NONE", "YELLOW", "ORANGE", "RED"]))
    if draw(st.integers(0, 3)) == 0:
        found["creditGrade"] = draw(st.sampled_from(["A", "B", "C", "D"]))
    if draw(st.integers(0, 3)) == 0:
        found["hasRecordsFrom"] = draw(st.sampled_from(["SAMR", "TAX", "COURT", "FIRE"]))
    if draw(st.integers(0, 4)) == 0:
        found["nameContains"] = (sample["name"] or "")[1:3]
    if draw(st.integers(0, 3)) == 0:
        found["status"] = sample["status"]
    return found


Case = tuple[list[str], dict[str, Any], dt.date]


def drawn_cases(nodes: list[dict[str, Any]]) -> list[Case]:
    """Groupings, filters and days drawn by hypothesis (run here, the queries then run
    on the test's event loop)."""
    cases: list[Case] = []

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(groupings, conditions(nodes), st.integers(0, 800))
    def draw(group_by: list[str], condition: dict[str, Any], back: int) -> None:
        # warnings and grades in the graph are today's: a day in the past only without them
        levels = {"WARNING_LEVEL", "CREDIT_GRADE"} & set(group_by) or (
            {"warningLevel", "creditGrade"} & set(condition))
        cases.append((group_by, condition,
                      DEMO_DAY if levels else DEMO_DAY - dt.timedelta(days=back)))

    draw()
    return cases


async def test_statistics_equal_counts_made_from_each_callers_graph(runtime: Runtime) -> None:
    """Differential: for several exact callers, hypothesis-drawn groupings, filters and
    days give the counts made from the enterprises and records the graph shows them."""
    for clearance in EXACT_CALLERS:
        nodes = await everything(runtime, clearance)
        assert len(nodes) > 100
        for group_by, condition, as_of in drawn_cases(nodes):
            answer = (await run(runtime, clearance, STATISTICS,
                                {"g": group_by, "f": condition, "d": as_of.isoformat()}))[
                "statistics"]
            want = expected(nodes, group_by, condition, as_of)
            assert figures(answer) == want, (clearance, group_by, condition, as_of)
            assert answer["total"] == sum(want.values())
            assert answer["protected"] is False and answer["suppressedCells"] == 0
            assert answer["unit"] == ("RECORDS" if {"AGENCY", "RECORD_TYPE", "MONTH"}
                                      & set(group_by) else "ENTERPRISES")


async def test_levels_follow_the_callers_basis(demo: Demo, tmp_path: Path) -> None:
    """With derivation.yaml giving departments the platform's warning and grade (ALL),
    their statistics group by those - as their graph shows them - and the public's
    stay on its own view."""
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    bases = folder / "derivation.yaml"
    document = yaml.safe_load(bases.read_text(encoding="utf-8"))
    document["Enterprise.warning"] = {"default": "VISIBLE", "department": "ALL"}
    document["Enterprise.creditGrade"] = {"default": "VISIBLE", "department": "ALL"}
    bases.write_text(yaml.safe_dump(document), encoding="utf-8")
    runtime = open_runtime(demo.config, policies=PolicyStore(folder))
    runtime.today = lambda: DEMO_DAY
    try:
        by_clearance = {}
        for clearance in (Clearance("department", "TAX", "STATISTICS"), Clearance("admin")):
            nodes = await everything(runtime, clearance)
            for group_by in (["WARNING_LEVEL"], ["CREDIT_GRADE", "AGENCY"]):
                answer = (await run(runtime, clearance, STATISTICS, {"g": group_by}))[
                    "statistics"]
                assert figures(answer) == expected(nodes, group_by, {}, DEMO_DAY)
                by_clearance[clearance.role, tuple(group_by)] = figures(answer)
        # the platform's warning: a department's levels are the admin's
        assert (by_clearance["department", ("WARNING_LEVEL",)]
                == by_clearance["admin", ("WARNING_LEVEL",)])
    finally:
        await runtime.aclose()
    shipped = open_runtime(demo.config, policies=POLICY)
    shipped.today = lambda: DEMO_DAY
    try:  # on its own view (the shipped policy) the department's levels differ
        own = (await run(shipped, Clearance("department", "TAX", "STATISTICS"), STATISTICS,
                         {"g": ["WARNING_LEVEL"]}))["statistics"]
        assert figures(own) != by_clearance["department", ("WARNING_LEVEL",)]
    finally:
        await shipped.aclose()


async def test_a_department_must_declare_statistics(runtime: Runtime) -> None:
    variables = {"g": ["DISTRICT"]}
    for purpose in ("", "INSPECTION"):
        assert await errors_of(runtime, Clearance("department", "SAMR", purpose), STATISTICS,
                               variables) == ["PURPOSE_REQUIRED"]
        assert await errors_of(runtime, Clearance("department", "SAMR", purpose), TREND,
                               {**variables, "m": 2}) == ["PURPOSE_REQUIRED"]
    answer = (await run(runtime, DEPARTMENT, STATISTICS, variables))["statistics"]
    assert answer["total"] > 0


async def test_the_public_never_sees_a_small_cell(runtime: Runtime) -> None:
    """Public answers: every published count is at least the threshold, the published
    cells are the exact ones the public's own view gives, and the total is exact."""
    public = Clearance("public")
    admin_view_of_public = await everything(runtime, public)
    for group_by in (["DISTRICT"], ["INDUSTRY", "WARNING_LEVEL"], ["AGENCY", "MONTH"],
                     ["DISTRICT", "RECORD_TYPE"], []):
        answer = (await run(runtime, public, STATISTICS, {"g": group_by}))["statistics"]
        assert answer["protected"] is True and answer["threshold"] == 5
        exact = expected(admin_view_of_public, group_by, {}, DEMO_DAY)
        published = [c for c in answer["cells"] if not c["suppressed"]]
        assert all(c["count"] >= 5 for c in published)
        assert all(c["count"] == exact[tuple(c["keys"])] for c in published)
        assert {tuple(c["keys"]) for c in answer["cells"]} == set(exact)
        assert answer["total"] in (None, sum(exact.values()))
        if any(0 < n < 5 for n in exact.values()):
            assert answer["suppressedCells"] >= 2 or answer["total"] is None


@pytest.mark.parametrize("variables", [
    {"g": ["RECORD_TYPE"], "f": {"hasRecordsFrom": "TAX"}},
    {"g": ["WARNING_LEVEL", "CREDIT_GRADE"], "f": {"districtCode": "110102"}},
    {"g": ["DISTRICT", "AGENCY"], "f": {"warningLevel": "YELLOW"}},
])
async def test_a_trend_is_the_figures_of_each_month_end(runtime: Runtime,
                                                       variables: dict[str, Any]) -> None:
    """Each month of a trend (levels of the filtered enterprises, gathered once for all
    days) equals statistics asked as of that day (the whole registry's levels)."""
    for clearance in (DEPARTMENT, Clearance("public")):
        trend = (await run(runtime, clearance, TREND, {**variables, "m": 4}))["statisticsTrend"]
        days = month_ends(DEMO_DAY, 4)
        assert [dt.date.fromisoformat(t["asOf"]) for t in trend] == days
        assert days[-1] == DEMO_DAY and days[0] == dt.date(2026, 8, 31)
        for point, day in zip(trend, days, strict=True):
            alone = (await run(runtime, clearance, STATISTICS,
                               {**variables, "d": day.isoformat()}))["statistics"]
            assert point["cells"] == alone["cells"] and point["total"] == alone["total"]
            assert point["total"] is None or point["total"] > 0


async def test_a_value_the_caller_may_never_read_is_refused(demo: Demo, tmp_path: Path) -> None:
    """With Enterprise.industry classed CONDITIONAL the public may neither group nor
    filter by it (the answer would tell what it may not read)."""
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    path = folder / "fields.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("  industry: OPEN") == 1
    path.write_text(text.replace("  industry: OPEN", "  industry: CONDITIONAL"), encoding="utf-8")
    runtime = open_runtime(demo.config, policies=PolicyStore(folder))
    try:
        public = Clearance("public")
        assert await errors_of(runtime, public, STATISTICS, {"g": ["INDUSTRY"]}) == [
            "GROUPING_NOT_ALLOWED"]
        assert await errors_of(runtime, public, STATISTICS,
                               {"g": ["DISTRICT"], "f": {"industry": "餐饮"}}) == [
            "FILTER_NOT_ALLOWED"]
        assert await errors_of(runtime, DEPARTMENT, STATISTICS, {"g": ["INDUSTRY"]}) == []
    finally:
        await runtime.aclose()


async def test_bad_questions_are_refused(runtime: Runtime) -> None:
    future = (DEMO_DAY + dt.timedelta(days=1)).isoformat()
    assert await errors_of(runtime, DEPARTMENT, STATISTICS,
                           {"g": ["DISTRICT"], "d": future}) == ["BAD_USER_INPUT"]
    assert await errors_of(runtime, DEPARTMENT, STATISTICS,
                           {"g": ["DISTRICT", "DISTRICT"]}) == ["BAD_USER_INPUT"]
    assert await errors_of(runtime, DEPARTMENT, STATISTICS,
                           {"g": ["AGENCY"], "f": {"hasRecordsFrom": "NOPE"}}) == [
        "BAD_USER_INPUT"]
    for months in (0, 61):
        assert await errors_of(runtime, DEPARTMENT, TREND,
                               {"g": ["DISTRICT"], "m": months}) == ["BAD_USER_INPUT"]
