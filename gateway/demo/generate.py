"""A deterministic synthetic district: six agencies' records about the same enterprises.

``generate_district(seed=..., enterprises=...)`` draws everything from one
``random.Random(seed)``, so the same arguments always give the same rows. Rows use
the collection standard's column names and hold text only (ISO dates, plain decimal
numbers, ``""`` for a missing value), ready to be written as SQL, CSV or JSON.

The registry (enterprises, legal representatives) is drawn by ``registry``, the
agencies' records by ``records``, from the vocabulary in ``vocabulary``.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date

from connectors.credit_code import ALPHABET
from connectors.standard import spec_for
from gateway.demo.records import RecordMaker
from gateway.demo.registry import Enterprise, draw_registry, resident_id_check_char

__all__ = [
    "AGENCIES",
    "GENERATOR_VERSION",
    "AgencyDef",
    "District",
    "generate_district",
    "resident_id_check_char",
]

# Bump when the same seed would give different rows, so stale demo data is rewritten.
GENERATOR_VERSION = 2

_LEVELS = ("OPEN", "CONDITIONAL", "NOT_OPEN")
_RISKS = ("LOW", "MEDIUM", "HIGH")
# Legal representatives the court lists personally (失信被执行人 on a person alone).
_PERSONAL_LISTINGS = 4


@dataclass(frozen=True, slots=True)
class AgencyDef:
    """One demo agency: its code, Chinese name, source kind and record types."""

    code: str
    name: str
    kind: str
    provides: tuple[str, ...]


AGENCIES: tuple[AgencyDef, ...] = (
    AgencyDef("SAMR", "市场监督管理局", "sql", (
        "enterprise", "person", "licence", "penalty", "anomaly", "serious_violation",
        "inspection",
    )),
    AgencyDef("TAX", "税务局", "sql", ("penalty", "serious_violation")),
    AgencyDef("EPB", "生态环境局", "csv", ("licence", "penalty", "inspection")),
    AgencyDef("FDA", "食品药品监督管理局", "csv", ("licence", "penalty", "inspection")),
    AgencyDef("COURT", "人民法院", "http", ("judgment_default",)),
    AgencyDef("FIRE", "消防救援支队", "http", ("penalty", "inspection")),
)


@dataclass(frozen=True)
class District:
    """The generated rows: agency code -> record type -> rows of standard columns.

    ``showcase_credit_code`` names an enterprise with records from every agency;
    ``showcase_person_id`` its legal representative, who represents several
    enterprises and has person-level records. ``seed`` and ``as_of`` reproduce it.
    """

    rows: dict[str, dict[str, list[dict[str, str]]]]
    showcase_credit_code: str
    showcase_person_id: str
    seed: int
    as_of: date

    @property
    def enterprise_count(self) -> int:
        """How many enterprises the registry (SAMR) holds."""
        return len(self.rows["SAMR"]["enterprise"])


def generate_district(
    *, seed: int = 20261123, enterprises: int = 2000, as_of: date = date(2026, 11, 1)
) -> District:
    """Generate ``enterprises`` enterprises and every agency's records about them.

    About 40% of enterprises have no risk record; record dates fall in the four
    years up to ``as_of``, about 40% of them in ``as_of``'s calendar year. The
    court's list ends with up to four judgment defaults on legal representatives
    alone (empty credit code; each person represents several enterprises, not the
    showcase's), which reach every enterprise the person represents. EPB's
    penalties end with three deliberately bad rows (record ids ``EPB-BAD-*``, on
    the showcase enterprise) that exercise bad-row reporting.

    >>> district = generate_district(enterprises=50)
    >>> len(district.rows["SAMR"]["enterprise"])
    50
    """
    if enterprises < 1:
        raise ValueError("enterprises must be at least 1")
    rng = random.Random(seed)
    registry = draw_registry(rng, enterprises, as_of)
    rows: dict[str, dict[str, list[dict[str, str]]]] = {
        agency.code: {record_type: [] for record_type in agency.provides} for agency in AGENCIES
    }
    rows["SAMR"]["enterprise"] = registry.enterprise_rows
    rows["SAMR"]["person"] = registry.person_rows
    maker = RecordMaker(rng, as_of, rows)
    showcase = registry.enterprises[0]
    _showcase_records(maker, showcase)
    for enterprise in registry.enterprises[1:]:
        maker.records(enterprise)
    _ensure_coverage(rows)
    _add_person_listings(maker, registry.enterprises)
    _add_bad_rows(maker, showcase)
    return District(rows, showcase.credit_code, showcase.rep_id, seed, as_of)


def _showcase_records(maker: RecordMaker, enterprise: Enterprise) -> None:
    """Records from every agency with mixed openness, some on the legal representative."""
    plan = (
        ("SAMR", "penalty", False), ("SAMR", "penalty", True), ("SAMR", "anomaly", None),
        ("SAMR", "inspection", None), ("TAX", "penalty", False), ("EPB", "penalty", None),
        ("EPB", "inspection", None), ("FDA", "penalty", None), ("FDA", "inspection", None),
        ("COURT", "judgment_default", False), ("COURT", "judgment_default", True),
        ("FIRE", "penalty", None), ("FIRE", "inspection", None),
    )
    for step, (agency, record_type, on_person) in enumerate(plan):
        maker.risk_record(agency, record_type, enterprise, _LEVELS[step % 3], on_person)
    for step, agency in enumerate(("SAMR", "EPB", "FDA")):
        maker.licence(agency, enterprise, _LEVELS[(step + 1) % 3])


def _ensure_coverage(rows: dict[str, dict[str, list[dict[str, str]]]]) -> None:
    """Make every openness and risk level occur among each agency's risk records.

    Large districts have them all anyway; a small one gets its last rows relabelled,
    never taking a value's only occurrence.
    """
    for by_type in rows.values():
        risky = [row for record_type, type_rows in by_type.items() if record_type != "person"
                 for row in type_rows if row["risk_level"]]
        for column, values in (("openness", _LEVELS), ("risk_level", _RISKS)):
            seen = Counter(row[column] for row in risky)
            for value in values:
                if seen[value]:
                    continue
                donor = next((row for row in reversed(risky) if seen[row[column]] > 1), None)
                if donor is not None:
                    seen[donor[column]] -= 1
                    donor[column] = value
                    seen[value] += 1


def _add_person_listings(maker: RecordMaker, enterprises: list[Enterprise]) -> None:
    """Judgment defaults on legal representatives alone (empty credit code, OPEN, in
    force): the first persons after the showcase's who represent several enterprises.
    Drawn last, so every other row is the same as without them."""
    represented = Counter(ent.rep_id for ent in enterprises)
    chosen: dict[str, Enterprise] = {}
    for ent in enterprises[1:]:
        if ent.rep_id != enterprises[0].rep_id and represented[ent.rep_id] >= 2:
            chosen.setdefault(ent.rep_id, ent)
        if len(chosen) == _PERSONAL_LISTINGS:
            break
    for ent in chosen.values():
        maker.judgment_default(ent, "OPEN", True, alone=True)


def _add_bad_rows(maker: RecordMaker, enterprise: Enterprise) -> None:
    """Three EPB penalties that break the standard, to show bad-row reporting:
    a wrong credit-code check character, an unknown openness and an impossible date."""
    code = enterprise.credit_code
    year = maker.iso(maker.end)[:4]
    wrong = next(char for char in ALPHABET if char != code[17])
    defects = (("credit_code", code[:17] + wrong), ("openness", "MAYBE"),
               ("decided_on", f"{year}-13-45"))
    columns = spec_for("penalty").all_columns()
    for number, (column, value) in enumerate(defects, start=1):
        row = dict.fromkeys(columns, "")
        row.update({
            "record_id": f"EPB-BAD-{number:03d}", "credit_code": code, "openness": "OPEN",
            "risk_level": "LOW", "decision_no": f"西环罚〔{year}〕9{number}号",
            "violation_type": "超标排放大气污染物", "penalty_type": "WARNING",
            "content": "演示数据：本行故意违反归集标准，用于展示问题行报告。",
            "decided_on": maker.iso(maker.end - 30), "published_on": maker.iso(maker.end - 25),
        })
        row[column] = value
        maker.add("EPB", "penalty", row)
