"""A page of enterprises costs at most one call per agency and record type,
whatever the page size (DataLoaders per request)."""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import ACTIONS, Demo
from connectors.credit_code import with_check_char
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import open_runtime
from schema.access import Clearance
from schema.build import build_schema

# Authorization on: a department of another agency, with a purpose.
DEPARTMENT = Clearance("department", "OTHER", "INSPECTION")

PAGE = """query($first: Int!) { enterprises(first: $first) {
  totalCount edges { node {
    creditCode name
    legalRepresentative { name penalties { recordId } judgmentDefaults { recordId }
                          enterprises { creditCode } }
    licences { recordId } penalties { recordId agency { code } } anomalies { recordId }
    seriousViolations { recordId } judgmentDefaults { recordId } inspections { recordId }
  } } } }"""


async def calls_for(demo: Demo, first: int) -> tuple[Counter[tuple[str, str]], Counter[str], int]:
    for name in ("court", "fire"):
        stats = demo.agency(name).state.stats
        stats.queries.clear()
        stats.keys.clear()
    runtime = open_runtime(demo.config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    try:
        await runtime.index.snapshot()  # the registry scan is the index's, not the query's
        for connector in runtime.sources.all():
            connector.calls.clear()
        result = await build_schema(actions=ACTIONS).execute(PAGE, {"first": first},
                                              context_value=runtime.new_context(DEPARTMENT))
    finally:
        await runtime.aclose()
    assert result.errors is None, result.errors
    assert result.data is not None
    edges = result.data["enterprises"]["edges"]
    assert len(edges) == first
    calls: Counter[tuple[str, str]] = Counter()
    for connector in runtime.sources.all():
        for record_type, count in connector.calls.items():
            calls[(connector.code, record_type)] += count
    http: Counter[str] = Counter()
    for name in ("court", "fire"):
        http.update({f"{name}:{t}": n for t, n in demo.agency(name).state.stats.queries.items()})
    return calls, http, sum(len(e["node"]["penalties"]) for e in edges)


@pytest.mark.parametrize("first", [10, 1000])
async def test_one_call_per_agency_and_type_whatever_the_page_size(demo: Demo, first: int) -> None:
    calls, http, penalties = await calls_for(demo, first)
    assert penalties > 0
    assert calls, "the query made no source calls"
    assert max(calls.values()) == 1, calls
    # every agency that provides a listed type was asked exactly once for it, and
    # persons' records once more, by person id
    expected = {
        (spec.code, record_type)
        for spec in demo.config.agencies
        for record_type in spec.provides
        if record_type not in ("enterprise", "person")
    }
    expected |= {(spec.code, f"{t}/person_id") for spec in demo.config.agencies
                 for t in ("penalty", "judgment_default", "person") if t in spec.provides}
    assert set(calls) == expected
    # the HTTP agencies saw the same: one request per type they provide
    assert http == Counter({"court:judgment_default": 2, "fire:penalty": 2, "fire:inspection": 1})


ONE = """query($c: String!) { enterprise(creditCode: $c) {
  name licences { recordId } penalties { recordId } anomalies { recordId }
  seriousViolations { recordId } judgmentDefaults { recordId } inspections { recordId }
  warning { level reasons { rule } } creditGrade { grade } } }"""


async def test_one_enterprise_costs_one_call_per_agency_type_and_key_kind(demo: Demo) -> None:
    """After the registry lookup every list goes out at once (the legal
    representative's too); nothing is asked twice."""
    runtime = open_runtime(demo.config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    try:
        await runtime.index.snapshot()
        for connector in runtime.sources.all():
            connector.calls.clear()
        result = await build_schema(actions=ACTIONS).execute(ONE, {"c": demo.showcase},
                                              context_value=runtime.new_context(DEPARTMENT))
        assert result.errors is None, result.errors
        assert result.data is not None and result.data["enterprise"]["name"]
        calls = Counter({(c.code, kind): n for c in runtime.sources.all()
                         for kind, n in c.calls.items()})
        assert calls and max(calls.values()) == 1, calls
        assert ("COURT", "judgment_default/person_id") in calls  # the person's, at once
        # an unknown enterprise: null, whatever was fetched early stays unseen
        unknown = with_check_char("91110102MA0000000")
        result = await build_schema(actions=ACTIONS).execute(ONE, {"c": unknown},
                                              context_value=runtime.new_context(DEPARTMENT))
        assert result.errors is None and result.data == {"enterprise": None}
    finally:
        await runtime.aclose()


async def test_an_enterprise_in_the_record_cache_needs_no_dataloader(demo: Demo) -> None:
    """Asked again while every agency's records are fresh in the record cache, one
    enterprise is answered without a call and without a DataLoader or its batch tasks:
    the remote agencies asked early are found in the cache first."""
    runtime = open_runtime(demo.config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    try:
        await runtime.index.snapshot()
        schema = build_schema(actions=ACTIONS)
        first = await schema.execute(ONE, {"c": demo.showcase},
                                     context_value=runtime.new_context(DEPARTMENT))
        assert first.errors is None, first.errors
        assert all(c.spec.cache_ttl_s > 0 for c in runtime.sources.all())
        before = {c.code: sum(c.calls.values()) for c in runtime.sources.all()}
        context = runtime.new_context(DEPARTMENT)
        again = await schema.execute(ONE, {"c": demo.showcase}, context_value=context)
        assert again.errors is None and again.data == first.data
        assert {c.code: sum(c.calls.values()) for c in runtime.sources.all()} == before
        made = [key for key, slot in context.loaders._loaders.items()
                if slot._loader is not None]
        assert made == []
    finally:
        await runtime.aclose()
