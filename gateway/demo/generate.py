"""A deterministic synthetic district: six agencies' records about the same enterprises.

``generate_district(seed=..., enterprises=..., as_of=...)`` draws everything from
``random.Random(seed)``, so the same arguments always give the same rows. Every date
is counted back from ``as_of`` (default: today), the day the demo is generated, and
planned records (``plans``) make the demo answer the same way whatever day that is. Rows use
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
from gateway.demo.plans import COVERAGE, SHOWCASE, plant
from gateway.demo.records import RecordMaker
from gateway.demo.registry import Enterprise, draw_registry, resident_id_check_char

__all__ = [
    "AGENCIES",
    "GENERATOR_VERSION",
    "MIN_ENTERPRISES",
    "AgencyDef",
    "District",
    "generate_district",
    "resident_id_check_char",
]

# Bump when the same seed would give different rows, so stale demo data is rewritten.
GENERATOR_VERSION = 3
# The showcase and one enterprise per coverage profile (gateway.demo.plans).
MIN_ENTERPRISES = 1 + len(COVERAGE)

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
    *, seed: int = 20261123, enterprises: int = 2000, as_of: date | None = None
) -> District:
    """Generate ``enterprises`` enterprises and every agency's records about them, as
    they stand on ``as_of`` (default: today).

    About 40% of enterprises have no risk record; record dates fall in the four
    years up to ``as_of``, about 40% of them in ``as_of``'s calendar year. The
    showcase (the first enterprise) and the last ``len(COVERAGE)`` enterprises get
    planned records instead (``gateway.demo.plans``): whatever the day, the district
    holds every warning level, credit grade and restriction decision, and records
    dated ``as_of`` itself; so at least ``MIN_ENTERPRISES`` are needed. The
    court's list ends with up to four judgment defaults on legal representatives
    alone (empty credit code; each person represents several enterprises, not the
    showcase's), which reach every enterprise the person represents. EPB's
    penalties end with three deliberately bad rows (record ids ``EPB-BAD-*``, on
    the showcase enterprise) that exercise bad-row reporting.

    >>> district = generate_district(enterprises=50, as_of=date(2027, 1, 1))
    >>> len(district.rows["SAMR"]["enterprise"])
    50
    """
    if enterprises < MIN_ENTERPRISES:
        raise ValueError(f"enterprises must be at least {MIN_ENTERPRISES} (the showcase and "
                         "one enterprise per warning level, grade and restriction outcome)")
    as_of = as_of or date.today()
    rng = random.Random(seed)
    # planned enterprises draw from a stream of their own: the rest is drawn as without them
    side = random.Random(f"{seed}-planned")
    registry = draw_registry(rng, enterprises, as_of, solo=len(COVERAGE), side=side)
    rows: dict[str, dict[str, list[dict[str, str]]]] = {
        agency.code: {record_type: [] for record_type in agency.provides} for agency in AGENCIES
    }
    rows["SAMR"]["enterprise"] = registry.enterprise_rows
    rows["SAMR"]["person"] = registry.person_rows
    maker = RecordMaker(rng, as_of, rows)
    showcase, *ordinary = registry.enterprises[:-len(COVERAGE)]
    planned = registry.enterprises[-len(COVERAGE):]
    _showcase_records(maker, showcase)
    for enterprise in ordinary:
        maker.records(enterprise)
    planner = RecordMaker(side, as_of, rows)
    planner.counters = maker.counters  # record ids and document numbers go on
    for enterprise, profile in zip(planned, COVERAGE, strict=True):
        plant(planner, enterprise, profile.records)
    _ensure_coverage(rows, keep={ent.credit_code for ent in (showcase, *planned)})
    _add_person_listings(maker, [showcase, *ordinary])
    _add_bad_rows(maker, showcase)
    return District(rows, showcase.credit_code, showcase.rep_id, seed, as_of)


def _showcase_records(maker: RecordMaker, enterprise: Enterprise) -> None:
    """Records from every agency with mixed openness, some on the legal representative
    (planned: the same warning and grade on any day), and three licences."""
    plant(maker, enterprise, SHOWCASE)
    for step, agency in enumerate(("SAMR", "EPB", "FDA")):
        maker.licence(agency, enterprise, _LEVELS[(step + 1) % 3])


def _ensure_coverage(rows: dict[str, dict[str, list[dict[str, str]]]], *,
                     keep: set[str]) -> None:
    """Make every openness and risk level occur among each agency's risk records.

    Large districts have them all anyway; a small one gets its last rows relabelled,
    never taking a value's only occurrence nor a row about an enterprise in ``keep``
    (the planned ones).
    """
    for by_type in rows.values():
        risky = [row for record_type, type_rows in by_type.items() if record_type != "person"
                 for row in type_rows if row["risk_level"]]
        for column, values in (("openness", _LEVELS), ("risk_level", _RISKS)):
            seen = Counter(row[column] for row in risky)
            for value in values:
                if seen[value]:
                    continue
                donor = next((row for row in reversed(risky) if seen[row[column]] > 1
                              and row["credit_code"] not in keep), None)
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
            "decided_on": maker.iso(maker.this_year(30)),
            "published_on": maker.iso(maker.this_year(25)),
        })
        row[column] = value
        maker.add("EPB", "penalty", row)
