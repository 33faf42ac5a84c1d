"""The synthetic demo district: deterministic, valid and realistic enough to demo with."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest

from connectors.credit_code import is_valid_credit_code
from connectors.standard import ENUM_VALUES, ColumnKind, spec_for
from gateway.demo.generate import (
    AGENCIES,
    MIN_ENTERPRISES,
    District,
    generate_district,
    resident_id_check_char,
)

_BAD_IDS = {"EPB-BAD-001", "EPB-BAD-002", "EPB-BAD-003"}


@pytest.fixture(scope="module")
def district() -> District:
    return generate_district()


def _records(district: District) -> list[tuple[str, str, dict[str, str]]]:
    """(agency, type, row) of every row except the registry's and the deliberately bad ones."""
    return [
        (agency, record_type, row)
        for agency, by_type in district.rows.items()
        for record_type, rows in by_type.items()
        if record_type not in ("enterprise", "person")
        for row in rows
        if row["record_id"] not in _BAD_IDS
    ]


def test_same_seed_gives_identical_rows_and_another_seed_does_not() -> None:
    first = generate_district(enterprises=300)
    assert generate_district(enterprises=300) == first
    assert generate_district(enterprises=300, seed=7).rows != first.rows


def test_default_district_has_2000_enterprises_with_valid_unique_codes(
    district: District,
) -> None:
    enterprises = district.rows["SAMR"]["enterprise"]
    codes = [row["credit_code"] for row in enterprises]
    assert len(codes) == district.enterprise_count == 2000
    assert len(set(codes)) == len(codes)
    assert all(is_valid_credit_code(code) for code in codes)
    assert {code[:2] for code in codes} == {"91", "92", "93"}
    assert Counter(code[1] for code in codes).most_common(1)[0][0] == "1"
    assert all(row["credit_code"][2:8] == row["district_code"] for row in enterprises)
    assert len({row["name"] for row in enterprises}) == len(enterprises)
    assert all(row["name"].startswith("北京") for row in enterprises)


def test_every_record_is_about_a_registered_enterprise_or_legal_representative(
    district: District,
) -> None:
    codes = {row["credit_code"] for row in district.rows["SAMR"]["enterprise"]}
    reps = {row["legal_rep_id"] for row in district.rows["SAMR"]["enterprise"]}
    for _, _, row in _records(district):
        assert row["credit_code"] in codes if row["credit_code"] else row["person_id"] in reps


def test_rows_hold_the_standard_columns_as_valid_text(district: District) -> None:
    for agency, by_type in district.rows.items():
        for record_type, rows in by_type.items():
            spec = spec_for(record_type)
            for row in rows:
                if row["record_id"] in _BAD_IDS:
                    continue
                assert set(spec.all_columns()) <= set(row), (agency, record_type)
                assert all(isinstance(value, str) for value in row.values())
                assert row["openness"] in ("OPEN", "CONDITIONAL", "NOT_OPEN")
                assert row["risk_level"] in ("", "LOW", "MEDIUM", "HIGH")
                for column, kind in spec.columns:
                    value = row[column]
                    if value and kind is ColumnKind.DATE:
                        dt.date.fromisoformat(value)
                    elif value and kind is ColumnKind.NUMBER:
                        assert float(value) >= 0
                    elif kind is ColumnKind.ENUM:
                        assert value in ENUM_VALUES[(record_type, column)]


def test_record_ids_are_unique_within_each_agency(district: District) -> None:
    for by_type in district.rows.values():
        ids = [row["record_id"] for rows in by_type.values() for row in rows]
        assert len(ids) == len(set(ids))


def test_every_agency_has_rows_of_every_type_it_provides(district: District) -> None:
    assert set(district.rows) == {agency.code for agency in AGENCIES}
    for agency in AGENCIES:
        assert set(district.rows[agency.code]) == set(agency.provides)
        for record_type in agency.provides:
            assert district.rows[agency.code][record_type], (agency.code, record_type)


def test_every_openness_and_risk_level_occurs_at_every_agency(district: District) -> None:
    for agency in AGENCIES:
        rows = [row for rows in district.rows[agency.code].values() for row in rows]
        assert {row["openness"] for row in rows} >= {"OPEN", "CONDITIONAL", "NOT_OPEN"}
        assert {row["risk_level"] for row in rows} >= {"LOW", "MEDIUM", "HIGH"}


def test_openness_mix_is_mostly_open(district: District) -> None:
    counts = Counter(row["openness"] for _, _, row in _records(district))
    total = sum(counts.values())
    assert 0.5 < counts["OPEN"] / total < 0.7
    assert 0.18 < counts["CONDITIONAL"] / total < 0.32
    assert 0.08 < counts["NOT_OPEN"] / total < 0.22


def test_licences_and_passed_inspections_carry_no_risk_level(district: District) -> None:
    for _, record_type, row in _records(district):
        if record_type == "licence" or (record_type == "inspection" and row["result_code"] in
                                        ("01", "07")):
            assert row["risk_level"] == ""
        else:
            assert row["risk_level"] in ("LOW", "MEDIUM", "HIGH")


def test_about_forty_percent_have_no_risk_record_and_many_have_several_agencies(
    district: District,
) -> None:
    agencies_by_code: dict[str, set[str]] = {}
    for agency, _, row in _records(district):
        if row["risk_level"] and row["credit_code"]:
            agencies_by_code.setdefault(row["credit_code"], set()).add(agency)
    without = district.enterprise_count - len(agencies_by_code)
    assert 0.33 < without / district.enterprise_count < 0.47
    several = sum(1 for agencies in agencies_by_code.values() if len(agencies) >= 2)
    assert several > 0.15 * district.enterprise_count


def test_record_dates_span_four_years_with_a_share_in_the_current_year(
    district: District,
) -> None:
    dates = [dt.date.fromisoformat(row["decided_on"]) for _, t, row in _records(district)
             if t == "penalty"]
    assert min(dates) >= dt.date(2022, 10, 1)
    assert max(dates) <= district.as_of
    current = sum(1 for day in dates if day.year == district.as_of.year)
    assert 0.25 < current / len(dates) < 0.6


def test_penalties_are_published_after_decision_and_warnings_have_no_amount(
    district: District,
) -> None:
    penalties = [row for _, t, row in _records(district) if t == "penalty"]
    today = district.as_of.isoformat()
    # a penalty decided on the generation day is published that day (not in the future)
    assert all(row["published_on"] > row["decided_on"]
               or row["published_on"] == row["decided_on"] == today for row in penalties)
    assert all(row["repaired_on"] > row["published_on"] for row in penalties
               if row["repaired_on"])
    assert any(row["repaired_on"] for row in penalties)
    assert all(not row["amount"] for row in penalties if row["penalty_type"] == "WARNING")
    assert all(int(row["amount"]) > 0 for row in penalties if row["penalty_type"] == "FINE")
    assert all("〔" in row["decision_no"] and row["decision_no"].endswith("号")
               for row in penalties)


def test_listings_and_judgments_have_realistic_content(district: District) -> None:
    anomalies = district.rows["SAMR"]["anomaly"]
    assert any(row["reason"] == "未按规定报送年度报告" for row in anomalies)
    removed = [row for row in anomalies if row["removed_on"]]
    assert removed and all(row["removal_reason"] for row in removed)
    assert all(row["removed_on"] > row["listed_on"] for row in removed)
    judgments = district.rows["COURT"]["judgment_default"]
    assert {row["performance"] for row in judgments} == {"全部未履行", "部分履行"}
    assert all(row["court"].endswith("人民法院") and "执" in row["case_no"] for row in judgments)


def test_persons_have_valid_resident_id_numbers(district: District) -> None:
    persons = district.rows["SAMR"]["person"]
    assert len({row["person_id"] for row in persons}) == len(persons)
    for row in persons:
        number = row["id_number"]
        assert len(number) == 18 and number[:17].isdigit()
        assert number[17] == resident_id_check_char(number[:17])
        assert row["credit_code"] == "" and row["risk_level"] == ""


def test_resident_id_check_char_matches_gb_11643() -> None:
    assert resident_id_check_char("11010519491231002") == "X"
    assert resident_id_check_char("44052418800101001") == "4"


def test_about_one_person_in_ten_represents_several_enterprises(district: District) -> None:
    represented = Counter(row["legal_rep_id"] for row in district.rows["SAMR"]["enterprise"])
    persons = {row["person_id"]: row for row in district.rows["SAMR"]["person"]}
    assert set(represented) == set(persons)
    several = [count for count in represented.values() if count >= 2]
    assert 0.06 < len(several) / len(persons) < 0.14
    assert max(several) <= 4
    for row in district.rows["SAMR"]["enterprise"]:
        assert persons[row["legal_rep_id"]]["name"] == row["legal_rep_name"]


def test_person_level_records_point_at_the_enterprise_legal_representative(
    district: District,
) -> None:
    rep_of = {row["credit_code"]: row["legal_rep_id"]
              for row in district.rows["SAMR"]["enterprise"]}
    on_person = [(agency, row) for agency, _, row in _records(district)
                 if row.get("person_id") and row["credit_code"]]
    assert {agency for agency, _ in on_person} == {"SAMR", "TAX", "COURT"}
    assert all(rep_of[row["credit_code"]] == row["person_id"] for _, row in on_person)


def test_a_few_legal_representatives_are_listed_by_the_court_personally(
    district: District,
) -> None:
    """Judgment defaults on a person alone (empty credit code): in force, OPEN, on
    persons who represent several enterprises, never the showcase's."""
    alone = [(agency, record_type, row) for agency, record_type, row in _records(district)
             if not row["credit_code"]]
    assert len(alone) == 4
    assert {(agency, record_type) for agency, record_type, _ in alone} == {
        ("COURT", "judgment_default")}
    represented = Counter(row["legal_rep_id"] for row in district.rows["SAMR"]["enterprise"])
    persons = [row["person_id"] for _, _, row in alone]
    assert len(set(persons)) == 4 and district.showcase_person_id not in persons
    assert all(represented[person] >= 2 for person in persons)
    assert all(row["openness"] == "OPEN" and row["risk_level"] and not row["removed_on"]
               for _, _, row in alone)
    # drawn last: the rows before them are those of the district without them
    court = district.rows["COURT"]["judgment_default"]
    assert [row["credit_code"] for row in court[-4:]] == [""] * 4


def test_showcase_enterprise_has_records_from_all_six_agencies(district: District) -> None:
    code = district.showcase_credit_code
    assert code == district.rows["SAMR"]["enterprise"][0]["credit_code"]
    agencies = {agency for agency, _, row in _records(district) if row["credit_code"] == code}
    assert agencies == {agency.code for agency in AGENCIES}
    openness = {row["openness"] for _, _, row in _records(district) if row["credit_code"] == code}
    assert openness == {"OPEN", "CONDITIONAL", "NOT_OPEN"}


def test_showcase_person_represents_several_enterprises_and_has_own_records(
    district: District,
) -> None:
    person = district.showcase_person_id
    enterprises = [row for row in district.rows["SAMR"]["enterprise"]
                   if row["legal_rep_id"] == person]
    assert len(enterprises) >= 2
    assert any(row["person_id"] == person for row in district.rows["SAMR"]["penalty"])
    assert any(row["person_id"] == person
               for row in district.rows["COURT"]["judgment_default"])


def test_epb_penalties_include_exactly_three_deliberately_bad_rows(district: District) -> None:
    bad = {row["record_id"]: row for row in district.rows["EPB"]["penalty"]
           if row["record_id"].startswith("EPB-BAD-")}
    assert set(bad) == _BAD_IDS
    bad_code = bad["EPB-BAD-001"]["credit_code"]
    assert len(bad_code) == 18 and not is_valid_credit_code(bad_code)
    assert bad_code[:17] == district.showcase_credit_code[:17]
    assert bad["EPB-BAD-002"]["openness"] == "MAYBE"
    assert bad["EPB-BAD-003"]["decided_on"] == "2026-13-45"
    others = [row for row in bad.values() if row["record_id"] != "EPB-BAD-001"]
    assert all(is_valid_credit_code(row["credit_code"]) for row in others)


def test_small_district_still_covers_every_label() -> None:
    small = generate_district(enterprises=40, seed=3)
    for agency in AGENCIES:
        rows = [row for rows in small.rows[agency.code].values() for row in rows]
        assert {row["openness"] for row in rows} >= {"OPEN", "CONDITIONAL", "NOT_OPEN"}


def test_twenty_thousand_enterprises_generate_quickly() -> None:
    started = time.perf_counter()
    large = generate_district(enterprises=20_000, seed=11)
    elapsed = time.perf_counter() - started
    codes = {row["credit_code"] for row in large.rows["SAMR"]["enterprise"]}
    assert len(codes) == large.enterprise_count == 20_000
    assert elapsed < 8


def test_rejects_a_district_too_small_to_hold_every_outcome() -> None:
    for enterprises in (0, MIN_ENTERPRISES - 1):
        with pytest.raises(ValueError, match=f"at least {MIN_ENTERPRISES}"):
            generate_district(enterprises=enterprises)
    assert generate_district(enterprises=MIN_ENTERPRISES).enterprise_count == MIN_ENTERPRISES
