"""Fetching ahead: one enterprise, or a page of them, with what the query selects.

What a page needs of every agency is asked in one wave (one call per agency, record
type and key kind), then the fields resolve without further waits. Records come
through the caller's view like everywhere else; what is fetched early is raw, kept in
the request's loaders, and filtered before use.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import strawberry

from connectors.records import Record as SourceRecord
from schema.access import Basis
from schema.context import RequestContext
from schema.gather import Wave, gather_checked, sort_records
from schema.redaction import selected_names
from schema.risk import (
    PERSON_RISK_TYPES,
    RISK_TYPES,
    collect_many,
    enterprise_subject,
    risk_waves,
)
from schema.subjects import ENTERPRISE_LISTS, Enterprise, enterprise_from

__all__ = ["ask_remote_early", "load_enterprise", "prefetch_page"]

Info = strawberry.Info[RequestContext, None]
_DERIVED = {"warning": "Enterprise.warning", "creditGrade": "Enterprise.creditGrade"}


async def load_enterprise(info: Info, credit_code: str) -> Enterprise | None:
    """One enterprise by (valid) credit code, with what the query selects fetched as
    for a page of one.

    Remote (``http``) agencies are slow: their selected lists are asked for at once,
    while the registry is being read, so the round trip to them starts first - but
    only for an enterprise the registry index shows the caller may see. A hidden
    enterprise and one that does not exist then cost the same (one registry lookup)
    and answer the same (null). Local agencies are asked after the registry answered:
    starting them early too cost 25% more CPU per request under load and gained nothing.
    """
    context = info.context
    if credit_code not in context.asked_early:  # not asked before execution
        ask_remote_early(context, credit_code, selected_names(info))
    path = info.path.as_list()
    raws, _ = await gather_checked(context, path, "enterprise", "credit_code", [credit_code],
                                   visible_only=False)
    visible = [r for r in raws[0] if context.view.sees(r)]
    if not visible:
        return None
    node = enterprise_from(info, visible[0])
    await prefetch_page(info, [node], ())
    return node


def ask_remote_early(context: RequestContext, credit_code: str,
                     selected: frozenset[str]) -> int:
    """Ask the remote agencies now for what ``selected`` (the names selected under
    ``enterprise``) needs of the enterprise ``credit_code``, if the registry index shows
    the caller may see it; the answers wait in the request's loaders. How many were
    asked (not answered from the record cache)."""
    context.asked_early.add(credit_code)
    indexed = context.index.record(credit_code)
    if indexed is None or not context.view.sees(indexed):
        return 0  # unknown or hidden: nothing is asked before the registry answers
    wanted = {t for name, t in ENTERPRISE_LISTS.items() if name in selected}
    person = None
    if "warning" in selected or "creditGrade" in selected:
        wanted.update(RISK_TYPES)
        found = indexed.values.get("legal_rep_id")
        person = found if isinstance(found, str) and found else None
    asks = [(c, t, "credit_code", credit_code) for t in sorted(wanted)
            for c in context.sources.providers(t) if c.spec.kind == "http"]
    if person is not None:
        asks += [(c, t, "person_id", person) for t in PERSON_RISK_TYPES
                 for c in context.sources.providers(t) if c.spec.kind == "http"]
    # The agency asked most often first: each call's send costs about 0.2 ms of this
    # process's time, and the answer comes last from the agency whose last call went out
    # last (c=1 benchmark: the fire service's three calls first, then the court's two).
    per_agency = Counter(c.code for c, _, _, _ in asks)
    asks.sort(key=lambda ask: -per_agency[ask[0].code])
    loaders = context.loaders
    asked = 0
    for connector, record_type, key_column, key in asks:
        # straight into the shared call when the agency has no record cache (two loop
        # turns sooner than a DataLoader's batch: the first send is on the latency's
        # path); the later prefetch is given the same answer
        ready, soon = loaders.now_or_soon(connector, record_type, key_column, [key])
        if ready is not None:
            continue  # fresh in the record cache: kept for the prefetch, nothing to ask
        early: asyncio.Future[Any] = (
            soon if soon is not None else loaders.load(connector, record_type, key_column, key))
        early.add_done_callback(_observed)
        asked += 1
    return asked


def _observed(future: asyncio.Future[Any]) -> None:
    """Mark an early load's failure as seen (it is reported where it is used)."""
    if not future.cancelled():
        future.exception()


async def prefetch_page(info: Info, nodes: list[Enterprise], under: tuple[str, ...]) -> None:
    """Fetch, for a whole page of enterprises, what the query selects under ``under``
    (e.g. ``("edges", "node")``): record lists, legal representatives, and the records
    of warnings and grades on each basis they need - one call per agency, type and key
    kind."""
    if not nodes:
        return
    context = info.context
    view = context.view
    selected = selected_names(info, under)
    path = [*info.path.as_list(), *under]
    codes = [node.credit_code for node in nodes]
    bases = sorted({view.basis(derived) for name, derived in _DERIVED.items()
                    if name in selected}, key=lambda basis: basis.value, reverse=True)
    wanted = [
        (name, t) for name, t in ENTERPRISE_LISTS.items()
        if name in selected and not (bases and t in RISK_TYPES)  # risk records come below
    ]
    # every agency and record type asked at once, then read one after the other
    # (schema.gather.Wave: no task per record type)
    waves = [(Wave(context, t, "credit_code", codes), [*path, name]) for name, t in wanted]
    people = sorted({n.legal_rep_id for n in nodes if n.legal_rep_id})
    if "legalRepresentative" in selected:
        waves.append((Wave(context, "person", "person_id", people),
                      [*path, "legalRepresentative"]))
    sources = [node.source for node in nodes]
    assert all(source is not None for source in sources)
    subjects = {basis: [enterprise_subject(view, s, basis) for s in sources if s is not None]
                for basis in bases}
    risk = {basis: risk_waves(context, subjects[basis]) for basis in bases}
    results = [(await wave.records(at))[0] for wave, at in waves]
    risks = [await collect_many(context, [*path, "warning"], subjects[basis], basis,
                                waves=risk[basis]) for basis in bases]
    for node in nodes:
        node.prefetched = {}
        node.risk = {}
    for (_, record_type), per_node in zip(wanted, results, strict=False):
        for node, records in zip(nodes, per_node, strict=True):
            assert node.prefetched is not None
            node.prefetched[record_type] = records
    for basis, found in zip(bases, risks, strict=True):  # VISIBLE first, when both
        for node, subject in zip(nodes, found, strict=True):
            assert node.risk is not None and node.prefetched is not None
            node.risk[basis] = subject
            if basis is Basis.VISIBLE:
                _lists_from(node.prefetched, subject.enterprise, lambda rs: rs)
            elif Basis.VISIBLE not in node.risk:
                _lists_from(node.prefetched, subject.enterprise, view.seen_all)
    if "legalRepresentative" in selected:
        by_id = dict(zip(people, results[-1], strict=True))
        for node in nodes:
            assert node.prefetched is not None
            node.prefetched["person"] = by_id.get(node.legal_rep_id or "", [])


def _lists_from(into: dict[str, list[SourceRecord]], records: list[SourceRecord],
                copies: Any) -> None:
    """The risk types' record lists from a subject's records (the caller's copies,
    sorted by their own values)."""
    by_type: dict[str, list[SourceRecord]] = {record_type: [] for record_type in RISK_TYPES}
    for record in records:  # one pass, not one per type: a page has 1,000 subjects
        kept = by_type.get(record.record_type)
        if kept is not None:
            kept.append(record)
    for record_type, mine in by_type.items():
        if mine:
            mine = copies(mine)
        into[record_type] = sort_records(mine, record_type) if len(mine) > 1 else mine

