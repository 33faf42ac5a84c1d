"""A planted canary - a NOT_OPEN record of one agency, or a NOT_OPEN enterprise -
never changes a figure of the public or of another agency's department, under the
shipped policy, for every grouping and filter: statistics are counted from the
caller's view (schema/statistics_compute.py), warnings and grades included. The owner
agency's department does count it (the canary is really there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.records import Record, Value
from connectors.standard import Openness, RiskLevel
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.rules_files import load_rules
from policies import policy_dir
from schema.access import Basis, Clearance
from schema.registry_risk import RiskRecords
from schema.statistics_compute import Dimension, Selection, Table, registry_levels, tabulate
from schema.view import CallerView

POLICY = PolicyStore(DEFAULT_POLICY_DIR)
RULES = load_rules(policy_dir())
TODAY = dt.date(2026, 11, 1)
AGENCIES = ("SAMR", "TAX", "COURT", "FDA")
DATES = {"penalty": "decided_on", "anomaly": "listed_on", "judgment_default": "listed_on",
         "inspection": "inspected_on", "serious_violation": "listed_on"}
GROUPINGS: list[tuple[Dimension, ...]] = [
    (), *((d,) for d in Dimension), (Dimension.DISTRICT, Dimension.AGENCY),
    (Dimension.WARNING_LEVEL, Dimension.CREDIT_GRADE),
    (Dimension.INDUSTRY, Dimension.RECORD_TYPE, Dimension.MONTH)]
SELECTIONS = [Selection(), Selection(district_code="1101"), Selection(has_records_from="COURT"),
              Selection(has_records_from="TAX", industry="餐饮")]


def _code(n: int) -> str:
    return f"91110000{n:09d}X"[:18]


def enterprise(n: int, district: str, industry: str, openness: Openness) -> Record:
    values: dict[str, Value] = {"name": f"企业{n}", "district_code": district,
                                "industry": industry, "status": "ACTIVE",
                                "established_on": dt.date(2015, 1, 1),
                                "legal_rep_id": f"P{n}"}
    return Record("enterprise", "SAMR", f"E{n}", _code(n), openness, None, values)


def record(n: int, code: str, kind: str, agency: str, openness: Openness,
           risk: RiskLevel | None, made: dt.date) -> Record:
    return Record(kind, agency, f"R{n}", code, openness, risk, {DATES[kind]: made})


@st.composite
def districts(draw: st.DrawFn) -> tuple[list[Record], list[Record]]:
    size = draw(st.integers(3, 25))
    firms = [enterprise(n, draw(st.sampled_from(["110101", "110102", "310101"])),
                        draw(st.sampled_from(["餐饮", "零售", "制造"])),
                        draw(st.sampled_from([Openness.OPEN] * 4 + [Openness.CONDITIONAL])))
             for n in range(size)]
    records = []
    for n in range(draw(st.integers(0, 60))):
        records.append(record(
            n, firms[draw(st.integers(0, size - 1))].credit_code or "",
            draw(st.sampled_from(sorted(DATES))), draw(st.sampled_from(AGENCIES)),
            draw(st.sampled_from(list(Openness))),
            draw(st.sampled_from([None, *RiskLevel])),
            TODAY - dt.timedelta(days=draw(st.integers(0, 700)))))
    return firms, records


def tables(clearance: Clearance, firms: Sequence[Record],
           records: Sequence[Record]) -> list[Table]:
    view: CallerView = POLICY.current().view(clearance)
    by_code: dict[str, list[Record]] = {}
    for item in records:
        by_code.setdefault(item.credit_code or "", []).append(item)
    risk = RiskRecords(by_code, {})
    levels = {derived: registry_levels(view, RULES, firms, risk,
                                       view.basis(derived), derived, TODAY)
              for derived in ("Enterprise.warning", "Enterprise.creditGrade")}
    return [tabulate(view, firms, by_code, selection, group_by, TODAY,
                     warnings=levels["Enterprise.warning"],
                     grades=levels["Enterprise.creditGrade"])
            for group_by in GROUPINGS for selection in SELECTIONS]


@settings(max_examples=150, deadline=None)
@given(districts(), st.integers(0, 10_000), st.sampled_from(["penalty", "judgment_default",
                                                             "anomaly"]))
def test_a_not_open_record_changes_no_public_or_other_agency_figure(
        district: tuple[list[Record], list[Record]], pick: int, kind: str) -> None:
    firms, records = district
    target = firms[pick % len(firms)].credit_code or ""
    canary = record(99_999, target, kind, "COURT", Openness.NOT_OPEN, RiskLevel.HIGH, TODAY)
    for clearance in (Clearance("public"), Clearance("department", "TAX", "STATISTICS"),
                      Clearance("department", "SAMR", "STATISTICS")):
        assert tables(clearance, firms, records) == tables(clearance, firms,
                                                            [*records, canary]), clearance
    owner = Clearance("department", "COURT", "STATISTICS")
    visible = [t for t in tables(owner, firms, [*records, canary])
               if t.group_by == (Dimension.RECORD_TYPE,) and t.total]
    assert visible != [t for t in tables(owner, firms, records)
                       if t.group_by == (Dimension.RECORD_TYPE,) and t.total]


@settings(max_examples=100, deadline=None)
@given(districts(), st.integers(0, 10_000))
def test_a_not_open_enterprise_changes_no_public_or_other_agency_figure(
        district: tuple[list[Record], list[Record]], pick: int) -> None:
    firms, records = district
    hidden = enterprise(99_999, "110101", "餐饮", Openness.NOT_OPEN)
    code = hidden.credit_code or ""
    own = [record(90_000 + n, code, kind, agency, Openness.OPEN, RiskLevel.HIGH, TODAY)
           for n, (kind, agency) in enumerate([("penalty", "TAX"), ("anomaly", "COURT"),
                                               ("inspection", AGENCIES[pick % 4])])]
    for clearance in (Clearance("public"), Clearance("department", "TAX", "STATISTICS"),
                      Clearance("department", "COURT", "STATISTICS")):
        assert tables(clearance, firms, records) == tables(
            clearance, [*firms, hidden], [*records, *own]), clearance
    registry = Clearance("department", "SAMR", "STATISTICS")
    assert tables(registry, firms, records)[0].total + 1 == tables(
        registry, [*firms, hidden], [*records, *own])[0].total


def test_warnings_on_the_callers_basis_do_not_use_hidden_records() -> None:
    """The canary's HIGH risk makes its enterprise ORANGE or worse for its owner, and
    leaves it as it was for the public (VISIBLE basis, derivation.yaml)."""
    firm = enterprise(1, "110101", "餐饮", Openness.OPEN)
    canary = record(1, firm.credit_code or "", "penalty", "COURT", Openness.NOT_OPEN,
                    RiskLevel.HIGH, TODAY)
    risk = RiskRecords({firm.credit_code or "": [canary]}, {})
    for clearance, level in ((Clearance("public"), "NONE"),
                             (Clearance("department", "COURT", "STATISTICS"), "ORANGE")):
        view = POLICY.current().view(clearance)
        assert view.basis("Enterprise.warning") is Basis.VISIBLE
        levels = registry_levels(view, RULES, [firm], risk, Basis.VISIBLE,
                                 "Enterprise.warning", TODAY)
        table = tabulate(view, [firm], risk.by_code, Selection(), (Dimension.WARNING_LEVEL,),
                         TODAY, warnings=levels)
        assert list(table.cells) == [(level,)]
