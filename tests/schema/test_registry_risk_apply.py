"""RegistryRisk.apply (the change feed's patches): after any sequence of changed and
whole reads, the records served are exactly those of a model holding every part,
and the subjects reported touched are exactly those whose records differ."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from connectors.base import Connector
from connectors.csv_folder import CsvConnector
from connectors.records import Record, RowProblem
from connectors.spec import AgencySpec
from connectors.standard import Openness, RiskLevel
from schema.registry_risk import RegistryRisk, RiskRecords

CODES = [f"9111010{n}MA0000000X" for n in range(5)]
PEOPLE = ["P1", "P2", "P3"]
TYPES = ("penalty", "anomaly")


def _ignore(problem: RowProblem) -> None:
    raise AssertionError(str(problem))


def _connectors() -> dict[str, Connector]:
    return {code: CsvConnector(AgencySpec(code, code, "csv", "/nonexistent", TYPES),
                               report=_ignore) for code in ("SAMR", "TAX")}


def _record(rng: random.Random, agency: str, record_type: str, record_id: str) -> Record:
    person = rng.choice([None, *PEOPLE]) if record_type == "penalty" else None
    values: dict[str, str | None] = {"person_id": person} if record_type == "penalty" else {}
    return Record(record_type, agency, record_id, rng.choice(CODES), Openness.OPEN,
                  rng.choice([None, RiskLevel.LOW, RiskLevel.HIGH]), values)


def _grouped(risk: RiskRecords) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    def ids(index: dict[str, list[Record]]) -> dict[str, set[str]]:
        return {key: {f"{r.agency}/{r.record_id}" for r in records}
                for key, records in index.items() if records}
    return ids(dict(risk.by_code)), ids(dict(risk.by_person))


def _expected(model: dict[tuple[str, str], dict[str, Record]]
              ) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    by_code: defaultdict[str, set[str]] = defaultdict(set)
    by_person: defaultdict[str, set[str]] = defaultdict(set)
    for records in model.values():
        for record in records.values():
            if record.credit_code:
                by_code[record.credit_code].add(f"{record.agency}/{record.record_id}")
            if record.person_id and record.record_type == "penalty":
                by_person[record.person_id].add(f"{record.agency}/{record.record_id}")
    return dict(by_code), dict(by_person)


@pytest.mark.parametrize("seed", range(20))
def test_patched_records_equal_a_fresh_merge(seed: int) -> None:
    rng = random.Random(seed)
    connectors = _connectors()
    risk = RegistryRisk(lambda record_type: tuple(connectors.values()))
    model: dict[tuple[str, str], dict[str, Record]] = {}
    risky_only = {"penalty": False, "anomaly": True}
    for step in range(40):
        agency, record_type = rng.choice(list(connectors)), rng.choice(TYPES)
        key = (agency, record_type)
        whole = key not in model or rng.random() < 0.2
        ids = [f"{record_type[0]}{n}" for n in range(8)]
        changed = [_record(rng, agency, record_type, rng.choice(ids))
                   for _ in range(rng.randint(0, 4))]
        changed = list({r.record_id: r for r in changed}.values())
        before = dict(model.get(key, {}))
        part = {} if whole else dict(before)
        for record in changed:
            if risky_only[record_type] and record.risk_level is None:
                part.pop(record.record_id, None)
            else:
                part[record.record_id] = record
        model[key] = part
        touched = risk.apply(agency, record_type, changed, whole=whole,
                             risky_only=risky_only[record_type])
        differing = [(before.get(i), part.get(i)) for i in before.keys() | part.keys()
                     if before.get(i) != part.get(i)]
        assert set(touched.codes) == {r.credit_code for pair in differing for r in pair
                                      if r is not None and r.credit_code}, step
        assert set(touched.people) == {r.person_id for pair in differing for r in pair
                                       if r is not None and r.person_id
                                       and record_type == "penalty"}, step
        if step % 3 == 0:
            assert _grouped(risk.merged()) == _expected(model), step
    assert _grouped(risk.merged()) == _expected(model)


def test_an_unchanged_read_keeps_the_version_and_a_change_makes_a_new_one() -> None:
    connectors = _connectors()
    risk = RegistryRisk(lambda record_type: tuple(connectors.values()))
    rng = random.Random(1)
    first = [_record(rng, "SAMR", "penalty", "p1")]
    risk.apply("SAMR", "penalty", first, whole=True, risky_only=False)
    version = risk.merged().version
    assert not risk.apply("SAMR", "penalty", first, whole=False, risky_only=False)
    assert risk.merged().version == version  # levels computed from it stay valid
    changed = Record("penalty", "SAMR", "p1", CODES[4], Openness.OPEN, RiskLevel.HIGH,
                     {"person_id": None})
    touched = risk.apply("SAMR", "penalty", [changed], whole=False, risky_only=False)
    assert CODES[4] in touched.codes
    assert risk.merged().version != version
