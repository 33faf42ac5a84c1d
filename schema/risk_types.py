"""Graph types of computed risk: warnings, credit grades, restriction decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import strawberry

from schema.access import Basis
from schema.records import Agency, Record
from schema.rules.model import Decision, Grade, WarningLevel

__all__ = [
    "CreditGrade",
    "RestrictionDecision",
    "RestrictionReason",
    "SourceFreshness",
    "Warning",
    "WarningReason",
    "WithheldEvidence",
]

strawberry.enum(WarningLevel, name="WarningLevel",
                description="Warning level (预警): NONE, YELLOW 黄, ORANGE 橙, RED 红.")
strawberry.enum(Grade, name="Grade", description=(
    "Credit grade (信用等级): A 守信 trustworthy, B 警示 warned, C 失信 dishonest, "
    "D 严重失信 seriously dishonest."))
strawberry.enum(Basis, name="DerivationBasis", description=(
    "What a derived value is computed from (policies/derivation.yaml): VISIBLE - only the "
    "records you may see and the values you may read, so it reveals nothing else; ALL - "
    "every agency's records, by a deliberate policy decision; what you may not read is "
    "then shown only as counts per agency."))
strawberry.enum(Decision, name="Decision", description=(
    "Restriction decision: ALLOWED, RESTRICTED (限制), PROHIBITED (禁止), or INDETERMINATE "
    "when an agency the decision needs could not be read (never ALLOWED then)."))


@strawberry.type(description=(
    "Records behind a derived value that you may not read: only how many, and whose."))
class WithheldEvidence:
    agency: Agency = strawberry.field(description="The owner agency of the records.")
    count: int = strawberry.field(description="How many of its records.")
    message: str = strawberry.field(description='E.g. "2 records from COURT not open to you".')


def _evidence(root: WarningReason | CreditGrade) -> list[Record]:
    return root.evidence_of()


def _withheld(root: WarningReason | CreditGrade) -> list[WithheldEvidence]:
    return root.withheld_of()


def _basis(root: CreditGrade) -> list[str]:
    return root.basis_of()


@strawberry.type(description="One rule that raised a warning, with the records behind it.")
class WarningReason:
    rule: str = strawberry.field(description=(
        "SINGLE_AGENCY_RISK (yellow), SINGLE_AGENCY_HIGH_RISK or SINGLE_AGENCY_REPEATED "
        "(orange), CROSS_AGENCY (red), LEGAL_REPRESENTATIVE (the person's warning)."))
    level: WarningLevel = strawberry.field(description="The level this rule gives.")
    agencies: list[Agency] = strawberry.field(description="Agencies whose records it used.")
    evidence: list[Record] = strawberry.field(resolver=_evidence, description=(
        "The records behind it that you may see (hidden fields null)."))
    withheld: list[WithheldEvidence] = strawberry.field(resolver=_withheld, description=(
        "Records behind it that you may not see (only when derivedFrom is ALL)."))
    # what the two above present, made only when asked (schema.risk_graph): most queries
    # of a warning ask its level and rules, and a page asks a thousand
    evidence_of: strawberry.Private[Callable[[], list[Record]]]
    withheld_of: strawberry.Private[Callable[[], list[WithheldEvidence]]]


@strawberry.type(description=(
    "A warning computed on read (分级预警): within one agency's data YELLOW or ORANGE, "
    "across agencies RED; a legal representative's warning reaches the enterprises they "
    "represent. Computed from your view of the records unless derivedFrom says ALL."))
class Warning:
    level: WarningLevel = strawberry.field(description="The highest level of any reason.")
    reasons: list[WarningReason] = strawberry.field(description="Every rule that applies.")
    agencies: list[Agency] = strawberry.field(description="Agencies behind the warning.")
    partial: bool = strawberry.field(description=(
        "True when an agency could not be read: the level may be too low."))
    missing_agencies: list[Agency] = strawberry.field(description="Agencies not read.")
    as_of: dt.date = strawberry.field(description="The date the warning is computed for.")
    derived_from: Basis = strawberry.field(description=(
        "VISIBLE: computed from the records and values you may read; ALL: from every "
        "agency's records (policies/derivation.yaml)."))


@strawberry.type(description=(
    "Credit grade computed on read (信用分级, Shijingshan rules): D if on the serious "
    "violation list for over a year, C for a counted violation of enough severity, B for "
    "a business anomaly, else A - from your view of the records unless derivedFrom says "
    "ALL."))
class CreditGrade:
    grade: Grade = strawberry.field(description="A, B, C or D.")
    name: str = strawberry.field(description="The grade's name, e.g. 失信 (dishonest).")
    basis: list[str] = strawberry.field(resolver=_basis, description=(
        "Which conditions were met, by which records (records you may not see only "
        "counted)."))
    evidence: list[Record] = strawberry.field(resolver=_evidence, description=(
        "The records behind the grade that you may see."))
    withheld: list[WithheldEvidence] = strawberry.field(resolver=_withheld, description=(
        "Records behind it that you may not see (only when derivedFrom is ALL)."))
    partial: bool = strawberry.field(description="True when an agency could not be read.")
    as_of: dt.date = strawberry.field(description="The date the grade is computed for.")
    derived_from: Basis = strawberry.field(description=(
        "VISIBLE: computed from the records and values you may read; ALL: from every "
        "agency's records (policies/derivation.yaml)."))
    # what the three above present, made only when asked, as WarningReason's
    basis_of: strawberry.Private[Callable[[], list[str]]]
    evidence_of: strawberry.Private[Callable[[], list[Record]]]
    withheld_of: strawberry.Private[Callable[[], list[WithheldEvidence]]]


@strawberry.type(description="A catalogue rule that applies to this decision.")
class RestrictionReason:
    rule: str = strawberry.field(description=(
        "GRADE_<A-D>, WARNING_<level>, SOURCES_MISSING or NOT_IN_REGISTRY."))
    measure: str = strawberry.field(description="The measure's text from the catalogue.")
    agencies: list[Agency] = strawberry.field(description="Agencies whose records led to it.")


@strawberry.type(description="An agency a decision consulted, and how fresh its data was.")
class SourceFreshness:
    agency: Agency = strawberry.field(description="The agency.")
    available: bool = strawberry.field(description="False when it could not be read.")
    freshness: float | None = strawberry.field(description=(
        "The most the data used may be old, in seconds: the agency's cache lifetime "
        "(cache_ttl_s), or that plus stale_if_error_s when a stale copy served; null when "
        "unavailable. A bound, not the exact age: the exact age would tell when another "
        "caller last asked the agency."))


@strawberry.type(description=(
    "May this enterprise be granted the action? (一处违法，处处受限). Computed from every "
    "agency's records and released only to callers cleared for restriction decisions; "
    "it names rules, measures and agencies, never the records."))
class RestrictionDecision:
    credit_code: str = strawberry.field(description="The enterprise asked about.")
    action: str = strawberry.field(description="The action, e.g. LICENCE_APPLICATION.")
    decision: Decision = strawberry.field(description="The decision.")
    grade: Grade | None = strawberry.field(description="The credit grade used (null if unknown).")
    warning_level: WarningLevel | None = strawberry.field(description="The warning level used.")
    reasons: list[RestrictionReason] = strawberry.field(description="Why, rule by rule.")
    sources: list[SourceFreshness] = strawberry.field(description="The agencies consulted.")
    as_of: dt.date = strawberry.field(description="The date the decision is made for.")
