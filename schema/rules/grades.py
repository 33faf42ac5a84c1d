"""Credit grades (信用分级): the first of D, C, B whose conditions a record meets, else A."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from connectors.records import Record
from schema.rules.lifecycle import counted, exists_at, in_force
from schema.rules.model import RISK_RANK, Grade, GradeCondition, GradeRules, Lifecycle

__all__ = ["GradeResult", "grade"]


@dataclass(frozen=True, slots=True)
class GradeResult:
    """A grade, with each condition met and the records that met it (``matched``)."""

    grade: Grade
    name: str
    matched: tuple[tuple[str, tuple[Record, ...]], ...]
    evidence: tuple[Record, ...]
    meaning: str = ""

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(sorted({r.agency for r in self.evidence}))

    def basis(self, shown: Callable[[Record], bool] = lambda record: True) -> tuple[str, ...]:
        """Which conditions were met, naming the records ``shown`` allows and counting
        the others per agency ("2 records from COURT not open to you")."""
        if not self.matched:
            return (f"{self.grade.value} {self.name}: {self.meaning}",)
        lines = []
        for condition, records in self.matched:
            named = [f"{r.agency} {r.record_id}" for r in records if shown(r)]
            withheld = Counter(r.agency for r in records if not shown(r))
            named += [f"{count} record{'s' if count > 1 else ''} from {agency} not open to you"
                      for agency, count in sorted(withheld.items())]
            lines.append(f"{self.grade.value} {self.name}: {condition} ({', '.join(named)})")
        return tuple(lines)


def _meets(record: Record, condition: GradeCondition, as_of: dt.date,
           lifecycle: Lifecycle) -> bool:
    if condition.record is not None and record.record_type != condition.record:
        return False
    if not exists_at(record, as_of):
        return False
    if condition.in_force and not in_force(record, as_of):
        return False
    if condition.counted and not counted(record, as_of, lifecycle):
        return False
    if condition.risk_at_least is not None and (
        record.risk_level is None
        or RISK_RANK[record.risk_level] < RISK_RANK[condition.risk_at_least]
    ):
        return False
    if condition.listed_days_at_least is not None:
        listed = record.values.get("listed_on")
        if not isinstance(listed, dt.date):
            return False
        if (as_of - listed).days < condition.listed_days_at_least:
            return False
    return True


def grade(records: Iterable[Record], rules: GradeRules, lifecycle: Lifecycle,
          as_of: dt.date) -> GradeResult:
    """The credit grade of a subject whose records are ``records``, at ``as_of``."""
    records = list(records)
    for rule in rules.rules:
        met: list[tuple[str, tuple[Record, ...]]] = []
        evidence: dict[int, Record] = {}  # by identity: records are compared often
        for condition in rule.when:
            matched = [r for r in records if _meets(r, condition, as_of, lifecycle)]
            if matched:
                met.append((condition.describe(), tuple(matched)))
                for record in matched:
                    evidence.setdefault(id(record), record)
        if evidence:
            return GradeResult(rule.grade, rule.name, tuple(met), tuple(evidence.values()),
                               rule.meaning)
    fallback = rules.fallback
    return GradeResult(fallback.grade, fallback.name, (), (), fallback.meaning)
