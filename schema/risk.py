"""Gathering what warnings and grades are computed from, and computing them.

Plain functions of the request context (nothing here knows GraphQL). What a
derived value is computed from is its *derivation basis* (``schema.access.Basis``):
with ``VISIBLE`` (the default) the records come through the caller's view - only
records it may see, only values it may read, only record types whose list field it
may read on the subject, and the legal representative's records only when it may
read the link to them; with ``ALL`` every raw record counts (restriction decisions,
and warnings where derivation.yaml says so).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.records import Record as SourceRecord
from schema.access import Basis
from schema.context import RequestContext
from schema.gather import Path, Wave, gather_checked
from schema.rules.grades import GradeResult, grade
from schema.rules.model import RuleSet, WarningLevel
from schema.rules.warnings import (
    WarningResult,
    evaluate,
    level_of,
    merge_records,
    with_person,
)
from schema.view import CallerView

if TYPE_CHECKING:
    from schema.registry_risk import RiskRecords

__all__ = [
    "PERSON_RISK_TYPES",
    "RISK_TYPES",
    "Subject",
    "SubjectRecords",
    "collect",
    "collect_many",
    "enterprise_subject",
    "grade_of",
    "indexed",
    "warning_level_of",
    "warning_of",
]

RISK_TYPES = ("penalty", "anomaly", "serious_violation", "judgment_default", "inspection")
PERSON_RISK_TYPES = ("penalty", "judgment_default")
_PERSON_RISK_SET = frozenset(PERSON_RISK_TYPES)


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose records a derivation gathers: an enterprise by credit code (records of
    ``types`` only) and its legal representative by person id (records of
    ``person_types``), or a person alone."""

    credit_code: str | None
    person_id: str | None
    types: frozenset[str] = frozenset(RISK_TYPES)
    person_types: frozenset[str] = frozenset(PERSON_RISK_TYPES)


@dataclass(slots=True)
class SubjectRecords:
    """A subject's risk records: by credit code, on its legal representative, the
    agencies that could not be read, and the basis they were gathered on."""

    enterprise: list[SourceRecord] = field(default_factory=list)
    person: list[SourceRecord] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    basis: Basis = Basis.VISIBLE


def enterprise_subject(view: CallerView, raw: SourceRecord, basis: Basis) -> Subject:
    """The subject of an enterprise's warning or grade, from its raw registry record."""
    person = raw.values.get("legal_rep_id")
    person_id = person if isinstance(person, str) and person else None
    if basis is Basis.ALL:
        return Subject(raw.credit_code, person_id)
    if person_id is not None and not view.field_visible(raw, "legal_rep_id"):
        person_id = None
    # readable list types (a licence list among them does no harm: only risk types
    # are gathered)
    return Subject(raw.credit_code, person_id, view.readable_types(raw, "Enterprise"))


def person_subject(view: CallerView, raw: SourceRecord, basis: Basis) -> Subject:
    """The subject of a person's own warning, from their raw person record."""
    person_id = raw.person_id
    if basis is Basis.ALL:
        return Subject(None, person_id)
    types = view.readable_types(raw, "Person") & _PERSON_RISK_SET
    return Subject(None, person_id, frozenset(), types)


async def collect(context: RequestContext, path: Path, subject: Subject,
                  basis: Basis) -> SubjectRecords:
    """One subject's records through the request's loaders (batched with the other
    subjects resolved at the same moment)."""
    found = SubjectRecords(basis=basis)
    visible = basis is Basis.VISIBLE
    jobs = []
    code, person = subject.credit_code, subject.person_id
    by_code = [t for t in RISK_TYPES if t in subject.types] if code else []
    by_person = [t for t in PERSON_RISK_TYPES if t in subject.person_types] if person else []
    jobs += [gather_checked(context, path, t, "credit_code", [code or ""], visible_only=visible)
             for t in by_code]
    jobs += [gather_checked(context, path, t, "person_id", [person or ""], visible_only=visible)
             for t in by_person]
    results = await asyncio.gather(*jobs)
    for index, (per_key, failed) in enumerate(results):
        (found.enterprise if index < len(by_code) else found.person).extend(per_key[0])
        found.missing |= failed
    return found


async def collect_many(
    context: RequestContext,
    path: Path,
    subjects: Sequence[Subject],
    basis: Basis,
    *,
    prime: bool = True,
    sort: bool = True,
    waves: list[Wave] | None = None,
) -> list[SubjectRecords]:
    """Records of many subjects: one call per agency and type for all of them (asked
    by ``waves`` when given - ``risk_waves`` of the same subjects, started earlier)."""
    people = sorted({s.person_id for s in subjects if s.person_id})
    visible = basis is Basis.VISIBLE
    if waves is None:
        waves = risk_waves(context, subjects, prime=prime)
    results = [await wave.records(path, visible_only=visible, sort=sort) for wave in waves]
    found = [SubjectRecords(basis=basis) for _ in subjects]
    missing: set[str] = set()
    for record_type, (per_key, failed) in zip(RISK_TYPES, results, strict=False):
        missing |= failed
        for subject, into, records in zip(subjects, found, per_key, strict=True):
            if records and record_type in subject.types and subject.credit_code:
                into.enterprise.extend(records)
    by_person: dict[str, list[SourceRecord]] = {p: [] for p in people}
    for per_key, failed in results[len(RISK_TYPES):]:
        missing |= failed
        for person, records in zip(people, per_key, strict=True):
            by_person[person].extend(records)
    for subject, into in zip(subjects, found, strict=True):
        if subject.person_id:
            into.person = [r for r in by_person[subject.person_id]
                           if r.record_type in subject.person_types]
        into.missing = set(missing)
    return found


def risk_waves(context: RequestContext, subjects: Sequence[Subject], *,
               prime: bool = True) -> list[Wave]:
    """Every risk record type of ``subjects`` asked at once (``schema.gather.Wave``), by
    credit code and by person id, in ``collect_many``'s order."""
    codes = [s.credit_code or "" for s in subjects]
    people = sorted({s.person_id for s in subjects if s.person_id})
    waves = [Wave(context, t, "credit_code", codes, prime=prime) for t in RISK_TYPES]
    waves += [Wave(context, t, "person_id", people, prime=prime) for t in PERSON_RISK_TYPES]
    return waves


def indexed(view: CallerView, risk: RiskRecords, subject: Subject,
            basis: Basis) -> SubjectRecords:
    """What ``collect_many`` gathers for ``subject``, taken from the registry's risk
    records (``schema.registry_risk``) instead of the agencies: the same records through
    the same view, unsorted (only rules read them)."""
    found = SubjectRecords(basis=basis, missing=set(risk.missing) if risk.missing else set())
    visible = basis is Basis.VISIBLE
    if subject.credit_code:
        own = [r for r in risk.by_code.get(subject.credit_code, ())
               if r.record_type in subject.types]
        found.enterprise = view.seen_all(own) if visible and own else own
    if subject.person_id:
        theirs = [r for r in risk.by_person.get(subject.person_id, ())
                  if r.record_type in subject.person_types]
        found.person = view.seen_on(theirs, "person_id") if visible and theirs else theirs
    return found


def warning_of(rules: RuleSet, subject: SubjectRecords, person_id: str | None,
               as_of: dt.date) -> WarningResult:
    """An enterprise's warning (or a person's, when ``subject.enterprise`` is empty)."""
    policy = rules.warnings
    if not (policy.person_propagation and subject.person):
        return evaluate(subject.enterprise, policy, as_of)
    merged = evaluate(merge_records(subject.enterprise, subject.person), policy, as_of)
    return with_person(merged, evaluate(subject.person, policy, as_of), person_id or "")


def warning_level_of(rules: RuleSet, subject: SubjectRecords, as_of: dt.date) -> WarningLevel:
    """``warning_of(...).level`` without the reasons and evidence."""
    policy = rules.warnings
    if not (policy.person_propagation and subject.person):
        return level_of(subject.enterprise, policy, as_of)
    merged = level_of(merge_records(subject.enterprise, subject.person), policy, as_of)
    person = level_of(subject.person, policy, as_of)
    return merged if merged.rank >= person.rank else person


def grade_of(rules: RuleSet, subject: SubjectRecords, as_of: dt.date) -> GradeResult:
    records = subject.enterprise
    if rules.warnings.person_propagation:
        records = merge_records(subject.enterprise, subject.person)
    return grade(records, rules.grades, rules.warnings.lifecycle, as_of)
