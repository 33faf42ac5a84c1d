"""The seed rules, table-driven with hand-computed answers, and their invariants."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.records import Record
from connectors.standard import Openness, RiskLevel
from gateway.policy_files import DEFAULT_POLICY_DIR
from gateway.rules_files import load_rules
from schema.rules.grades import grade
from schema.rules.model import Decision, WarningLevel
from schema.rules.restrictions import decide
from schema.rules.warnings import evaluate, merge_records, with_person

RULES = load_rules(DEFAULT_POLICY_DIR)
AS_OF = dt.date(2026, 11, 1)
CODE = "914403001922038216"
ids = itertools.count()


def rec(kind: str, agency: str, risk: str | None, day: str, **values: Any) -> Record:
    column = {"penalty": "decided_on", "anomaly": "listed_on", "serious_violation": "listed_on",
              "judgment_default": "listed_on", "inspection": "inspected_on"}[kind]
    parsed = {k: dt.date.fromisoformat(v) if k.endswith("_on") and v else v
              for k, v in values.items()}
    return Record(kind, agency, f"{agency}-{next(ids)}", CODE, Openness.OPEN,
                  RiskLevel(risk) if risk else None,
                  {column: dt.date.fromisoformat(day), **parsed})


def fine(agency: str, risk: str, day: str, amount: float = 50_000, **values: Any) -> Record:
    return rec("penalty", agency, risk, day, penalty_type="FINE", amount=amount, **values)


def level(records: list[Record], as_of: dt.date = AS_OF) -> str:
    return evaluate(records, RULES.warnings, as_of).level.value


def grade_of(records: list[Record], as_of: dt.date = AS_OF) -> str:
    return grade(records, RULES.grades, RULES.warnings.lifecycle, as_of).grade.value


CASES = [
    # (description, records, as_of, warning, grade)
    ("nothing", [], AS_OF, "NONE", "A"),
    ("one low-risk fine: single agency -> yellow", [fine("SAMR", "LOW", "2026-05-01")],
     AS_OF, "YELLOW", "B"),
    ("one medium fine -> yellow, dishonest C", [fine("SAMR", "MEDIUM", "2026-05-01")],
     AS_OF, "YELLOW", "C"),
    ("one high-risk fine -> orange", [fine("SAMR", "HIGH", "2026-05-01")], AS_OF, "ORANGE",
     "C"),
    ("three low records of one agency within a year -> orange",
     [rec("inspection", "FDA", "LOW", d) for d in ("2026-02-01", "2026-05-01", "2026-09-01")],
     AS_OF, "ORANGE", "B"),
    ("two low records of one agency -> still yellow",
     [rec("inspection", "FDA", "LOW", d) for d in ("2026-02-01", "2026-09-01")],
     AS_OF, "YELLOW", "B"),
    ("low records from two agencies -> red (cross-agency)",
     [fine("SAMR", "LOW", "2026-05-01"), rec("inspection", "FDA", "LOW", "2026-06-01")],
     AS_OF, "RED", "B"),
    ("last year's penalty is history", [fine("SAMR", "HIGH", "2025-06-01")], AS_OF, "NONE", "A"),
    ("an anomaly listed years ago and still in force counts",
     [rec("anomaly", "SAMR", "MEDIUM", "2024-03-01")], AS_OF, "YELLOW", "B"),
    ("a removed anomaly stops counting",
     [rec("anomaly", "SAMR", "MEDIUM", "2026-03-01", removed_on="2026-08-01")],
     AS_OF, "NONE", "A"),
    ("... but counted on a date before its removal",
     [rec("anomaly", "SAMR", "MEDIUM", "2026-03-01", removed_on="2026-08-01")],
     dt.date(2026, 7, 1), "YELLOW", "B"),
    ("a warning-only penalty is not published, does not count",
     [rec("penalty", "SAMR", "LOW", "2026-05-01", penalty_type="WARNING")],
     AS_OF, "NONE", "A"),
    ("a criticism counts 3 months from publicity: over",
     [rec("penalty", "SAMR", "MEDIUM", "2026-03-01", penalty_type="CRITICISM",
          published_on="2026-03-05")], AS_OF, "NONE", "A"),
    ("a criticism counts 3 months from publicity: within",
     [rec("penalty", "SAMR", "MEDIUM", "2026-03-01", penalty_type="CRITICISM",
          published_on="2026-03-05")], dt.date(2026, 6, 4), "YELLOW", "C"),
    ("a small fine counts 3 months: still within",
     [fine("SAMR", "LOW", "2026-09-01", amount=2000)], AS_OF, "YELLOW", "B"),
    ("a small fine counts 3 months: over", [fine("SAMR", "LOW", "2026-07-01", amount=2000)],
     AS_OF, "NONE", "A"),
    ("a repaired penalty stops counting",
     [fine("SAMR", "HIGH", "2026-03-01", repaired_on="2026-10-01")], AS_OF, "NONE", "A"),
    ("... but counts on a date before the repair",
     [fine("SAMR", "HIGH", "2026-03-01", repaired_on="2026-10-01")], dt.date(2026, 9, 1),
     "ORANGE", "C"),
    ("a record made after the date asked does not exist yet",
     [fine("SAMR", "HIGH", "2026-10-15")], dt.date(2026, 10, 1), "NONE", "A"),
    ("serious violation listed over a year ago, in force -> D",
     [rec("serious_violation", "SAMR", "HIGH", "2025-06-01")], AS_OF, "ORANGE", "D"),
    ("serious violation listed under a year ago -> C, not yet D",
     [rec("serious_violation", "SAMR", "HIGH", "2026-01-15")], AS_OF, "ORANGE", "C"),
    ("... and the same listing a year on -> D",
     [rec("serious_violation", "SAMR", "HIGH", "2026-01-15")], dt.date(2027, 1, 16),
     "ORANGE", "D"),
    ("a removed serious violation -> no longer D",
     [rec("serious_violation", "SAMR", "HIGH", "2024-01-15", removed_on="2026-02-01")],
     AS_OF, "NONE", "A"),
    ("a judgment default in force -> C",
     [rec("judgment_default", "COURT", "HIGH", "2025-07-01")], AS_OF, "ORANGE", "C"),
]


@pytest.mark.parametrize(("case", "records", "as_of", "warning", "expected_grade"), CASES,
                         ids=[c[0] for c in CASES])
def test_seed_rules(case: str, records: list[Record], as_of: dt.date, warning: str,
                    expected_grade: str) -> None:
    assert level(records, as_of) == warning
    assert grade_of(records, as_of) == expected_grade


def test_a_persons_warning_reaches_the_enterprise() -> None:
    enterprise = [fine("SAMR", "LOW", "2026-05-01")]
    person = [rec("judgment_default", "COURT", "HIGH", "2026-02-01", person_id="P1")]
    person_warning = evaluate(person, RULES.warnings, AS_OF)
    assert person_warning.level is WarningLevel.ORANGE
    combined = with_person(evaluate(merge_records(enterprise, person), RULES.warnings, AS_OF),
                           person_warning, "P1")
    assert combined.level is WarningLevel.RED  # SAMR + COURT under one subject
    rules = [reason.rule for reason in combined.reasons]
    assert "LEGAL_REPRESENTATIVE" in rules and "CROSS_AGENCY" in rules
    assert set(combined.agencies) == {"SAMR", "COURT"}
    # without the person, the enterprise alone is yellow
    assert evaluate(enterprise, RULES.warnings, AS_OF).level is WarningLevel.YELLOW


@pytest.mark.parametrize(
    ("action", "records", "missing", "decision"),
    [
        ("LICENCE_APPLICATION", [], [], "ALLOWED"),
        ("LICENCE_APPLICATION", [fine("SAMR", "MEDIUM", "2026-05-01")], [], "RESTRICTED"),
        ("LICENCE_APPLICATION", [rec("serious_violation", "SAMR", "HIGH", "2025-01-01")], [],
         "PROHIBITED"),
        ("GOVERNMENT_PROCUREMENT", [rec("judgment_default", "COURT", "HIGH", "2025-07-01")],
         [], "RESTRICTED"),
        ("HONOUR", [rec("anomaly", "SAMR", "LOW", "2026-03-01")], [], "RESTRICTED"),
        ("LICENCE_APPLICATION", [rec("anomaly", "SAMR", "LOW", "2026-03-01")], [], "ALLOWED"),
        ("FISCAL_SUBSIDY", [fine("SAMR", "LOW", "2026-05-01"),
                            rec("inspection", "FDA", "LOW", "2026-06-01")], [], "RESTRICTED"),
        ("LICENCE_APPLICATION", [], ["COURT"], "INDETERMINATE"),
        ("LICENCE_APPLICATION", [fine("SAMR", "MEDIUM", "2026-05-01")], ["COURT"],
         "INDETERMINATE"),
        ("LICENCE_APPLICATION", [rec("serious_violation", "SAMR", "HIGH", "2025-01-01")],
         ["COURT"], "PROHIBITED"),
    ],
)
def test_restriction_catalogue(action: str, records: list[Record], missing: list[str],
                               decision: str) -> None:
    result = decide(RULES.actions[action], grade(records, RULES.grades,
                                                 RULES.warnings.lifecycle, AS_OF),
                    evaluate(records, RULES.warnings, AS_OF), missing)
    assert result.decision.value == decision
    if missing:
        assert any(r.rule == "SOURCES_MISSING" and set(r.agencies) == set(missing)
                   for r in result.reasons)


# --- invariants ----------------------------------------------------------------------

AGENCIES = ["SAMR", "TAX", "EPB", "COURT"]
records_strategy = st.lists(
    st.builds(
        lambda kind, agency, risk, days, removed: rec(
            kind, agency, risk, (AS_OF - dt.timedelta(days=days)).isoformat(),
            penalty_type="FINE", amount=50_000.0,
            **({"removed_on": (AS_OF - dt.timedelta(days=removed)).isoformat()}
               if removed is not None and kind != "penalty" else {}),
        ),
        st.sampled_from(["penalty", "anomaly", "serious_violation", "judgment_default",
                         "inspection"]),
        st.sampled_from(AGENCIES),
        st.sampled_from(["LOW", "MEDIUM", "HIGH"]),
        st.integers(0, 900),
        st.none() | st.integers(0, 400),
    ),
    max_size=8,
)
GRADE_ORDER = "ABCD"


@given(records_strategy, records_strategy.filter(bool))
def test_adding_a_risk_record_never_lowers_the_level_or_improves_the_grade(
    base: list[Record], extra: list[Record]
) -> None:
    before = evaluate(base, RULES.warnings, AS_OF).level
    after = evaluate(base + extra, RULES.warnings, AS_OF).level
    assert after.rank >= before.rank
    lifecycle = RULES.warnings.lifecycle
    assert (GRADE_ORDER.index(grade(base + extra, RULES.grades, lifecycle, AS_OF).grade.value)
            >= GRADE_ORDER.index(grade(base, RULES.grades, lifecycle, AS_OF).grade.value))


@given(records_strategy, st.sampled_from(AGENCIES),
       st.sampled_from(sorted(RULES.actions)))
def test_removing_a_source_never_turns_a_decision_into_allowed(
    records: list[Record], lost: str, action: str
) -> None:
    lifecycle = RULES.warnings.lifecycle
    full = decide(RULES.actions[action], grade(records, RULES.grades, lifecycle, AS_OF),
                  evaluate(records, RULES.warnings, AS_OF), [])
    remaining = [r for r in records if r.agency != lost]
    partial = decide(RULES.actions[action], grade(remaining, RULES.grades, lifecycle, AS_OF),
                     evaluate(remaining, RULES.warnings, AS_OF), [lost])
    assert partial.decision is not Decision.ALLOWED
    if full.decision is not Decision.ALLOWED:
        assert partial.decision in (Decision.INDETERMINATE, Decision.PROHIBITED, full.decision)
