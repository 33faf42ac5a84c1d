"""The candidates of a double-random draw: a plan's enterprises with their risk.

``candidates`` lists the registry's enterprises that meet a plan's filter (status
ACTIVE unless the filter names another), each with its registering agency (登记机关),
its warning level and its credit grade on a given day - what ``schema.inspection_draw``
weighs. Levels and grades come from the registry's risk records read whole
(``schema.registry_risk``, amended by the platform overlay), not enterprise by
enterprise through the loaders: a plan over a 100,000-enterprise district costs one
read per agency and record type.

The basis is the policy's (``policies/derivation.yaml``, ``InspectionDraw``): ALL as
shipped, since the draw is a platform decision (which enterprises the state inspects)
taken deliberately from every agency's records, and the same whoever asks. With
VISIBLE it would use only what the caller may see. Either way the values equal what
``Enterprise.warning`` / ``Enterprise.creditGrade`` give on that basis.

The draw must not be made from part of the records: if an agency's records cannot
be read, ``SourceUnavailableError`` names it and nothing is drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from connectors.errors import SourceError
from connectors.records import Record
from schema.access import Basis
from schema.collector import collector_paused
from schema.connection import EnterpriseFilter
from schema.context import RequestContext
from schema.enums import EnterpriseStatus
from schema.errors import BadUserInput, SourceUnavailableError
from schema.gather import Path
from schema.inspection_types import Candidate
from schema.listing import _Same, registry_conditions_met
from schema.registry_index import RegistrySnapshot
from schema.registry_risk import RegistryRisk, RiskRecords
from schema.risk import SubjectRecords, enterprise_subject, grade_of, indexed, warning_level_of
from schema.risk_index import RiskLevels
from schema.rules.columns import riskless_counted
from schema.rules.grades import _meets as meets
from schema.rules.model import Grade, GradeRules, Lifecycle, WarningLevel
from schema.rules.warnings import merge_records

__all__ = ["DERIVED", "candidates", "grade_alone"]

DERIVED = "InspectionDraw"  # its basis in policies/derivation.yaml


def _meets(record: Record, hidden: frozenset[str], condition: EnterpriseFilter,
           status: EnterpriseStatus) -> bool:
    """Does the enterprise meet the filter's registry conditions (read as the basis
    reads it: a hidden value is null and never matches)?"""
    return registry_conditions_met(record, hidden, condition, status.value)


async def candidates(context: RequestContext, path: Path, condition: EnterpriseFilter | None,
                     as_of: dt.date | None = None) -> list[Candidate]:
    """The enterprises ``condition`` selects, by credit code, with their warning level
    and credit grade on ``as_of`` (default: the request's day). ``warningLevel`` and
    ``creditGrade`` in the filter select on those same values."""
    condition = condition or EnterpriseFilter()
    if condition.has_records_from is not None:
        raise BadUserInput(
            "filter.hasRecordsFrom cannot select an inspection plan's enterprises: a plan "
            "draws from the registry by district, industry, status, name, warning level "
            "and credit grade. Leave it out.", argument="filter.hasRecordsFrom")
    day = as_of or context.today
    view, loaders = context.view, context.loaders
    basis = view.basis(DERIVED)
    try:
        snapshot = await context.index.snapshot(loaders.ages)
    except SourceError as error:
        raise SourceUnavailableError(
            f"The registry (agency {error.agency}) could not be listed, so no draw can be "
            f"made: {error.reason}. Retry later.", agency=error.agency, path=list(path),
        ) from None
    store = context.registry_risk or RegistryRisk(context.sources.providers)
    risk = context.overlay.amend_risk(await store.records(
        snapshot, loaders.ages, loaders.stale, riskless_counted(context.rules)))
    if risk.failed:
        for failure in risk.failed:
            context.failures.add(failure, path)
        failed = "; ".join(f"{e.agency}: {e.reason}" for e in risk.failed)
        raise SourceUnavailableError(
            f"A draw weighs every agency's records, and {failed} - no draw is made from "
            "part of them. Retry when the agency answers.",
            agency=risk.failed[0].agency, path=list(path))
    warnings, grades = await _levels(context, snapshot, risk, basis, day)
    status = condition.status or EnterpriseStatus.ACTIVE
    everything = basis is Basis.ALL
    found: list[Candidate] = []
    with collector_paused():
        for record in snapshot.enterprises:
            code = record.credit_code or ""
            warning, grade = warnings.get(code), grades.get(code)
            if warning is None or grade is None:  # not seen by the caller (VISIBLE)
                continue
            hidden = frozenset() if everything else view.hidden(record)
            if not _meets(record, hidden, condition, status) or not _risk_meets(
                    condition, warning, grade):
                continue
            # the raw value whatever the basis: avoidance (回避) must never lapse
            # because a caller may not read the registering agency
            agency = record.values.get("registering_agency")
            found.append(Candidate(code, agency if isinstance(agency, str) else None,
                                   warning.value, grade.value))
    return found


def _risk_meets(condition: EnterpriseFilter, warning: WarningLevel | Grade,
                grade: WarningLevel | Grade) -> bool:
    return ((condition.warning_level is None or warning is condition.warning_level)
            and (condition.credit_grade is None or grade is condition.credit_grade))


async def _levels(context: RequestContext, snapshot: RegistrySnapshot, risk: RiskRecords,
                  basis: Basis, day: dt.date) -> tuple[RiskLevels, RiskLevels]:
    """Every enterprise's warning level and grade on ``day`` (those the caller sees,
    on a VISIBLE basis), kept in the request's ``RiskIndex`` like the registry-wide
    filters' levels: for as long as the records they come from (their version is in
    the key), under these very rules; on the ALL basis the same for every caller."""
    key: tuple[object, ...] = (DERIVED, basis, _Same(context.rules), day, snapshot.built_at,
                               risk.version)
    if basis is Basis.VISIBLE:
        key += (context.view.clearance, context.view.policy)
    made: dict[str, RiskLevels] = {}

    async def build_warnings() -> tuple[RiskLevels, bool]:
        made["warnings"], made["grades"] = _compute(context, snapshot, risk, basis, day)
        return made["warnings"], True

    async def build_grades() -> tuple[RiskLevels, bool]:
        if "grades" not in made:
            made["warnings"], made["grades"] = _compute(context, snapshot, risk, basis, day)
        return made["grades"], True

    warnings = await context.risk_index.levels((*key, "warning"), build_warnings)
    grades = await context.risk_index.levels((*key, "grade"), build_grades)
    return warnings, grades


def _compute(context: RequestContext, snapshot: RegistrySnapshot, risk: RiskRecords,
             basis: Basis, day: dt.date) -> tuple[RiskLevels, RiskLevels]:
    view, rules = context.view, context.rules
    everything = basis is Basis.ALL
    none = SubjectRecords(basis=basis)
    quiet_warning = warning_level_of(rules, none, day)
    quiet_grade = grade_of(rules, none, day).grade
    by_code, by_person = risk.by_code, risk.by_person
    propagation = rules.warnings.person_propagation
    lifecycle = rules.warnings.lifecycle
    warnings: RiskLevels = {}
    grades: RiskLevels = {}
    with collector_paused():
        for record in snapshot.enterprises:
            if not everything and not view.sees(record):
                continue
            code = record.credit_code or ""
            person = record.values.get("legal_rep_id")
            if code not in by_code and (not isinstance(person, str) or person not in by_person):
                warnings[code], grades[code] = quiet_warning, quiet_grade
                continue
            subject = indexed(view, risk, enterprise_subject(view, record, basis), basis)
            warnings[code] = warning_level_of(rules, subject, day)
            records = (merge_records(subject.enterprise, subject.person)
                       if propagation and subject.person else subject.enterprise)
            grades[code] = grade_alone(records, rules.grades, lifecycle, day)
    return warnings, grades


def grade_alone(records: Sequence[Record], rules: GradeRules, lifecycle: Lifecycle,
                as_of: dt.date) -> Grade:
    """``schema.rules.grades.grade(...).grade`` without gathering the evidence: the
    first grade any of whose conditions one record meets (a filter over the whole
    registry needs only the letter; tested equal to ``grade`` in
    tests/schema/test_inspection_candidates.py)."""
    for rule in rules.rules:
        for condition in rule.when:
            if any(meets(record, condition, as_of, lifecycle) for record in records):
                return rule.grade
    return rules.fallback.grade
