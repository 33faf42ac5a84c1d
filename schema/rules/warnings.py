"""Warnings (分级预警): YELLOW / ORANGE within one agency's data, RED across agencies.

``evaluate`` is pure: the records of a subject, the rules and a date in; a level
with its reasons and evidence out. Adding a record never lowers the level - every
rule only adds reasons.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from connectors.records import Record
from schema.gather import PRIMARY_DATE
from schema.rules.lifecycle import counted
from schema.rules.model import WarningLevel, WarningRules

__all__ = ["Reason", "WarningResult", "evaluate", "level_of", "merge_records"]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a level applies: a rule, its level, the agencies and the records behind it."""

    rule: str
    level: WarningLevel
    agencies: tuple[str, ...]
    evidence: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class WarningResult:
    level: WarningLevel
    reasons: tuple[Reason, ...]

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(sorted({a for reason in self.reasons for a in reason.agencies}))


NONE = WarningResult(WarningLevel.NONE, ())


def merge_records(*groups: Iterable[Record]) -> list[Record]:
    """All records once each (an agency's record id identifies it)."""
    seen: dict[tuple[str, str, str], Record] = {}
    for group in groups:
        for record in group:
            seen.setdefault((record.agency, record.record_type, record.record_id), record)
    return list(seen.values())


def _within(record: Record, as_of: dt.date, days: int) -> bool:
    made = record.values.get(PRIMARY_DATE[record.record_type])
    return not isinstance(made, dt.date) or (as_of - made).days <= days


def evaluate(records: Iterable[Record], rules: WarningRules, as_of: dt.date) -> WarningResult:
    """The warning of a subject whose records are ``records``, at ``as_of``."""
    risky = [
        r for r in records if r.risk_level is not None and counted(r, as_of, rules.lifecycle)
    ]
    if not risky:
        return NONE
    by_agency: defaultdict[str, list[Record]] = defaultdict(list)
    for record in risky:
        by_agency[record.agency].append(record)
    reasons: list[Reason] = []
    for agency in sorted(by_agency):
        own = by_agency[agency]
        high = [r for r in own if r.risk_level in rules.orange_levels]
        if high:
            reasons.append(Reason("SINGLE_AGENCY_HIGH_RISK", WarningLevel.ORANGE, (agency,),
                                  tuple(high)))
        recent = [r for r in own if _within(r, as_of, rules.orange_window_days)]
        if len(recent) >= rules.orange_min_records:
            reasons.append(Reason("SINGLE_AGENCY_REPEATED", WarningLevel.ORANGE, (agency,),
                                  tuple(recent)))
        lower = [r for r in own if r.risk_level in rules.yellow_levels]
        if lower:
            reasons.append(Reason("SINGLE_AGENCY_RISK", WarningLevel.YELLOW, (agency,),
                                  tuple(lower)))
    if len(by_agency) >= rules.red_min_agencies:
        reasons.append(Reason("CROSS_AGENCY", WarningLevel.RED, tuple(sorted(by_agency)),
                              tuple(risky)))
    level = max((r.level for r in reasons), key=lambda level: level.rank)
    return WarningResult(level, tuple(reasons))


def level_of(records: Iterable[Record], rules: WarningRules, as_of: dt.date) -> WarningLevel:
    """``evaluate(records, rules, as_of).level`` without making its reasons: what a
    filter over the whole registry reads, for every enterprise."""
    by_agency: dict[str, list[Record]] = {}
    lifecycle = rules.lifecycle
    for record in records:
        if record.risk_level is not None and counted(record, as_of, lifecycle):
            found = by_agency.get(record.agency)
            if found is None:
                by_agency[record.agency] = [record]
            else:
                found.append(record)
    if not by_agency:
        return WarningLevel.NONE
    if len(by_agency) >= rules.red_min_agencies:
        return WarningLevel.RED
    level = WarningLevel.NONE
    for own in by_agency.values():
        if any(r.risk_level in rules.orange_levels for r in own) or (
                sum(1 for r in own if _within(r, as_of, rules.orange_window_days))
                >= rules.orange_min_records):
            return WarningLevel.ORANGE
        if any(r.risk_level in rules.yellow_levels for r in own):
            level = WarningLevel.YELLOW
    return level


def with_person(
    enterprise: WarningResult, person: WarningResult, person_id: str
) -> WarningResult:
    """An enterprise's warning with its legal representative's warning shown as a
    reason of its own (一处预警，处处受限)."""
    if person.level is WarningLevel.NONE:
        return enterprise
    evidence = merge_records(*(reason.evidence for reason in person.reasons))
    reason = Reason("LEGAL_REPRESENTATIVE", person.level, person.agencies, tuple(evidence))
    reasons = (*enterprise.reasons, reason)
    level = max((r.level for r in reasons), key=lambda level: level.rank)
    return WarningResult(level, reasons)
