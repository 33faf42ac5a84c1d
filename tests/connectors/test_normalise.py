from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.credit_code import with_check_char
from connectors.records import Record, RowProblem, normalise_row
from connectors.standard import Openness, RiskLevel, spec_for

CODE = with_check_char("91110102MA0000001")


def run(record_type: str, row: dict[str, Any]) -> tuple[Record | None, list[str]]:
    problems: list[RowProblem] = []
    record = normalise_row("EPB", spec_for(record_type), row, problems.append)
    for problem in problems:
        assert problem.agency == "EPB" and problem.record_type == record_type
    return record, [p.reason for p in problems]


def penalty(**overrides: Any) -> dict[str, Any]:
    row = {"record_id": "R1", "credit_code": CODE, "openness": "OPEN", "risk_level": "LOW",
           "decision_no": "X", "penalty_type": "FINE", "amount": "12.5",
           "decided_on": "2026-01-02", "unknown_extra": "ignored"}
    row.update(overrides)
    return row


def test_a_clean_row_has_no_problems() -> None:
    record, problems = run("penalty", penalty())
    assert problems == []
    assert record is not None
    assert record.values["decided_on"] == dt.date(2026, 1, 2)
    assert record.values["amount"] == 12.5
    assert "unknown_extra" not in record.values
    assert record.openness is Openness.OPEN and record.risk_level is RiskLevel.LOW


def test_chinese_labels_are_accepted() -> None:
    record, problems = run("penalty", penalty(openness="有条件开放", risk_level="高"))
    assert problems == []
    assert record is not None
    assert record.openness is Openness.CONDITIONAL and record.risk_level is RiskLevel.HIGH


def test_unknown_or_missing_openness_fails_closed() -> None:
    for value in ("MAYBE", "", None):
        record, problems = run("penalty", penalty(openness=value))
        assert record is not None and record.openness is Openness.NOT_OPEN
        assert len(problems) == 1 and "treated as NOT_OPEN" in problems[0]


def test_bad_dates_numbers_and_enums_become_null_and_are_reported() -> None:
    record, problems = run(
        "penalty", penalty(decided_on="2026-13-45", amount="lots", penalty_type="SPANKING")
    )
    assert record is not None
    assert record.values["decided_on"] is None
    assert record.values["amount"] is None
    assert record.values["penalty_type"] is None
    assert len(problems) == 3


def test_rows_that_cannot_be_attached_are_left_out_and_reported() -> None:
    bad_check = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")
    for row, reason in [
        (penalty(credit_code=bad_check), "invalid credit_code"),
        (penalty(credit_code=""), "missing credit_code"),
        (penalty(record_id=" "), "missing record_id"),
    ]:
        record, problems = run("penalty", row)
        assert record is None
        assert len(problems) == 1 and reason in problems[0]


def test_unknown_risk_level_is_treated_as_high() -> None:
    record, problems = run("penalty", penalty(risk_level="SEVERE"))
    assert record is not None and record.risk_level is RiskLevel.HIGH
    assert problems and "treated as HIGH" in problems[0]


def test_persons_are_keyed_by_person_id_without_credit_code() -> None:
    record, problems = run(
        "person", {"record_id": "1", "person_id": "P9", "name": "王五", "openness": "OPEN"}
    )
    assert problems == []
    assert record is not None and record.credit_code is None and record.person_id == "P9"


def judgment(**overrides: Any) -> dict[str, Any]:
    row = {"record_id": "J1", "credit_code": "", "person_id": "P9", "openness": "OPEN",
           "risk_level": "HIGH", "court": "北京市西城区人民法院", "case_no": "(2026)京0102执1号",
           "listed_on": "2026-01-02"}
    row.update(overrides)
    return row


def test_records_about_a_person_need_no_credit_code() -> None:
    for record_type, row in [
        ("judgment_default", judgment()),
        ("judgment_default", judgment(credit_code=None)),
        ("judgment_default", {k: v for k, v in judgment().items() if k != "credit_code"}),
        ("penalty", penalty(credit_code="  ", person_id="P9")),
    ]:
        record, problems = run(record_type, row)
        assert problems == [], (record_type, row)
        assert record is not None
        assert record.credit_code is None and record.person_id == "P9"


def test_a_record_about_a_person_in_an_enterprise_keeps_both_keys() -> None:
    record, problems = run("judgment_default", judgment(credit_code=CODE.lower()))
    assert problems == []
    assert record is not None and record.credit_code == CODE and record.person_id == "P9"


def test_a_record_about_nobody_is_left_out_and_reported() -> None:
    for row in (judgment(person_id=""), judgment(person_id=None), penalty(credit_code=None)):
        record_type = "penalty" if "decision_no" in row else "judgment_default"
        record, problems = run(record_type, row)
        assert record is None
        assert problems == ["missing credit_code and person_id; row left out"]


def test_a_bad_credit_code_is_left_out_even_with_a_person_id() -> None:
    record, problems = run("judgment_default", judgment(credit_code=CODE[:-1]))
    assert record is None
    assert len(problems) == 1 and "invalid credit_code" in problems[0]


def test_types_without_a_person_column_still_need_a_credit_code() -> None:
    row = {"record_id": "A1", "credit_code": "", "person_id": "P9", "openness": "OPEN",
           "risk_level": "LOW", "reason": "未按规定报送年度报告", "listed_on": "2026-01-02"}
    record, problems = run("anomaly", row)
    assert record is None
    assert problems == ["missing credit_code; row left out"]
