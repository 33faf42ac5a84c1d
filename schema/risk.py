"""Computing warnings and grades for the graph: gather a subject's records (those
the caller may see), apply the rules, build the graph objects."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import strawberry

from connectors.records import Record as SourceRecord
from schema.context import RequestContext
from schema.gather import gather_checked, prefetch_checked
from schema.records import RECORD_CLASSES, Record, build_record
from schema.redaction import note_redactions
from schema.risk_types import CreditGrade, Warning, WarningReason
from schema.rules.grades import GradeResult, grade
from schema.rules.model import RuleSet
from schema.rules.warnings import WarningResult, evaluate, merge_records, with_person

__all__ = [
    "PERSON_RISK_TYPES",
    "RISK_TYPES",
    "SubjectRecords",
    "collect",
    "collect_many",
    "grade_graph",
    "grade_of",
    "warning_graph",
    "warning_of",
]

Info = strawberry.Info[RequestContext, None]

RISK_TYPES = ("penalty", "anomaly", "serious_violation", "judgment_default", "inspection")
PERSON_RISK_TYPES = ("penalty", "judgment_default")


@dataclass(slots=True)
class SubjectRecords:
    """A subject's risk records: by credit code, on its legal representative, and the
    agencies that could not be read."""

    enterprise: list[SourceRecord] = field(default_factory=list)
    person: list[SourceRecord] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)


async def collect(
    info: Info, credit_code: str | None, person_id: str | None
) -> SubjectRecords:
    """One subject's visible risk records, through the request's loaders."""
    found = SubjectRecords()
    jobs = []
    if credit_code:
        jobs += [gather_checked(info, t, "credit_code", [credit_code]) for t in RISK_TYPES]
    if person_id:
        jobs += [gather_checked(info, t, "person_id", [person_id]) for t in PERSON_RISK_TYPES]
    results = await asyncio.gather(*jobs)
    for index, (per_key, failed) in enumerate(results):
        by_code = credit_code is not None and index < len(RISK_TYPES)
        (found.enterprise if by_code else found.person).extend(per_key[0])
        found.missing |= failed
    return found


async def collect_many(
    info: Info,
    codes: Sequence[str],
    person_ids: Sequence[str | None],
    path: Sequence[str | int],
    *,
    visible_only: bool = True,
    prime: bool = True,
    sort: bool = True,
) -> list[SubjectRecords]:
    """Risk records of many enterprises (and their legal representatives): one call
    per agency and type for all of them."""
    people = sorted({p for p in person_ids if p})
    jobs = [prefetch_checked(info, t, "credit_code", codes, path, prime=prime,
                             visible_only=visible_only, sort=sort) for t in RISK_TYPES]
    jobs += [prefetch_checked(info, t, "person_id", people, path, prime=prime,
                              visible_only=visible_only, sort=sort)
             for t in PERSON_RISK_TYPES]
    results = await asyncio.gather(*jobs)
    subjects = [SubjectRecords() for _ in codes]
    missing: set[str] = set()
    for per_key, failed in results[: len(RISK_TYPES)]:
        missing |= failed
        for subject, records in zip(subjects, per_key, strict=True):
            subject.enterprise.extend(records)
    by_person: dict[str, list[SourceRecord]] = {p: [] for p in people}
    for per_key, failed in results[len(RISK_TYPES):]:
        missing |= failed
        for person, records in zip(people, per_key, strict=True):
            by_person[person].extend(records)
    for subject, person_id in zip(subjects, person_ids, strict=True):
        subject.person = by_person.get(person_id or "", [])
        subject.missing = set(missing)
    return subjects


def warning_of(rules: RuleSet, subject: SubjectRecords, person_id: str | None,
               as_of: dt.date) -> WarningResult:
    """An enterprise's warning (or a person's, when ``subject.enterprise`` is empty)."""
    policy = rules.warnings
    if not (policy.person_propagation and subject.person):
        return evaluate(subject.enterprise, policy, as_of)
    merged = evaluate(merge_records(subject.enterprise, subject.person), policy, as_of)
    return with_person(merged, evaluate(subject.person, policy, as_of), person_id or "")


def grade_of(rules: RuleSet, subject: SubjectRecords, as_of: dt.date) -> GradeResult:
    records = subject.enterprise
    if rules.warnings.person_propagation:
        records = merge_records(subject.enterprise, subject.person)
    return grade(records, rules.grades, rules.warnings.lifecycle, as_of)


def _evidence(info: Info, records: Sequence[SourceRecord],
              under: tuple[str, ...]) -> list[Record]:
    context = info.context
    built: list[Record] = []
    for record in records:
        hidden = context.access.hidden(record)
        if hidden:
            note_redactions(info, hidden, under=under)
        cls = RECORD_CLASSES[record.record_type]
        built.append(build_record(cls, record, context.agencies[record.agency], hidden))
    return built


def warning_graph(info: Info, result: WarningResult, missing: set[str],
                  as_of: dt.date) -> Warning:
    agencies = info.context.agencies
    return Warning(
        level=result.level,
        reasons=[
            WarningReason(
                rule=reason.rule,
                level=reason.level,
                agencies=[agencies[a] for a in reason.agencies],
                evidence=_evidence(info, reason.evidence, ("reasons", "evidence")),
            )
            for reason in result.reasons
        ],
        agencies=[agencies[a] for a in result.agencies],
        partial=bool(missing),
        missing_agencies=[agencies[a] for a in sorted(missing)],
        as_of=as_of,
    )


def grade_graph(info: Info, result: GradeResult, missing: set[str],
                as_of: dt.date) -> CreditGrade:
    return CreditGrade(
        grade=result.grade,
        name=result.name,
        basis=list(result.basis),
        evidence=_evidence(info, result.evidence, ("evidence",)),
        partial=bool(missing),
        as_of=as_of,
    )
