"""Issue 11's findings 1, 2 and 5, each reproduced: openness holds for everything
derived - filters, sorts, periods, warnings, grades, evidence, list fields - and for
freshness and the cost of asking about a hidden enterprise.

A small district of three agencies of three kinds (SQLite registry, CSV, HTTP court),
built per test so each can change the policy or a single value.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ACTIONS, ServerThread, write_csv, write_sqlite
from connectors.credit_code import with_check_char
from gateway.config import load_config
from gateway.demo.agency_service import create_agency_app
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import Runtime, open_runtime
from schema.access import Clearance
from schema.build import build_schema

TODAY = dt.date(2026, 6, 15)
OPEN_CO = with_check_char("91110102MA0000011")
HIDDEN_CO = with_check_char("91110102MA0000012")  # its registry record is CONDITIONAL
MISSING_CO = with_check_char("91110102MA0000013")  # not in the registry at all
PUBLIC = Clearance("public")
DEPARTMENT = Clearance("department", "FIRE")  # another agency's staff, no purpose
INSPECTING = Clearance("department", "TAX", "INSPECTION")
ADMIN = Clearance("admin")
APPROVAL = Clearance("approval", "", "LICENCE_APPROVAL")


def _row(record_id: str, code: str, openness: str = "OPEN", risk: str = "") -> dict[str, Any]:
    return {"record_id": record_id, "credit_code": code, "openness": openness,
            "risk_level": risk}


def _enterprise(code: str, openness: str, industry: str) -> dict[str, Any]:
    return {**_row(f"E-{code[-3:]}", code, openness), "name": f"企业{code[-3:]}",
            "entity_type": "有限责任公司", "legal_rep_id": "P1", "legal_rep_name": "张三",
            "registered_capital": "100", "established_on": "2019-03-01", "status": "ACTIVE",
            "address": "西城区", "district_code": "110102", "industry": industry,
            "registering_agency": "西城区市场监督管理局"}


def _penalty(record_id: str, code: str, decided: str, amount: str, risk: str = "LOW",
             openness: str = "OPEN") -> dict[str, Any]:
    return {**_row(record_id, code, openness, risk), "person_id": "", "decision_no": record_id,
            "violation_type": "x", "penalty_type": "FINE", "content": "罚款", "amount": amount,
            "decided_on": decided, "published_on": decided, "repaired_on": ""}


class District:
    """The agencies' files and server, and runtimes over them under chosen policies."""

    def __init__(self, folder: Path, court_url: str, court_app: Any) -> None:
        self.folder = folder
        self.court_app = court_app
        self.config = folder / "agencies.yaml"
        self.config.write_text(f"""
agencies:
  - code: SAMR
    name: 市场监督管理局
    kind: sql
    url: sqlite+aiosqlite:///registry.db
    provides: [enterprise, person, penalty]
  - code: TAX
    name: 税务局
    kind: csv
    path: tax
    provides: [penalty]
  - code: COURT
    name: 人民法院
    kind: http
    base_url: {court_url}
    provides: [judgment_default]
principals: []
""", encoding="utf-8")
        self.runtimes: list[Runtime] = []

    def policies(self, tmp: Path, **classes: str) -> PolicyStore:
        """The project's policies with some field classes changed (``Penalty_amount=
        "CONDITIONAL"``)."""
        folder = tmp / f"policies-{len(self.runtimes)}"
        shutil.copytree(DEFAULT_POLICY_DIR, folder)
        fields = folder / "fields.yaml"
        text = fields.read_text(encoding="utf-8")
        for key, level in classes.items():
            graph_type, field = key.split("_", 1)
            block = text.index(f"\n{graph_type}:\n")
            at = text.index(f"\n  {field}:", block)
            end = text.index("\n", at + 1)
            text = text[:at] + f"\n  {field}: {level}" + text[end:]
        fields.write_text(text, encoding="utf-8")
        return PolicyStore(folder)

    async def runtime(self, policy: PolicyStore | None = None) -> Runtime:
        runtime = open_runtime(load_config(self.config),
                               policies=policy or PolicyStore(DEFAULT_POLICY_DIR))
        runtime.today = lambda: TODAY
        await runtime.index.snapshot()
        self.runtimes.append(runtime)
        return runtime


def write_district(folder: Path, *, small_fine: bool = False) -> None:
    write_sqlite(folder / "registry.db", {
        "enterprise": [_enterprise(OPEN_CO, "OPEN", "餐饮业"),
                       _enterprise(HIDDEN_CO, "CONDITIONAL", "餐饮业")],
        "person": [{"record_id": "PR-1", "person_id": "P1", "name": "张三",
                    "id_number": "110101199001011234", "openness": "OPEN", "risk_level": ""}],
        # decided on 2026-01-10: a small fine (<= 3,000 yuan) is published for 3 months,
        # so on TODAY it no longer counts; a large one counts for 3 years
        "penalty": [_penalty("SAMR-P1", OPEN_CO, "2026-01-10",
                             "2000" if small_fine else "200000")],
    })
    write_csv(folder / "tax" / "penalty.csv", [
        # dates in the opposite order of the record ids
        _penalty("TAX-P1", OPEN_CO, "2026-02-01", "100000"),
        _penalty("TAX-P2", OPEN_CO, "2026-05-01", "100000"),
        _penalty("TAX-P3", OPEN_CO, "2025-03-01", "100000"),  # last year: history
    ])


@pytest.fixture
async def district(tmp_path: Path, serve: Callable[..., ServerThread],
                   ) -> AsyncIterator[District]:
    write_district(tmp_path)
    court = create_agency_app({"judgment_default": [
        {**_row("COURT-1", HIDDEN_CO, "OPEN", "HIGH"), "person_id": "", "court": "法院",
         "case_no": "(2026)1号", "obligation": "付款", "performance": "未履行",
         "listed_on": "2026-02-01", "removed_on": ""}]})
    found = District(tmp_path, serve(court).url, court)
    yield found
    for runtime in found.runtimes:
        await runtime.aclose()


async def run(runtime: Runtime, clearance: Clearance, query: str,
              variables: dict[str, Any] | None = None) -> Any:
    policy = runtime.policies
    assert policy is not None
    above_open = policy.current().classes.above_open()
    schema = build_schema(actions=ACTIONS,
                          without=above_open if clearance.role == "public" else None)
    return await schema.execute(query, variables, context_value=runtime.new_context(clearance))


def codes_of(result: Any) -> list[str]:
    return [e.extensions["code"] for e in result.errors or ()]


# --- finding 1: filters and sorts only on values the caller may read -----------------

COUNT = "query($f: EnterpriseFilter) { enterprises(filter: $f) { totalCount } }"


async def test_the_public_may_not_filter_on_a_warning_or_grade_it_may_not_read(
    district: District, tmp_path: Path,
) -> None:
    policy = district.policies(tmp_path, Enterprise_warning="CONDITIONAL",
                               Enterprise_creditGrade="CONDITIONAL")
    runtime = await district.runtime(policy)
    for condition in ({"warningLevel": "RED"}, {"warningLevel": "NONE"}, {"creditGrade": "C"},
                      {"creditGrade": "A"}):
        result = await run(runtime, PUBLIC, COUNT, {"f": condition})
        assert result.data is None and codes_of(result) == ["FILTER_NOT_ALLOWED"], condition
        assert "may not read" in result.errors[0].message
        inspecting = await run(runtime, INSPECTING, COUNT, {"f": condition})
        assert inspecting.errors is None, condition


async def test_a_filter_on_a_field_hidden_from_the_caller_is_refused_or_never_matches(
    district: District, tmp_path: Path,
) -> None:
    policy = district.policies(tmp_path, Enterprise_industry="CONDITIONAL")
    runtime = await district.runtime(policy)
    result = await run(runtime, PUBLIC, COUNT, {"f": {"industry": "餐饮业"}})
    assert codes_of(result) == ["FILTER_NOT_ALLOWED"]
    # a department without a purpose reads CONDITIONAL values of its own agency only:
    # another agency's staff may never filter on the registry's industry, the registry's
    # own staff may
    other = await run(runtime, DEPARTMENT, COUNT, {"f": {"industry": "餐饮业"}})
    assert codes_of(other) == ["FILTER_NOT_ALLOWED"]
    own = await run(runtime, Clearance("department", "SAMR"), COUNT, {"f": {"industry": "餐饮业"}})
    assert own.errors is None and own.data["enterprises"]["totalCount"] == 2
    inspecting = await run(runtime, INSPECTING, COUNT, {"f": {"industry": "餐饮业"}})
    assert inspecting.data["enterprises"]["totalCount"] == 2


LIST = """query($c: String!, $p: RecordPeriod!) { enterprise(creditCode: $c) {
  penalties(period: $p) { recordId decidedOn } } }"""


async def test_a_hidden_date_neither_sorts_nor_sets_the_period(
    district: District, tmp_path: Path,
) -> None:
    policy = district.policies(tmp_path, Penalty_decidedOn="CONDITIONAL",
                               Penalty_publishedOn="CONDITIONAL")
    runtime = await district.runtime(policy)
    admin = await run(runtime, ADMIN, LIST, {"c": OPEN_CO, "p": "ALL"})
    assert [p["recordId"] for p in admin.data["enterprise"]["penalties"]] == [
        "TAX-P2", "TAX-P1", "SAMR-P1", "TAX-P3"]  # newest first
    public = await run(runtime, PUBLIC, LIST.replace(" decidedOn", ""), {"c": OPEN_CO, "p": "ALL"})
    # by agency and record id: the order says nothing of the hidden dates
    assert [p["recordId"] for p in public.data["enterprise"]["penalties"]] == [
        "SAMR-P1", "TAX-P1", "TAX-P2", "TAX-P3"]
    history = await run(runtime, PUBLIC, LIST.replace(" decidedOn", ""),
                        {"c": OPEN_CO, "p": "HISTORY"})
    assert history.data["enterprise"]["penalties"] == []  # undated: current
    admin_history = await run(runtime, ADMIN, LIST, {"c": OPEN_CO, "p": "HISTORY"})
    assert [p["recordId"] for p in admin_history.data["enterprise"]["penalties"]] == ["TAX-P3"]


# --- finding 2: derived values read only values the caller may read ------------------

RISK = """query($c: String!) { enterprise(creditCode: $c) {
  warning { level reasons { rule evidence { recordId ... on Penalty { amount } } } }
  creditGrade { grade basis evidence { recordId ... on Penalty { amount } } } } }"""


async def test_a_hidden_amount_does_not_change_the_warning_the_public_sees(
    district: District, tmp_path: Path,
) -> None:
    """Two worlds differing only in a CONDITIONAL amount: the admin's warning tells
    them apart (a small fine stopped counting after 3 months), the public's cannot."""
    policy = district.policies(tmp_path, Penalty_amount="CONDITIONAL")
    large = await district.runtime(policy)
    large_public = await run(large, PUBLIC, RISK.replace("{ amount }", "{ decisionNo }"),
                             {"c": OPEN_CO})
    large_admin = await run(large, ADMIN, RISK, {"c": OPEN_CO})
    (district.folder / "small").mkdir()
    write_district(district.folder / "small", small_fine=True)
    shutil.copy(district.folder / "small" / "registry.db", district.folder / "registry.db")
    small = await district.runtime(policy)
    small_public = await run(small, PUBLIC, RISK.replace("{ amount }", "{ decisionNo }"),
                             {"c": OPEN_CO})
    small_admin = await run(small, ADMIN, RISK, {"c": OPEN_CO})
    assert large_admin.data != small_admin.data  # the amount matters to the rules
    assert large_public.data == small_public.data  # but the public cannot tell


async def test_evidence_shows_hidden_fields_as_null_and_reports_them(
    district: District, tmp_path: Path,
) -> None:
    policy = district.policies(tmp_path, Penalty_amount="CONDITIONAL")
    runtime = await district.runtime(policy)
    result = await run(runtime, DEPARTMENT, RISK, {"c": OPEN_CO})
    assert result.errors is None
    evidence = [e for r in result.data["enterprise"]["warning"]["reasons"]
                for e in r["evidence"]] + result.data["enterprise"]["creditGrade"]["evidence"]
    assert evidence and all(e["amount"] is None for e in evidence if "amount" in e)
    paths = {r["path"] for r in result.extensions["redacted"]}
    assert "enterprise.warning.reasons.evidence.amount" in paths
    assert "enterprise.creditGrade.evidence.amount" in paths


async def test_evidence_is_reported_and_redacted_only_when_the_query_asks_for_it(
    district: District, tmp_path: Path,
) -> None:
    """A warning's level and a grade do not return their evidence: the access log then
    names no evidence path, and no redaction is counted for it; asked, both appear."""
    policy = district.policies(tmp_path, Penalty_amount="CONDITIONAL")
    runtime = await district.runtime(policy)
    schema = build_schema(actions=ACTIONS)
    evidence = {"Enterprise.warning.reasons.evidence", "Enterprise.creditGrade.evidence"}
    for query, asked in [(RISK, True), (
            """query($c: String!) { enterprise(creditCode: $c) {
               warning { level reasons { rule level agencies { code } } }
               creditGrade { grade name } } }""", False)]:
        context = runtime.new_context(DEPARTMENT)
        result = await schema.execute(query, {"c": OPEN_CO}, context_value=context)
        assert result.errors is None and result.data is not None
        assert result.data["enterprise"]["warning"]["reasons"]  # there is evidence to ask
        returned = set(context.view.returned)
        assert (evidence <= returned) is asked and bool(evidence & returned) is asked
        redacted = {r["path"] for r in (result.extensions or {}).get("redacted", [])}
        assert any("evidence" in path for path in redacted) is asked


async def test_a_list_fields_own_class_is_enforced_for_lists_and_warnings(
    district: District, tmp_path: Path,
) -> None:
    policy = district.policies(tmp_path, Enterprise_penalties="CONDITIONAL")
    runtime = await district.runtime(policy)
    query = """query($c: String!) { enterprise(creditCode: $c) { penalties(period: ALL) {
      recordId } warning { level } creditGrade { grade } } }"""
    hidden = await run(runtime, DEPARTMENT, query, {"c": OPEN_CO})
    assert hidden.data["enterprise"] == {"penalties": [], "warning": {"level": "NONE"},
                                         "creditGrade": {"grade": "A"}}
    assert {"path": "enterprise.penalties", "count": 1} in hidden.extensions["redacted"]
    seen = await run(runtime, INSPECTING, query, {"c": OPEN_CO})
    assert len(seen.data["enterprise"]["penalties"]) == 4
    assert seen.data["enterprise"]["warning"]["level"] != "NONE"


# --- finding 5: no side channel through the shared cache or timing --------------------

CHECK = """query($c: String!) { restrictionCheck(creditCode: $c, action: LICENCE_APPLICATION)
  { decision sources { agency { code } available freshness } } }"""


async def test_freshness_does_not_tell_whether_someone_else_asked_first(
    district: District,
) -> None:
    first = await district.runtime()
    alone = await run(first, APPROVAL, CHECK, {"c": OPEN_CO})
    second = await district.runtime()
    await run(second, ADMIN, """query($c: String!) { enterprise(creditCode: $c) {
      penalties { recordId } judgmentDefaults { recordId } } }""", {"c": OPEN_CO})
    after_admin = await run(second, APPROVAL, CHECK, {"c": OPEN_CO})
    assert alone.errors is None and after_admin.errors is None
    assert alone.data == after_admin.data


async def test_a_hidden_enterprise_costs_what_a_missing_one_costs(district: District) -> None:
    """Asked for a hidden enterprise, the gateway does what it does for one that does
    not exist - one registry lookup, no agency asked early - and answers the same."""
    runtime = await district.runtime()
    query = """query($c: String!) { enterprise(creditCode: $c) { name
      penalties { recordId } judgmentDefaults { recordId } warning { level } } }"""

    async def cost(code: str) -> tuple[Any, dict[str, int], dict[str, int]]:
        before = {c.code: dict(c.calls) for c in runtime.sources.all()}
        court_before = dict(district.court_app.state.stats.queries)
        result = await run(runtime, PUBLIC, query, {"c": code})
        calls = {c.code: sum(c.calls.values()) - sum(before[c.code].values())
                 for c in runtime.sources.all()}
        court = {k: v - court_before.get(k, 0)
                 for k, v in district.court_app.state.stats.queries.items()}
        return result.data, calls, {k: v for k, v in court.items() if v}

    hidden = await cost(HIDDEN_CO)
    missing = await cost(MISSING_CO)
    assert hidden == missing
    assert hidden[0] == {"enterprise": None}
    assert hidden[2] == {}  # the remote court was not asked
