"""Credit grades (信用分级): the first of D, C, B whose conditions a record meets, else A."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from connectors.records import Record
from schema.rules.lifecycle import counted, exists_at, in_force
from schema.rules.model import RISK_RANK, Grade, GradeCondition, GradeRules, Lifecycle

__all__ = ["GradeResult", "grade"]


@dataclass(frozen=True, slots=True)
class GradeResult:
    grade: Grade
    name: str
    basis: tuple[str, ...]
    evidence: tuple[Record, ...]

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(sorted({r.agency for r in self.evidence}))


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
        basis: list[str] = []
        evidence: dict[int, Record] = {}  # by identity: records are compared often
        for condition in rule.when:
            matched = [r for r in records if _meets(r, condition, as_of, lifecycle)]
            if matched:
                basis.append(f"{rule.grade.value} {rule.name}: {condition.describe()} "
                             f"({', '.join(f'{r.agency} {r.record_id}' for r in matched)})")
                for record in matched:
                    evidence.setdefault(id(record), record)
        if evidence:
            return GradeResult(rule.grade, rule.name, tuple(basis), tuple(evidence.values()))
    fallback = rules.fallback
    return GradeResult(fallback.grade, fallback.name, (f"A {fallback.name}: {fallback.meaning}",),
                       ())
