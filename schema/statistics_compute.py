"""Statistics (决策分析) counted from the caller's view: plain functions, no GraphQL.

What is counted, for a grouping (``Dimension``) and a day ``as_of``:

- ENTERPRISES when every dimension is an enterprise's (DISTRICT, INDUSTRY,
  WARNING_LEVEL, CREDIT_GRADE): the registry's enterprises the caller may see that
  meet the filter and were established by ``as_of`` (an establishment date missing
  or not readable: counted), each once, under its own values.
- RECORDS as soon as one dimension is a record's (AGENCY, RECORD_TYPE, MONTH): the
  regulatory records - penalties, anomalies, serious violations, judgment defaults,
  inspections (licences are not counted) - of those enterprises that the caller may
  see, in a list it may read on the enterprise, made by ``as_of`` (a record without
  a readable date is taken to exist, as everywhere in the rules) and not withdrawn
  by then (an upheld objection, 异议). Each record once, under its own agency, type
  and month and its enterprise's values (a mixed grouping: records per district and
  agency, say).

A value the caller may not read is a null key, never the value: the keys are read
as the caller's copy of the record reads (``CallerView.hidden``) without making the
copies. Warnings and grades are computed as of ``as_of`` on the caller's basis
(derivation.yaml), from the registry's risk records (``schema.registry_risk``)
through the view, exactly as the ``warningLevel`` filter computes them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.records import Record
from connectors.standard import Openness
from schema.access import GRAPH_TYPES, Basis
from schema.gather import PRIMARY_DATE
from schema.registry_risk import RiskRecords
from schema.risk import SubjectRecords, enterprise_subject, grade_of, indexed, warning_level_of
from schema.rules.model import Grade, RuleSet, WarningLevel
from schema.suppression import Counted
from schema.view import CallerView

__all__ = ["ENTERPRISE_FIELDS", "Dimension", "Key", "Levels", "Selection", "Table", "Unit",
           "candidates", "levels_by_day", "registry_levels", "tabulate"]

Key = tuple[str | None, ...]
Levels = Mapping[str, WarningLevel | Grade]  # credit code -> level (enterprises seen)


class Dimension(enum.Enum):
    """What the cells are grouped by."""

    DISTRICT = "DISTRICT"
    INDUSTRY = "INDUSTRY"
    WARNING_LEVEL = "WARNING_LEVEL"
    CREDIT_GRADE = "CREDIT_GRADE"
    AGENCY = "AGENCY"
    RECORD_TYPE = "RECORD_TYPE"
    MONTH = "MONTH"

    @property
    def of_records(self) -> bool:
        return self in _RECORD_DIMENSIONS


_RECORD_DIMENSIONS = frozenset({Dimension.AGENCY, Dimension.RECORD_TYPE, Dimension.MONTH})
# an enterprise dimension -> the Enterprise field (python name) it reads
ENTERPRISE_FIELDS = {
    Dimension.DISTRICT: "district_code",
    Dimension.INDUSTRY: "industry",
    Dimension.WARNING_LEVEL: "warning",
    Dimension.CREDIT_GRADE: "credit_grade",
}


class Unit(enum.Enum):
    ENTERPRISES = "ENTERPRISES"
    RECORDS = "RECORDS"


@dataclass(frozen=True, slots=True)
class Selection:
    """The enterprise filter, as plain values (``EnterpriseFilter`` of the graph)."""

    name_contains: str | None = None
    industry: str | None = None
    district_code: str | None = None
    status: str | None = None
    has_records_from: str | None = None
    warning_level: WarningLevel | None = None
    credit_grade: Grade | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """Exact counts per key (keys in ``group_by`` order), before any protection."""

    group_by: tuple[Dimension, ...]
    unit: Unit
    as_of: dt.date
    cells: dict[Key, Counted]

    @property
    def total(self) -> int:
        return sum(cell.count for cell in self.cells.values())


def registry_levels(view: CallerView, rules: RuleSet, enterprises: Sequence[Record],
                    risk: RiskRecords, basis: Basis, derived: str,
                    as_of: dt.date) -> dict[str, WarningLevel | Grade]:
    """``derived`` (``Enterprise.warning`` or ``Enterprise.creditGrade``) as of
    ``as_of``, on ``basis``, of every enterprise the caller may see (as
    ``schema.listing`` computes today's for the warningLevel filter)."""
    return levels_by_day(view, rules, enterprises, risk, basis, derived, [as_of])[0]


def levels_by_day(view: CallerView, rules: RuleSet, enterprises: Sequence[Record],
                  risk: RiskRecords, basis: Basis, derived: str,
                  days: Sequence[dt.date]) -> list[dict[str, WarningLevel | Grade]]:
    """``registry_levels`` for each of ``days``: each enterprise's records are gathered
    through the view once, the rules applied to them for every day (a trend's 24)."""
    warning = derived == "Enterprise.warning"

    def level(found: SubjectRecords, day: dt.date) -> WarningLevel | Grade:
        return (warning_level_of(rules, found, day) if warning
                else grade_of(rules, found, day).grade)

    # most enterprises have no risk record at all: the rules give them all one value
    without = [level(SubjectRecords(basis=basis), day) for day in days]
    by_code, by_person = risk.by_code, risk.by_person
    levels: list[dict[str, WarningLevel | Grade]] = [{} for _ in days]
    for record in enterprises:
        if not view.sees(record):
            continue
        code = record.credit_code or ""
        person = record.values.get("legal_rep_id")
        if code not in by_code and (not isinstance(person, str) or person not in by_person):
            for into, value in zip(levels, without, strict=True):
                into[code] = value
            continue
        found = indexed(view, risk, enterprise_subject(view, record, basis), basis)
        for into, day in zip(levels, days, strict=True):
            into[code] = level(found, day)
    return levels


def candidates(view: CallerView, enterprises: Sequence[Record],
               selection: Selection) -> list[Record]:
    """The enterprises the caller may see that meet the filter's plain fields (the
    warning, grade and records conditions are ``tabulate``'s)."""
    return [record for record in enterprises
            if view.sees(record) and _meets(record.values, view.hidden(record), selection)]


def _meets(values: Mapping[str, object], hidden: frozenset[str], selection: Selection) -> bool:
    """Does the caller's copy of an enterprise meet the filter's plain fields? (As
    ``schema.listing`` reads it: a hidden value is null and never matches.)"""

    def seen(name: str) -> object:
        return None if name in hidden else values.get(name)

    if selection.name_contains:
        name = seen("name")
        if not isinstance(name, str) or selection.name_contains.casefold() not in name.casefold():
            return False
    if selection.industry is not None and seen("industry") != selection.industry:
        return False
    if selection.district_code is not None:
        district = seen("district_code")
        if not isinstance(district, str) or not district.startswith(selection.district_code):
            return False
    return selection.status is None or seen("status") == selection.status


def _date(record: Record, hidden: frozenset[str], column: str) -> dt.date | None:
    value = None if column in hidden else record.values.get(column)
    return value if isinstance(value, dt.date) else None


# what the caller reads of a record of one shape (type, label, owner): may it see the
# record, the column of its date if it may read it, may it read when it was withdrawn
_Reads = tuple[bool, str | None, bool]


def _reads_of(view: CallerView, record: Record) -> _Reads:
    if not view.sees(record):
        return False, None, False
    hidden = view.hidden(record)
    column = PRIMARY_DATE[record.record_type]
    return True, None if column in hidden else column, "withdrawn_on" not in hidden


def _counted_records(view: CallerView, enterprise: Record, records: Sequence[Record],
                     as_of: dt.date, shapes: dict[tuple[str, Openness, str], _Reads],
                     ) -> list[tuple[Record, dt.date | None]]:
    """The enterprise's records the caller may count at ``as_of``, with their date as
    the caller reads it. ``shapes``: what the caller reads per record shape, filled as
    met (one lookup per record instead of four: 150,000 records per question)."""
    readable = view.readable_types(enterprise, "Enterprise")
    found = []
    for record in records:
        if record.record_type not in readable:
            continue
        shape = (record.record_type, record.openness, record.agency)
        reads = shapes.get(shape)
        if reads is None:
            reads = shapes[shape] = _reads_of(view, record)
        visible, column, withdrawal = reads
        if not visible:
            continue
        values = record.values
        made = values.get(column) if column is not None else None
        if not isinstance(made, dt.date):
            made = None
        elif made > as_of:
            continue
        if withdrawal:
            withdrawn = values.get("withdrawn_on")
            if isinstance(withdrawn, dt.date) and withdrawn <= as_of:
                continue
        found.append((record, made))
    return found


def _enterprise_key(group_by: tuple[Dimension, ...], values: Mapping[str, object],
                    hidden: frozenset[str], code: str, warnings: Levels | None,
                    grades: Levels | None) -> list[str | None]:
    key: list[str | None] = []
    for dimension in group_by:
        if dimension.of_records:
            key.append(None)  # filled in per record
            continue
        field = ENTERPRISE_FIELDS[dimension]
        if field in hidden:
            key.append(None)
        elif dimension is Dimension.WARNING_LEVEL or dimension is Dimension.CREDIT_GRADE:
            levels = warnings if dimension is Dimension.WARNING_LEVEL else grades
            level = levels.get(code) if levels is not None else None
            key.append(level.value if level is not None else None)
        else:
            value = values.get(field)
            key.append(value if isinstance(value, str) and value else None)
    return key


class _RecordKeys:
    """Keys of records under one grouping: the enterprise's part given, the record's
    agency, type and month filled in (a month's text made once per day)."""

    def __init__(self, group_by: tuple[Dimension, ...]) -> None:
        self._slots = [(position, dimension) for position, dimension in enumerate(group_by)
                       if dimension.of_records]
        self._months: dict[dt.date, str] = {}

    def __call__(self, base: list[str | None], record: Record, made: dt.date | None) -> Key:
        key = base.copy()
        for position, dimension in self._slots:
            if dimension is Dimension.AGENCY:
                key[position] = record.agency
            elif dimension is Dimension.RECORD_TYPE:
                key[position] = GRAPH_TYPES[record.record_type]
            elif made is not None:
                month = self._months.get(made)
                if month is None:
                    month = self._months[made] = f"{made.year:04d}-{made.month:02d}"
                key[position] = month
        return tuple(key)


def tabulate(view: CallerView, enterprises: Sequence[Record],
             records: Mapping[str, Sequence[Record]], selection: Selection,
             group_by: tuple[Dimension, ...], as_of: dt.date, *,
             warnings: Levels | None = None, grades: Levels | None = None) -> Table:
    """Count ``enterprises`` (the raw registry) and their raw ``records`` (by credit
    code) through ``view``. ``warnings`` / ``grades``: the levels as of ``as_of``
    (``registry_levels``), needed when grouped or filtered by them."""
    unit = Unit.RECORDS if any(d.of_records for d in group_by) else Unit.ENTERPRISES
    need_records = unit is Unit.RECORDS or selection.has_records_from is not None
    counts: dict[Key, int] = defaultdict(int)
    about: dict[Key, set[str]] = defaultdict(set)
    shapes: dict[tuple[str, Openness, str], _Reads] = {}
    record_key = _RecordKeys(group_by)
    for enterprise in enterprises:
        if not view.sees(enterprise):
            continue
        hidden, values = view.hidden(enterprise), enterprise.values
        if not _meets(values, hidden, selection):
            continue
        established = _date(enterprise, hidden, "established_on")
        if established is not None and established > as_of:
            continue
        code = enterprise.credit_code or ""
        if selection.warning_level is not None and (
                "warning" in hidden or warnings is None
                or warnings.get(code) is not selection.warning_level):
            continue
        if selection.credit_grade is not None and (
                "credit_grade" in hidden or grades is None
                or grades.get(code) is not selection.credit_grade):
            continue
        seen = (_counted_records(view, enterprise, records.get(code, ()), as_of, shapes)
                if need_records else [])
        if selection.has_records_from is not None and not any(
                r.agency == selection.has_records_from for r, _ in seen):
            continue
        base = _enterprise_key(group_by, values, hidden, code, warnings, grades)
        if unit is Unit.ENTERPRISES:
            counts[tuple(base)] += 1  # each enterprise once: count = enterprises
            continue
        for record, made in seen:
            key = record_key(base, record, made)
            counts[key] += 1
            about[key].add(code)
    cells = {key: Counted(count, count if unit is Unit.ENTERPRISES else len(about[key]))
             for key, count in counts.items()}
    return Table(group_by, unit, as_of, cells)
