"""Listing enterprises: filter the registry through the caller's view, page it.

Plain functions of the request context (nothing here knows GraphQL). A caller may
filter only on values it may read: a filter on a field its clearance can never
read is refused (``FILTER_NOT_ALLOWED``), and on a field hidden for one enterprise
it never matches that enterprise - so every count equals the count of the
caller's own view.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.base import Connector
from connectors.errors import SourceError
from connectors.records import Record as SourceRecord
from connectors.standard import RECORD_TYPES
from schema.access import Basis
from schema.collector import collector_paused
from schema.connection import EnterpriseFilter, decode_cursor
from schema.context import RequestContext
from schema.errors import BadUserInput, FilterNotAllowed, SourceUnavailableError
from schema.gather import Path
from schema.registry_index import RegistrySnapshot
from schema.registry_risk import RegistryRisk, RiskRecords
from schema.risk import (
    SubjectRecords,
    enterprise_subject,
    grade_of,
    indexed,
    warning_level_of,
)
from schema.risk_index import RiskLevels
from schema.rules.columns import riskless_counted
from schema.rules.model import Grade, WarningLevel
from schema.view import CallerView

__all__ = ["MAX_PAGE", "Page", "list_enterprises"]

MAX_PAGE = 1000

# filter argument -> (the Enterprise field it reads, python name)
_READS = {
    "nameContains": "name",
    "industry": "industry",
    "districtCode": "district_code",
    "status": "status",
    "warningLevel": "warning",
    "creditGrade": "credit_grade",
}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the enterprises that met the filter (raw registry records the
    caller may see), and where it stands in the whole list."""

    records: list[SourceRecord]
    total: int
    start: int


class _Same:
    """A key part equal to another only when both hold the very same object (the rules:
    not hashable by content). Holding it keeps its id from being reused meanwhile."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


def _given(condition: EnterpriseFilter) -> list[str]:
    values = {
        "nameContains": condition.name_contains, "industry": condition.industry,
        "districtCode": condition.district_code, "status": condition.status,
        "warningLevel": condition.warning_level, "creditGrade": condition.credit_grade,
    }
    return [name for name, value in values.items() if value is not None and value != ""]


def _refuse_unreadable(view: CallerView, condition: EnterpriseFilter, owner: str) -> None:
    for name in _given(condition):
        field = _READS[name]
        if not view.may_ever_read("Enterprise", field, owner):
            graph_field = "creditGrade" if field == "credit_grade" else (
                "districtCode" if field == "district_code" else field)
            raise FilterNotAllowed(
                f"filter.{name} reads Enterprise.{graph_field}, which your clearance may "
                "not read; a caller may filter only on values it may see. Leave it out "
                "(or ask with a purpose that opens the field).", argument=f"filter.{name}")


def registry_conditions_met(record: SourceRecord, hidden: frozenset[str],
                            condition: EnterpriseFilter, status: str | None) -> bool:
    """Does an enterprise's registry record meet the filter's registry conditions (name,
    industry, district) and have ``status`` (any when None)? Read as a copy reads (a
    hidden value is null, so a condition on it never matches) without making one: a
    filter over 100,000 enterprises then costs no copies."""
    values = record.values

    def seen(name: str) -> object:
        return None if name in hidden else values.get(name)

    if condition.name_contains:
        name = seen("name")
        if not isinstance(name, str) or condition.name_contains.casefold() not in name.casefold():
            return False
    if condition.industry is not None and seen("industry") != condition.industry:
        return False
    if condition.district_code is not None:
        district = seen("district_code")
        if not isinstance(district, str) or not district.startswith(condition.district_code):
            return False
    return status is None or seen("status") == status


def _matches(record: SourceRecord, hidden: frozenset[str], condition: EnterpriseFilter) -> bool:
    """Does the caller's copy of an enterprise meet the filter?"""
    status = None if condition.status is None else condition.status.value
    if not registry_conditions_met(record, hidden, condition, status):
        return False
    if condition.warning_level is not None and "warning" in hidden:
        return False
    return condition.credit_grade is None or "credit_grade" not in hidden


async def _with_records_from(
    context: RequestContext, path: Path, connector: Connector,
    candidates: Sequence[SourceRecord],
) -> list[SourceRecord]:
    """The candidates with at least one record from ``connector`` that the caller may
    see, in a list it may read on that enterprise."""
    loaders, view = context.loaders, context.view
    types = [t for t in connector.spec.provides
             if RECORD_TYPES[t].key == "credit_code" and t != "enterprise"]
    futures = {
        t: [loaders.load(connector, t, "credit_code", r.credit_code or "") for r in candidates]
        for t in types
    }
    overlay = context.overlay
    kept = []
    try:
        for position, record in enumerate(candidates):
            readable = view.readable_types(record, "Enterprise")
            for record_type, per_key in futures.items():
                found = await per_key[position]
                if overlay.touches(record_type):  # with the platform's added records
                    found = [r for r in overlay.over(record_type, "credit_code",
                                                     record.credit_code or "", found)
                             if r.agency == connector.code]
                if record_type in readable and any(view.sees(r) for r in found):
                    kept.append(record)
                    break
    except SourceError as error:
        raise SourceUnavailableError(
            f"Agency {connector.code} could not be read, so hasRecordsFrom cannot be "
            f"answered: {error.reason}. Retry later or drop the filter.",
            agency=connector.code, path=list(path),
        ) from None
    return kept


def _registry_levels(context: RequestContext, snapshot: RegistrySnapshot, risk: RiskRecords,
                     basis: Basis, derived: str) -> tuple[RiskLevels, bool]:
    """``derived`` (``Enterprise.warning`` or ``Enterprise.creditGrade``) today, on
    ``basis``, of every enterprise the caller may see: each enterprise's risk records
    through the caller's view, the rules applied to them."""
    view, rules, today = context.view, context.rules, context.today
    warning = derived == "Enterprise.warning"

    def level(found: SubjectRecords) -> WarningLevel | Grade:
        return (warning_level_of(rules, found, today) if warning
                else grade_of(rules, found, today).grade)

    # most enterprises have no risk record at all: the rules give them all one value
    without = level(SubjectRecords(basis=basis))
    by_code, by_person = risk.by_code, risk.by_person
    levels: RiskLevels = {}
    for record in snapshot.enterprises:
        if not view.sees(record):
            continue
        code = record.credit_code or ""
        person = record.values.get("legal_rep_id")
        if code not in by_code and (not isinstance(person, str) or person not in by_person):
            levels[code] = without
            continue
        subject = enterprise_subject(view, record, basis)
        levels[code] = level(indexed(view, risk, subject, basis))
    return levels, not risk.failed


async def _levels(context: RequestContext, path: Path, snapshot: RegistrySnapshot,
                  derived: str) -> RiskLevels:
    view, loaders = context.view, context.loaders
    store = context.registry_risk or RegistryRisk(context.sources.providers)
    risk = context.overlay.amend_risk(await store.records(
        snapshot, loaders.ages, loaders.stale, riskless_counted(context.rules)))
    for error in risk.failed:
        context.failures.add(error, path)
    basis = view.basis(derived)
    # the policy and rule objects themselves: a reloaded policy or rule file is a new
    # object, so a new key; the records' version: levels live exactly as long as the
    # records they come from
    key = (view.clearance, view.policy, _Same(context.rules), context.today,
           snapshot.built_at, basis, derived, risk.version)

    async def build() -> tuple[RiskLevels, bool]:
        with collector_paused():  # 100,000 enterprises' copies and warnings made here
            return _registry_levels(context, snapshot, risk, basis, derived)

    return await context.risk_index.levels(key, build)


async def _with_risk(
    context: RequestContext, path: Path, candidates: list[SourceRecord],
    condition: EnterpriseFilter, snapshot: RegistrySnapshot,
) -> list[SourceRecord]:
    """The candidates whose warning / grade today - on the basis the caller gets them
    - is the one asked for (levels of the whole registry are computed once per
    clearance and kept while the records they come from are fresh)."""
    kept = candidates
    if condition.warning_level is not None:
        levels = await _levels(context, path, snapshot, "Enterprise.warning")
        kept = [r for r in kept if levels.get(r.credit_code or "") is condition.warning_level]
    if condition.credit_grade is not None:
        levels = await _levels(context, path, snapshot, "Enterprise.creditGrade")
        kept = [r for r in kept if levels.get(r.credit_code or "") is condition.credit_grade]
    return kept


async def list_enterprises(
    context: RequestContext, path: Path, condition: EnterpriseFilter | None, first: int,
    after: str | None,
) -> Page:
    """One page of the enterprises that meet ``condition``, ordered by credit code."""
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"'first' must be between 1 and {MAX_PAGE}, got {first}.",
                           argument="first")
    after_code = decode_cursor(after) if after is not None else None
    condition = condition or EnterpriseFilter()
    view = context.view
    _refuse_unreadable(view, condition, context.sources.registry.code)
    source = None
    if condition.has_records_from is not None:
        source = context.sources.get(condition.has_records_from)
        if source is None:
            known = ", ".join(c.code for c in context.sources.all())
            raise BadUserInput(
                f"hasRecordsFrom: unknown agency {condition.has_records_from!r}; known: {known}.",
                argument="filter.hasRecordsFrom",
            )
    try:
        snapshot = await context.index.snapshot(context.loaders.ages)
    except SourceError as error:
        raise SourceUnavailableError(
            f"The registry (agency {error.agency}) could not be listed: {error.reason}.",
            agency=error.agency,
        ) from None
    candidates = [r for r in snapshot.enterprises
                  if view.sees(r) and _matches(r, view.hidden(r), condition)]
    if source is not None:
        candidates = await _with_records_from(context, path, source, candidates)
    if condition.warning_level is not None or condition.credit_grade is not None:
        candidates = await _with_risk(context, path, candidates, condition, snapshot)
    codes = [r.credit_code or "" for r in candidates]
    start = 0 if after_code is None else bisect.bisect_right(codes, after_code)
    return Page(candidates[start : start + first], len(candidates), start)
