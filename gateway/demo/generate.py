"""A deterministic synthetic district: six agencies' records about the same enterprises.

``generate_district(seed=..., enterprises=...)`` draws everything from one
``random.Random(seed)``, so the same arguments always give the same rows. Rows use
the collection standard's column names and hold strings only (ISO dates, plain
decimal numbers, ``""`` for a missing value), ready to be written as SQL, CSV or JSON.
The vocabulary (names, laws, reasons) lives in ``gateway.demo.vocabulary``.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date

from connectors.credit_code import ALPHABET, with_check_char
from connectors.standard import spec_for
from gateway.demo import vocabulary as v

__all__ = [
    "AGENCIES",
    "GENERATOR_VERSION",
    "AgencyDef",
    "District",
    "generate_district",
    "resident_id_check_char",
]

GENERATOR_VERSION = 1

Row = dict[str, str]
_LEVELS = ("OPEN", "CONDITIONAL", "NOT_OPEN")
_RISKS = ("LOW", "MEDIUM", "HIGH")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True, slots=True)
class AgencyDef:
    """One demo agency: its code, Chinese name, source kind and record types."""

    code: str
    name: str
    kind: str
    provides: tuple[str, ...]


AGENCIES: tuple[AgencyDef, ...] = (
    AgencyDef("SAMR", "市场监督管理局", "sql", ("enterprise", "person", "licence", "penalty",
                                             "anomaly", "serious_violation", "inspection")),
    AgencyDef("TAX", "税务局", "sql", ("penalty", "serious_violation")),
    AgencyDef("EPB", "生态环境局", "csv", ("licence", "penalty", "inspection")),
    AgencyDef("FDA", "食品药品监督管理局", "csv", ("licence", "penalty", "inspection")),
    AgencyDef("COURT", "人民法院", "http", ("judgment_default",)),
    AgencyDef("FIRE", "消防救援支队", "http", ("penalty", "inspection")),
)


@dataclass(frozen=True)
class District:
    """The generated rows: agency code -> record type -> rows of standard columns."""

    rows: dict[str, dict[str, list[dict[str, str]]]]
    showcase_credit_code: str
    showcase_person_id: str
    seed: int
    as_of: date

    @property
    def enterprise_count(self) -> int:
        """How many enterprises the registry (SAMR) holds."""
        return len(self.rows["SAMR"]["enterprise"])


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character of a resident ID number's first 17 digits."""
    total = sum(int(char) * weight for char, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


@dataclass(frozen=True, slots=True)
class _Ent:
    credit_code: str
    district: v.DistrictDef
    industry: str
    established: int  # date ordinal
    rep_id: str
    rep_name: str


def generate_district(
    *, seed: int = 20261123, enterprises: int = 2000, as_of: date = date(2026, 11, 1)
) -> District:
    """Generate ``enterprises`` enterprises and every agency's records about them.

    The first enterprise is the showcase: it has records from all six agencies and
    its legal representative (``showcase_person_id``) represents several enterprises
    and has person-level records. EPB's penalties end with three deliberately bad
    rows (record ids ``EPB-BAD-*``) that exercise bad-row reporting.

    >>> district = generate_district(enterprises=50)
    >>> len(district.rows["SAMR"]["enterprise"])
    50
    """
    if enterprises < 1:
        raise ValueError("enterprises must be at least 1")
    builder = _Builder(random.Random(seed), as_of)
    ents = builder.registry(enterprises)
    builder.showcase(ents[0])
    for ent in ents[1:]:
        builder.records(ent)
    builder.ensure_coverage()
    builder.bad_rows(ents[0])
    return District(builder.rows, ents[0].credit_code, ents[0].rep_id, seed, as_of)


class _Builder:
    """Holds the random stream, counters and output rows of one generation run."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.end = as_of.toordinal()
        self.start = as_of.replace(year=as_of.year - 4, day=min(as_of.day, 28)).toordinal()
        self.year_start = date(as_of.year, 1, 1).toordinal()
        self.rows: dict[str, dict[str, list[Row]]] = {
            a.code: {t: [] for t in a.provides} for a in AGENCIES
        }
        self.counters: Counter[str] = Counter()
        self._iso: dict[int, str] = {}
        self._menus = {ind: self._risk_menu(ind) for ind in (*v.INDUSTRY_NAMES, "农业")}

    # -- small helpers -------------------------------------------------------------

    def iso(self, ordinal: int) -> str:
        found = self._iso.get(ordinal)
        if found is None:
            found = self._iso[ordinal] = date.fromordinal(ordinal).isoformat()
        return found

    def next_id(self, agency: str, abbr: str) -> str:
        key = f"{agency}-{abbr}"
        self.counters[key] += 1
        return f"{key}-{self.counters[key]:06d}"

    def serial(self, key: str, first: int = 1) -> int:
        if key not in self.counters:
            self.counters[key] = first - 1 + self.rng.randint(0, 40)
        self.counters[key] += 1
        return self.counters[key]

    def openness(self) -> str:
        roll = self.rng.random()
        return "OPEN" if roll < 0.6 else "CONDITIONAL" if roll < 0.85 else "NOT_OPEN"

    def when(self, ent: _Ent, margin: int = 0) -> int:
        """A record date after the enterprise was established, a third in this year."""
        hi = self.end - margin
        lo = max(ent.established + 1, self.start)
        if self.rng.random() < 0.35:
            lo = max(lo, self.year_start)
        return self.rng.randint(min(lo, hi), hi)

    def add(self, agency: str, record_type: str, row: Row) -> Row:
        self.rows[agency][record_type].append(row)
        return row

    def common(self, agency: str, abbr: str, ent: _Ent, openness: str | None, risk: str) -> Row:
        return {
            "record_id": self.next_id(agency, abbr),
            "credit_code": ent.credit_code,
            "openness": openness or self.openness(),
            "risk_level": risk,
        }

    # -- the registry ------------------------------------------------------------------

    def registry(self, count: int) -> list[_Ent]:
        rng = self.rng
        persons: list[Row] = []
        slots: list[int] = []
        while len(slots) < count:
            index = len(persons)
            persons.append(self.person())
            many = index == 0 or rng.random() < 0.1
            slots.extend([index] * (3 if index == 0 else rng.randint(2, 4) if many else 1))
        del slots[count:]
        rng.shuffle(slots)
        first = slots.index(0)
        slots[0], slots[first] = slots[first], slots[0]
        codes: set[str] = set()
        names: set[str] = set()
        ents = [self.enterprise(i, persons[p], codes, names) for i, p in enumerate(slots)]
        self.rows["SAMR"]["person"] = persons
        return ents

    def person(self) -> Row:
        rng = self.rng
        pid = f"P{rng.getrandbits(40):010x}"
        birth = date.fromordinal(self.end - rng.randint(22 * 365, 65 * 365))
        first17 = f"{rng.choice(v.ID_AREAS)}{birth:%Y%m%d}{rng.randint(1, 999):03d}"
        given = rng.choice(v.GIVEN) + (rng.choice(v.GIVEN) if rng.random() < 0.7 else "")
        roll = rng.random()
        return {
            "record_id": self.next_id("SAMR", "PER"),
            "credit_code": "",
            "openness": "OPEN" if roll < 0.1 else "CONDITIONAL" if roll < 0.5 else "NOT_OPEN",
            "risk_level": "",
            "person_id": pid,
            "name": rng.choice(v.SURNAMES) + given,
            "id_number": first17 + resident_id_check_char(first17),
        }

    def enterprise(self, index: int, rep: Row, codes: set[str], names: set[str]) -> _Ent:
        rng = self.rng
        district = v.DISTRICTS[1] if index == 0 else rng.choices(v.DISTRICTS, v.DISTRICT_WEIGHTS)[0]
        entity = "有限责任公司" if index == 0 else rng.choices(v.ENTITY_TYPES, v.ENTITY_WEIGHTS)[0]
        if index == 0:
            industry = "食品制造业"
        elif entity in ("个体工商户", "农民专业合作社"):
            industry = "农业" if entity == "农民专业合作社" else rng.choice(v.SHOP_INDUSTRIES)
        else:
            industry = rng.choices(v.INDUSTRY_NAMES, v.INDUSTRY_WEIGHTS)[0]
        code = ""
        while not code or code in codes:
            org = "".join(rng.choices(ALPHABET, k=9))
            code = with_check_char(f"9{v.ENTITY_CODE_CLASS[entity]}{district.code}{org}")
        codes.add(code)
        name = ""
        while not name or name in names:
            size = 2 if rng.random() < 0.9 else 3
            brand = "".join(rng.choices(v.BRAND_SYLLABLES, k=size))
            name = v.enterprise_name(entity, district, brand, industry, rng)
        names.add(name)
        established = self.end - int(rng.triangular(60, 25 * 365, 3 * 365))
        status = "ACTIVE" if index == 0 else rng.choices(v.STATUSES, v.STATUS_WEIGHTS)[0]
        capital = rng.choice(v.SHOP_CAPITAL if entity == "个体工商户" else v.CAPITAL)
        building = f"{rng.randint(1, 12)}号楼{rng.randint(1, 20)}层" if rng.random() < 0.4 else ""
        address = f"北京市{district.name}{rng.choice(district.streets)}{rng.randint(1, 199)}号"
        self.add("SAMR", "enterprise", {
            "record_id": self.next_id("SAMR", "ENT"),
            "credit_code": code,
            "openness": "OPEN" if index == 0 or rng.random() < 0.9 else "CONDITIONAL",
            "risk_level": "",
            "name": name,
            "entity_type": entity,
            "legal_rep_id": rep["person_id"],
            "legal_rep_name": rep["name"],
            "registered_capital": capital,
            "established_on": self.iso(established),
            "status": status,
            "address": address + building,
            "district_code": district.code,
            "industry": industry,
            "registering_agency": f"北京市{district.name}市场监督管理局",
        })
        return _Ent(code, district, industry, established, rep["person_id"], rep["name"])

    # -- records of one enterprise ----------------------------------------------------

    def _risk_menu(self, industry: str) -> tuple[list[tuple[str, str]], list[float]]:
        food = industry in v.FOOD_INDUSTRIES
        dirty = industry in v.POLLUTING_INDUSTRIES
        menu = [
            (("SAMR", "penalty"), 22.0), (("SAMR", "anomaly"), 20.0),
            (("SAMR", "serious_violation"), 2.0), (("SAMR", "inspection"), 6.0),
            (("TAX", "penalty"), 12.0), (("TAX", "serious_violation"), 1.5),
            (("EPB", "penalty"), 9.0 if dirty else 1.0), (("EPB", "inspection"), 4.0 * dirty),
            (("FDA", "penalty"), 10.0 if food else 0.5), (("FDA", "inspection"), 4.0 * food),
            (("COURT", "judgment_default"), 8.0), (("FIRE", "penalty"), 6.0),
            (("FIRE", "inspection"), 4.0),
        ]
        options = [choice for choice, weight in menu if weight > 0]
        return options, [weight for _, weight in menu if weight > 0]

    def records(self, ent: _Ent) -> None:
        rng = self.rng
        industry = ent.industry
        if rng.random() < 0.6:
            count = 1 + (rng.random() < 0.45) + (rng.random() < 0.2) + (rng.random() < 0.08)
            options, weights = self._menus[industry]
            for agency, record_type in rng.choices(options, weights, k=count):
                self.risk_record(agency, record_type, ent)
        for agency, chance in v.licence_chances(industry):
            if rng.random() < chance:
                self.licence(agency, ent)
        for agency, chance in v.inspection_chances(industry):
            if rng.random() < chance:
                self.inspection(agency, ent, failed=False)

    def risk_record(self, agency: str, record_type: str, ent: _Ent,
                    openness: str | None = None, on_person: bool | None = None) -> None:
        if record_type == "penalty":
            self.penalty(agency, ent, openness, on_person)
        elif record_type == "inspection":
            self.inspection(agency, ent, failed=True, openness=openness)
        elif record_type == "judgment_default":
            self.judgment_default(ent, openness, on_person)
        else:
            self.listing(agency, record_type, ent, openness)

    def showcase(self, ent: _Ent) -> None:
        """Records from every agency with mixed openness, some on the legal representative."""
        plan = [
            ("SAMR", "penalty", False), ("SAMR", "penalty", True), ("SAMR", "anomaly", None),
            ("SAMR", "inspection", None), ("TAX", "penalty", False), ("EPB", "penalty", None),
            ("EPB", "inspection", None), ("FDA", "penalty", None), ("FDA", "inspection", None),
            ("COURT", "judgment_default", False), ("COURT", "judgment_default", True),
            ("FIRE", "penalty", None), ("FIRE", "inspection", None),
        ]
        for step, (agency, record_type, on_person) in enumerate(plan):
            self.risk_record(agency, record_type, ent, _LEVELS[step % 3], on_person)
        for step, agency in enumerate(("SAMR", "EPB", "FDA")):
            self.licence(agency, ent, _LEVELS[(step + 1) % 3])

    def penalty(self, agency: str, ent: _Ent, openness: str | None,
                on_person: bool | None) -> None:
        rng = self.rng
        if on_person is None:
            on_person = agency in ("SAMR", "TAX") and rng.random() < 0.1
        violation = rng.choice(v.VIOLATIONS[agency])
        kind = "FINE" if on_person else rng.choices(*v.PENALTY_TYPES[agency])[0]
        amount = v.penalty_amount(agency, kind, rng)
        decided = self.when(ent, margin=7)
        published = decided + rng.randint(1, 7)
        repaired = ""
        if published + 120 < self.end and rng.random() < 0.25:
            repaired = self.iso(rng.randint(published + 90, self.end))
        year = date.fromordinal(decided).year
        prefix = v.DECISION_PREFIX[agency].format(abbr=ent.district.abbr)
        number = self.serial(f"{prefix}{year}")
        self.add(agency, "penalty", {
            **self.common(agency, "PEN", ent, openness, v.penalty_risk(kind, amount, rng)),
            "person_id": ent.rep_id if on_person else "",
            "decision_no": f"{prefix}〔{year}〕{number}号",
            "violation_type": violation.name,
            "penalty_type": kind,
            "content": violation.content(kind, amount, ent.rep_name if on_person else None),
            "amount": amount,
            "decided_on": self.iso(decided),
            "published_on": self.iso(published),
            "repaired_on": repaired,
        })

    def listing(self, agency: str, record_type: str, ent: _Ent, openness: str | None) -> None:
        """An anomaly (经营异常名录) or serious-violation (严重违法失信) listing."""
        rng = self.rng
        reasons = v.ANOMALY_REASONS if record_type == "anomaly" else v.SERIOUS_REASONS[agency]
        reason, removal, risks = rng.choice(reasons)
        listed = self.when(ent)
        removed = self.end > listed + 40 and rng.random() < (
            0.35 if record_type == "anomaly" else 0.12
        )
        self.add(agency, record_type, {
            **self.common(agency, "ANO" if record_type == "anomaly" else "SV", ent, openness,
                          rng.choice(risks)),
            "reason": reason,
            "listed_on": self.iso(listed),
            "removed_on": self.iso(rng.randint(listed + 30, self.end)) if removed else "",
            "removal_reason": removal if removed else "",
        })

    def judgment_default(self, ent: _Ent, openness: str | None, on_person: bool | None) -> None:
        rng = self.rng
        if on_person is None:
            on_person = rng.random() < 0.2
        listed = self.when(ent)
        year = date.fromordinal(listed).year - (rng.random() < 0.4)
        court_code = f"京01{ent.district.code[4:]}"
        obligation, amount = v.obligation(rng)
        partly = rng.random() < 0.25
        risk = "LOW" if amount < 50_000 else "MEDIUM" if amount < 500_000 else "HIGH"
        if partly and risk != "LOW" and rng.random() < 0.5:
            risk = _RISKS[_RISKS.index(risk) - 1]
        removed = self.end > listed + 60 and rng.random() < 0.2
        self.add("COURT", "judgment_default", {
            **self.common("COURT", "JD", ent, openness, risk),
            "person_id": ent.rep_id if on_person else "",
            "court": f"北京市{ent.district.name}人民法院",
            "case_no": f"({year}){court_code}执{self.serial(f'{court_code}{year}', 100)}号",
            "obligation": obligation,
            "performance": "部分履行" if partly else "全部未履行",
            "listed_on": self.iso(listed),
            "removed_on": self.iso(rng.randint(listed + 30, self.end)) if removed else "",
        })

    def inspection(self, agency: str, ent: _Ent, *, failed: bool,
                   openness: str | None = None) -> None:
        rng = self.rng
        code, result, risks = rng.choice(v.FAILED_RESULTS if failed else v.PASSED_RESULTS)
        inspected = self.when(ent)
        when = date.fromordinal(inspected)
        self.add(agency, "inspection", {
            **self.common(agency, "INS", ent, openness, rng.choice(risks) if risks else ""),
            "plan_id": f"{agency}-SJ-{when.year}-{(when.month + 2) // 3:02d}",
            "inspected_on": self.iso(inspected),
            "result_code": code,
            "result": result,
        })

    def licence(self, agency: str, ent: _Ent, openness: str | None = None) -> None:
        rng = self.rng
        name, content, number = v.licence_for(agency, ent.industry, ent.credit_code, rng)
        valid_from = rng.randint(max(ent.established, self.end - 7 * 365), self.end)
        valid_to = valid_from + 5 * 365 - 1
        roll = rng.random()
        status = "EXPIRED" if valid_to < self.end else (
            "VALID" if roll < 0.95 else "SUSPENDED" if roll < 0.98 else "REVOKED")
        self.add(agency, "licence", {
            **self.common(agency, "LIC", ent, openness, ""),
            "licence_no": number,
            "licence_name": name,
            "content": content,
            "valid_from": self.iso(valid_from),
            "valid_to": self.iso(valid_to),
            "status": status,
        })

    # -- guarantees --------------------------------------------------------------------

    def ensure_coverage(self) -> None:
        """Make every openness and risk level occur at every agency (small districts)."""
        for by_type in self.rows.values():
            risky = [r for t, rows in by_type.items() if t != "person" for r in rows
                     if r["risk_level"]]
            for column, values in (("openness", _LEVELS), ("risk_level", _RISKS)):
                seen = Counter(row[column] for row in risky)
                for value in values:
                    if seen[value] == 0:
                        row = next((r for r in reversed(risky) if seen[r[column]] > 1), None)
                        if row is not None:
                            seen[row[column]] -= 1
                            row[column] = value
                            seen[value] += 1

    def bad_rows(self, ent: _Ent) -> None:
        """Three EPB penalties that break the standard, to show bad-row reporting."""
        code = ent.credit_code
        year = self.iso(self.end)[:4]
        wrong = next(c for c in ALPHABET if c != code[17])
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
                "decided_on": self.iso(self.end - 30), "published_on": self.iso(self.end - 25),
            })
            row[column] = value
            self.add("EPB", "penalty", row)
