"""Records about enterprises, one agency and record type at a time, with realistic content.

``RecordMaker`` draws from the generator's random stream and appends rows (standard
column names, text values) to the agency's lists. Risk records (penalties, listings,
judgment defaults, failed spot checks) carry the owner agency's risk level; licences
and passed spot checks carry none.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import date

from gateway.demo import vocabulary as v
from gateway.demo.registry import Enterprise

__all__ = ["RecordMaker"]

Row = dict[str, str]
_RISKS = ("LOW", "MEDIUM", "HIGH")


class RecordMaker:
    """Appends generated records to ``rows`` (agency -> record type -> rows)."""

    def __init__(self, rng: random.Random, as_of: date,
                 rows: dict[str, dict[str, list[Row]]]) -> None:
        self.rng = rng
        self.rows = rows
        self.end = as_of.toordinal()
        self.start = as_of.replace(year=as_of.year - 4, day=min(as_of.day, 28)).toordinal()
        self.year_start = date(as_of.year, 1, 1).toordinal()
        self.counters: Counter[str] = Counter()
        # a planned record's date (``planned``), else None: dates are drawn
        self.pinned: int | None = None
        self.last: Row = {}
        self._iso: dict[int, str] = {}
        industries = (*v.INDUSTRY_NAMES, "农业")
        self._menus = {industry: _risk_menu(industry) for industry in industries}
        self._licences = {industry: v.licence_chances(industry) for industry in industries}
        self._inspections = {industry: v.inspection_chances(industry) for industry in industries}

    # -- helpers ---------------------------------------------------------------------

    def iso(self, ordinal: int) -> str:
        """The ISO text of a date ordinal (cached: few distinct dates, many rows)."""
        found = self._iso.get(ordinal)
        if found is None:
            found = self._iso[ordinal] = date.fromordinal(ordinal).isoformat()
        return found

    def next_id(self, agency: str, abbr: str) -> str:
        """The next record id of an agency and type, e.g. ``SAMR-PEN-000123``."""
        key = f"{agency}-{abbr}"
        self.counters[key] += 1
        return f"{key}-{self.counters[key]:06d}"

    def serial(self, key: str, first: int = 1) -> int:
        """The next number of a document series (decision numbers, case numbers)."""
        if key not in self.counters:
            self.counters[key] = first - 1 + self.rng.randint(0, 40)
        self.counters[key] += 1
        return self.counters[key]

    def openness(self) -> str:
        """About 60% OPEN, 25% CONDITIONAL, 15% NOT_OPEN."""
        roll = self.rng.random()
        return "OPEN" if roll < 0.6 else "CONDITIONAL" if roll < 0.85 else "NOT_OPEN"

    def when(self, ent: Enterprise, margin: int = 0) -> int:
        """A record date in the four years to ``as_of`` (about 40% in its calendar year),
        after the enterprise was established and ``margin`` days before ``as_of``."""
        if self.pinned is not None:
            return self.pinned
        hi = self.end - margin
        lo = max(ent.established + 1, self.start)
        if self.rng.random() < 0.25:
            lo = max(lo, self.year_start)
        return self.rng.randint(min(lo, hi), hi)

    def this_year(self, days_back: int) -> int:
        """``days_back`` days before ``as_of``, but not before 1 January of its year:
        a date that is in the current record cycle whatever day ``as_of`` is."""
        return max(self.end - days_back, self.year_start)

    def planned(self, on: int, make: Callable[[], None], **values: str) -> None:
        """Make one record with ``make`` dated ``on`` (ordinal, at most ``as_of``), then
        overwrite its columns with ``values`` (e.g. ``risk_level``). A planned record is
        in force: no removal or repair unless ``values`` give one; a penalty is
        published up to three days after its decision, never after ``as_of``. The
        record draws from a stream of its own (one draw from the main one), so what
        it draws never depends on the day: whether a removal is drawn, for example,
        depends on dates."""
        main = self.rng
        self.rng, self.pinned = random.Random(main.getrandbits(64)), on
        try:
            make()
        finally:
            self.rng, self.pinned = main, None
        row = self.last
        if row.get("published_on"):
            row["published_on"] = self.iso(min(on + 3, self.end))
        for column in ("removed_on", "repaired_on"):
            if column in row and column not in values:
                row[column] = ""
        row.update(values)

    def add(self, agency: str, record_type: str, row: Row) -> None:
        """Append a row to the agency's list of that type."""
        self.rows[agency][record_type].append(row)
        self.last = row

    def _common(self, agency: str, abbr: str, ent: Enterprise, openness: str | None,
                risk: str) -> Row:
        return {
            "record_id": self.next_id(agency, abbr),
            "credit_code": ent.credit_code,
            "openness": openness or self.openness(),
            "risk_level": risk,
        }

    # -- records -----------------------------------------------------------------------

    def records(self, ent: Enterprise) -> None:
        """An ordinary enterprise's records: six in ten have one to four risk records
        (agencies weighted by industry); licences and passed spot checks by industry."""
        rng = self.rng
        industry = ent.industry
        if rng.random() < 0.6:
            count = 1 + (rng.random() < 0.45) + (rng.random() < 0.2) + (rng.random() < 0.08)
            options, weights = self._menus[industry]
            for agency, record_type in rng.choices(options, weights, k=count):
                self.risk_record(agency, record_type, ent)
        for agency, chance in self._licences[industry]:
            if rng.random() < chance:
                self.licence(agency, ent)
        for agency, chance in self._inspections[industry]:
            if rng.random() < chance:
                self.inspection(agency, ent, failed=False)

    def risk_record(self, agency: str, record_type: str, ent: Enterprise,
                    openness: str | None = None, on_person: bool | None = None) -> None:
        """One risk record; ``openness``/``on_person`` left ``None`` are drawn."""
        if record_type == "penalty":
            self.penalty(agency, ent, openness, on_person)
        elif record_type == "inspection":
            self.inspection(agency, ent, failed=True, openness=openness)
        elif record_type == "judgment_default":
            self.judgment_default(ent, openness, on_person)
        else:
            self.listing(agency, record_type, ent, openness)

    def penalty(self, agency: str, ent: Enterprise, openness: str | None,
                on_person: bool | None, kind: str | None = None) -> None:
        """An administrative penalty (行政处罚); SAMR and TAX sometimes fine the legal rep.
        ``kind`` (a penalty type) left ``None`` is drawn."""
        rng = self.rng
        if on_person is None:
            on_person = agency in ("SAMR", "TAX") and rng.random() < 0.1
        violation = rng.choice(v.VIOLATIONS[agency])
        drawn = "FINE" if on_person else rng.choices(*v.PENALTY_TYPES[agency])[0]
        kind = kind or drawn
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
            **self._common(agency, "PEN", ent, openness, v.penalty_risk(kind, amount, rng)),
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

    def listing(self, agency: str, record_type: str, ent: Enterprise, openness: str | None) -> None:
        """An anomaly (经营异常名录) or serious-violation (严重违法失信) listing."""
        rng = self.rng
        reasons = v.ANOMALY_REASONS if record_type == "anomaly" else v.SERIOUS_REASONS[agency]
        reason, removal, risks = rng.choice(reasons)
        listed = self.when(ent)
        removed = self.end > listed + 40 and rng.random() < (
            0.35 if record_type == "anomaly" else 0.12
        )
        self.add(agency, record_type, {
            **self._common(agency, "ANO" if record_type == "anomaly" else "SV", ent, openness,
                           rng.choice(risks)),
            "reason": reason,
            "listed_on": self.iso(listed),
            "removed_on": self.iso(rng.randint(listed + 30, self.end)) if removed else "",
            "removal_reason": removal if removed else "",
        })

    def judgment_default(self, ent: Enterprise, openness: str | None,
                         on_person: bool | None, *, alone: bool = False) -> None:
        """A judgment default (失信被执行人) listed by the district court. ``alone``: the
        legal representative is listed personally, not the enterprise (empty credit
        code), and the listing is still in force."""
        rng = self.rng
        if alone:
            on_person = True
        elif on_person is None:
            on_person = rng.random() < 0.2
        listed = self.when(ent)
        year = date.fromordinal(listed).year - (rng.random() < 0.4)
        court_code = f"京01{ent.district.code[4:]}"
        obligation, amount = v.obligation(rng)
        partly = rng.random() < 0.25
        risk = "LOW" if amount < 50_000 else "MEDIUM" if amount < 500_000 else "HIGH"
        if partly and risk != "LOW" and rng.random() < 0.5:
            risk = _RISKS[_RISKS.index(risk) - 1]
        removed = not alone and self.end > listed + 60 and rng.random() < 0.2
        common = self._common("COURT", "JD", ent, openness, risk)
        if alone:
            common["credit_code"] = ""
        self.add("COURT", "judgment_default", {
            **common,
            "person_id": ent.rep_id if on_person else "",
            "court": f"北京市{ent.district.name}人民法院",
            "case_no": f"({year}){court_code}执{self.serial(f'{court_code}{year}', 100)}号",
            "obligation": obligation,
            "performance": "部分履行" if partly else "全部未履行",
            "listed_on": self.iso(listed),
            "removed_on": self.iso(rng.randint(listed + 30, self.end)) if removed else "",
        })

    def inspection(self, agency: str, ent: Enterprise, *, failed: bool,
                   openness: str | None = None) -> None:
        """A spot check (双随机抽查); a failed one carries a risk level."""
        rng = self.rng
        code, result, risks = rng.choice(v.FAILED_RESULTS if failed else v.PASSED_RESULTS)
        inspected = self.when(ent)
        when = date.fromordinal(inspected)
        self.add(agency, "inspection", {
            **self._common(agency, "INS", ent, openness, rng.choice(risks) if risks else ""),
            "plan_id": f"{agency}-SJ-{when.year}-{(when.month + 2) // 3:02d}",
            "inspected_on": self.iso(inspected),
            "result_code": code,
            "result": result,
        })

    def licence(self, agency: str, ent: Enterprise, openness: str | None = None) -> None:
        """A licence (行政许可) valid five years; expired ones say so."""
        rng = self.rng
        name, content, number = v.licence_for(agency, ent.industry, ent.credit_code, rng)
        valid_from = rng.randint(max(ent.established, self.end - 7 * 365), self.end)
        valid_to = valid_from + 5 * 365 - 1
        roll = rng.random()
        status = "EXPIRED" if valid_to < self.end else (
            "VALID" if roll < 0.95 else "SUSPENDED" if roll < 0.98 else "REVOKED")
        self.add(agency, "licence", {
            **self._common(agency, "LIC", ent, openness, ""),
            "licence_no": number,
            "licence_name": name,
            "content": content,
            "valid_from": self.iso(valid_from),
            "valid_to": self.iso(valid_to),
            "status": status,
        })


def _risk_menu(industry: str) -> tuple[list[tuple[str, str]], list[float]]:
    """Which agency's risk records an enterprise of this industry gets, and how often."""
    food = industry in v.FOOD_INDUSTRIES
    dirty = industry in v.POLLUTING_INDUSTRIES
    menu = (
        (("SAMR", "penalty"), 22.0), (("SAMR", "anomaly"), 20.0),
        (("SAMR", "serious_violation"), 2.0), (("SAMR", "inspection"), 6.0),
        (("TAX", "penalty"), 12.0), (("TAX", "serious_violation"), 1.5),
        (("EPB", "penalty"), 9.0 if dirty else 1.0), (("EPB", "inspection"), 4.0 * dirty),
        (("FDA", "penalty"), 10.0 if food else 0.5), (("FDA", "inspection"), 4.0 * food),
        (("COURT", "judgment_default"), 8.0), (("FIRE", "penalty"), 6.0),
        (("FIRE", "inspection"), 4.0),
    )
    options = [choice for choice, weight in menu if weight > 0]
    return options, [weight for _, weight in menu if weight > 0]
