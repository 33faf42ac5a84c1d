"""Listing enterprises: filter the registry index, page it by credit code."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import strawberry

from connectors.base import Connector
from connectors.errors import SourceError
from connectors.records import Record as SourceRecord
from connectors.standard import RECORD_TYPES
from schema.access import AccessView
from schema.connection import (
    EnterpriseConnection,
    EnterpriseEdge,
    EnterpriseFilter,
    PageInfo,
    decode_cursor,
    encode_cursor,
)
from schema.context import RequestContext
from schema.errors import BadUserInput, SourceUnavailableError
from schema.registry_index import RegistrySnapshot
from schema.risk import collect_many, grade_of, warning_of
from schema.risk_index import RiskLevels
from schema.subjects import enterprises_from, prefetch_page

__all__ = ["MAX_PAGE", "search_enterprises"]

Info = strawberry.Info[RequestContext, None]
MAX_PAGE = 1000


def _matches(record: SourceRecord, condition: EnterpriseFilter, access: AccessView) -> bool:
    """Does a visible enterprise meet the filter? A field the caller may not see never
    matches, so a filter cannot probe a hidden value."""
    values, hidden = record.values, access.hidden(record)

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
    return condition.status is None or seen("status") == condition.status.value


async def _with_records_from(
    info: Info, connector: Connector, candidates: Sequence[SourceRecord]
) -> list[SourceRecord]:
    """The candidates that have at least one record from ``connector``."""
    loaders, access = info.context.loaders, info.context.access
    types = [t for t in connector.spec.provides if RECORD_TYPES[t].key == "credit_code"]
    kept = []
    futures = {
        t: [loaders.load(connector, t, "credit_code", r.credit_code or "") for r in candidates]
        for t in types
        if t != "enterprise"
    }
    try:
        for position, record in enumerate(candidates):
            for per_key in futures.values():
                if any(access.sees(r) for r in await per_key[position]):
                    kept.append(record)
                    break
    except SourceError as error:
        raise SourceUnavailableError(
            f"Agency {connector.code} could not be read, so hasRecordsFrom cannot be "
            f"answered: {error.reason}. Retry later or drop the filter.",
            agency=connector.code,
        ) from None
    return kept


async def _registry_levels(info: Info, snapshot: RegistrySnapshot) -> tuple[RiskLevels, bool]:
    """Warning level and grade today of every enterprise the caller may see: their risk
    records in one call per agency and type, the rules applied to each."""
    context = info.context
    access = context.access
    visible = [r for r in snapshot.enterprises if access.sees(r)]
    person_ids: list[str | None] = []
    for record in visible:
        person = record.values.get("legal_rep_id")
        linked = isinstance(person, str) and access.field_visible(record, "legal_rep_id")
        person_ids.append(person if linked and isinstance(person, str) else None)
    codes = [r.credit_code or "" for r in visible]
    subjects = await collect_many(info, codes, person_ids, info.path.as_list(), prime=False,
                                  sort=False)
    rules, today = context.rules, context.today
    levels: RiskLevels = {}
    complete = True
    for code, subject, person_id in zip(codes, subjects, person_ids, strict=True):
        complete = complete and not subject.missing
        levels[code] = (warning_of(rules, subject, person_id, today).level,
                        grade_of(rules, subject, today).grade)
    return levels, complete


async def _with_risk(
    info: Info, candidates: list[SourceRecord], condition: EnterpriseFilter,
    snapshot: RegistrySnapshot,
) -> list[SourceRecord]:
    """The candidates whose warning / grade today is the one asked for (levels of the
    whole registry are computed once per clearance and kept for a while)."""
    context = info.context
    access = context.access
    # the policy object itself: a reloaded policy is a new object, so a new key
    key = (access.clearance, access.policy, context.today, snapshot.built_at)
    levels = await context.risk_index.levels(key, lambda: _registry_levels(info, snapshot))
    kept = []
    for record in candidates:
        level, grade = levels.get(record.credit_code or "", (None, None))
        if condition.warning_level is not None and level is not condition.warning_level:
            continue
        if condition.credit_grade is not None and grade is not condition.credit_grade:
            continue
        kept.append(record)
    return kept


async def search_enterprises(
    info: Info, condition: EnterpriseFilter | None, first: int, after: str | None
) -> EnterpriseConnection:
    """One page of the enterprises that meet ``condition``, ordered by credit code."""
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"'first' must be between 1 and {MAX_PAGE}, got {first}.",
                           argument="first")
    after_code = decode_cursor(after) if after is not None else None
    context = info.context
    condition = condition or EnterpriseFilter()
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
    access = context.access
    candidates = [
        r for r in snapshot.enterprises if access.sees(r) and _matches(r, condition, access)
    ]
    if source is not None:
        candidates = await _with_records_from(info, source, candidates)
    if condition.warning_level is not None or condition.credit_grade is not None:
        candidates = await _with_risk(info, candidates, condition, snapshot)
    codes = [r.credit_code or "" for r in candidates]
    start = 0 if after_code is None else bisect.bisect_right(codes, after_code)
    page = candidates[start : start + first]
    nodes = enterprises_from(info, page, under=("edges", "node"))
    await prefetch_page(info, nodes, ("edges", "node"))
    edges = [
        EnterpriseEdge(cursor=encode_cursor(node.credit_code), node=node) for node in nodes
    ]
    return EnterpriseConnection(
        total_count=len(candidates),
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + len(page) < len(candidates),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
