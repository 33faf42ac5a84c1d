"""The registry-wide warning and grade filters read every risk record once per agency
cache lifetime (schema.registry_risk) and still answer what each caller's own view
gives: on the demo district (SQLite, CSV and HTTP agencies on loopback), for every
role, under the default policy and one that derives departments' warnings from every
record, each level's and grade's pages equal the enterprises whose own warning or
grade (resolved per enterprise through the loaders, the full path) is that value.
A record an agency adds is counted once its agency's cache lifetime has passed -
never later - and not by a rescan per query before that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ACTIONS, DEMO_DAY, Demo
from connectors.records import Record, Value
from connectors.standard import Openness, RiskLevel
from gateway.cache import MemoryRecordCache
from gateway.config import load_config
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.rules_files import load_rules
from gateway.runtime import Runtime, open_runtime
from schema.access import Clearance
from schema.build import build_schema
from schema.registry_index import RegistryIndex
from schema.registry_risk import RegistryRisk
from schema.risk import RISK_TYPES
from schema.risk_index import RiskIndex
from schema.rules.model import Grade, GradeCondition, RuleSet, WarningRules
from schema.rules.warnings import evaluate, level_of

POLICY = PolicyStore(DEFAULT_POLICY_DIR)
FULL = build_schema(actions=ACTIONS)
PUBLIC_SCHEMA = build_schema(actions=ACTIONS, without=POLICY.current().classes.above_open())
CLEARANCES = [
    Clearance("public"),
    Clearance("department", "SAMR"),
    Clearance("department", "SAMR", "INSPECTION"),
    Clearance("department", "TAX", "CASE_HANDLING"),
    Clearance("approval", "", "LICENCE_APPROVAL"),
    Clearance("auditor"),
    Clearance("admin"),
]
LEVELS = ("RED", "ORANGE", "YELLOW", "NONE")
GRADES = ("A", "B", "C", "D")
ALL_NODES = """query($after: String) { enterprises(first: 1000, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node {
    creditCode warning { level } creditGrade { grade } } } } }"""
FILTERED = """query($f: EnterpriseFilter, $after: String) {
  enterprises(filter: $f, first: 1000, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { creditCode } } } }"""


class Clock:
    """The time every cache of one runtime reads; a test moves it on."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _with_clock(runtime: Runtime, clock: Clock) -> Runtime:
    ttl = min(spec.cache_ttl_s for spec in runtime.config.agencies)
    runtime.index = RegistryIndex(runtime.sources.registry, clock=clock)
    runtime.risk_index = RiskIndex(ttl, clock=clock)
    runtime.registry_risk = RegistryRisk(runtime.sources.providers, clock=clock)
    runtime.today = lambda: DEMO_DAY
    return runtime


@pytest.fixture
async def runtime(demo: Demo) -> AsyncIterator[Runtime]:
    clock = Clock()
    runtime = _with_clock(open_runtime(demo.config, policies=POLICY,
                                       cache=MemoryRecordCache(clock=clock)), clock)
    yield runtime
    await runtime.aclose()


@pytest.fixture
def platform_warning(tmp_path: Path) -> PolicyStore:
    """policies/ with departments' warnings derived from every agency's records."""
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    path = folder / "derivation.yaml"
    bases = yaml.safe_load(path.read_text(encoding="utf-8"))
    bases["Enterprise.warning"] = {"default": "VISIBLE", "department": "ALL"}
    bases["Enterprise.creditGrade"] = {"default": "VISIBLE", "department": "ALL"}
    path.write_text(yaml.safe_dump(bases), encoding="utf-8")
    return PolicyStore(folder)


async def _pages(runtime: Runtime, clearance: Clearance, query: str,
                 variables: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a listing, page after page (and its totalCount checked)."""
    schema = PUBLIC_SCHEMA if clearance.role == "public" else FULL
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        result = await schema.execute(query, {**variables, "after": after},
                                      context_value=runtime.new_context(clearance))
        assert result.errors is None, (clearance, result.errors)
        assert result.data is not None
        page = result.data["enterprises"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    if "totalCount" in page:
        assert page["totalCount"] == len(nodes)
    return nodes


async def _filtered(runtime: Runtime, clearance: Clearance, condition: dict[str, str],
                    ) -> list[str]:
    nodes = await _pages(runtime, clearance, FILTERED, {"f": condition})
    return [node["creditCode"] for node in nodes]


def _value(node: dict[str, Any], field: str, key: str) -> str | None:
    found = node.get(field)
    return found[key] if isinstance(found, dict) else None


async def _assert_filters_match_own_view(runtime: Runtime, clearance: Clearance) -> None:
    nodes = await _pages(runtime, clearance, ALL_NODES, {})
    for level in LEVELS:
        expected = [n["creditCode"] for n in nodes if _value(n, "warning", "level") == level]
        got = await _filtered(runtime, clearance, {"warningLevel": level})
        assert got == expected, (clearance, level)
    for grade in GRADES:
        expected = [n["creditCode"] for n in nodes
                    if _value(n, "creditGrade", "grade") == grade]
        got = await _filtered(runtime, clearance, {"creditGrade": grade})
        assert got == expected, (clearance, grade)


@pytest.mark.parametrize("clearance", CLEARANCES, ids=lambda c: ":".join(
    part for part in (c.role, c.agency, c.purpose) if part))
async def test_filters_equal_each_callers_own_warnings_and_grades(
        runtime: Runtime, clearance: Clearance) -> None:
    await _assert_filters_match_own_view(runtime, clearance)


async def test_filters_follow_a_policy_deriving_from_every_record(
        demo: Demo, platform_warning: PolicyStore) -> None:
    clock = Clock()
    runtime = _with_clock(open_runtime(demo.config, policies=platform_warning,
                                       cache=MemoryRecordCache(clock=clock)), clock)
    try:
        for clearance in (Clearance("department", "SAMR"), Clearance("public")):
            await _assert_filters_match_own_view(runtime, clearance)
    finally:
        await runtime.aclose()


def _counting_inspections(rules: RuleSet) -> RuleSet:
    """The rules with grade C also met by any inspection in force, risk level or none."""
    grades = rules.grades
    counted = tuple(
        dataclasses.replace(rule, when=(*rule.when, GradeCondition("inspection", in_force=True)))
        if rule.grade is Grade.C else rule for rule in grades.rules)
    return dataclasses.replace(rules, grades=dataclasses.replace(grades, rules=counted))


async def test_filters_follow_rules_that_count_records_without_a_risk_level(
        runtime: Runtime) -> None:
    """Records without a risk level are read only of the types some rule counts them
    of; rules that start counting another type (a rule file changed on a running
    gateway) have those records read, and levels kept under the old rules are not used."""
    admin = Clearance("admin")
    before = await _filtered(runtime, admin, {"creditGrade": "C"})
    runtime.rules = _counting_inspections(runtime.rules)
    for clearance in (admin, Clearance("public")):
        await _assert_filters_match_own_view(runtime, clearance)
    after = await _filtered(runtime, admin, {"creditGrade": "C"})
    assert len(after) > len(before)


def _add_open_high_penalties(folder: Path, code: str) -> None:
    """A HIGH-risk open fine from SAMR and from TAX dated today: RED (two agencies)."""
    day = DEMO_DAY.isoformat()
    with sqlite3.connect(folder / "samr.db") as db:
        db.execute("INSERT INTO penalty (record_id, credit_code, openness, risk_level, "
                   "penalty_type, amount, decided_on) VALUES (?, ?, 'OPEN', 'HIGH', 'FINE', "
                   "'200000', ?)", ("SAMR-PEN-NEW", code, day))
    with sqlite3.connect(folder / "tax.db") as db:
        db.execute("INSERT INTO tax_penalty (record_id, credit_code, openness, risk_level, "
                   "penalty_type, amount, cfrq) VALUES (?, ?, 'OPEN', 'HIGH', 'FINE', "
                   "'200000', ?)", ("TAX-PEN-NEW", code, day))


async def test_a_new_record_counts_within_the_agencys_cache_lifetime(
        demo: Demo, tmp_path: Path) -> None:
    folder = tmp_path / "district"
    shutil.copytree(demo.data_dir, folder)  # with its configuration, naming the agencies' URL
    config = load_config(folder / "gateway.yaml")
    clock = Clock()
    runtime = _with_clock(open_runtime(config, policies=POLICY,
                                       cache=MemoryRecordCache(clock=clock)), clock)
    admin, public = Clearance("admin"), Clearance("public")
    ttl = runtime.sources.spec("SAMR").cache_ttl_s
    try:
        nodes = await _pages(runtime, admin, ALL_NODES, {})
        calm = next(n["creditCode"] for n in nodes if n["warning"]["level"] == "NONE")
        assert calm not in await _filtered(runtime, admin, {"warningLevel": "RED"})
        scans = {c.code: dict(c.calls) for c in runtime.sources.all()}

        _add_open_high_penalties(folder, calm)
        clock.now += ttl - 1
        # within the lifetime: the records read are still fresh; no agency asked again
        assert calm not in await _filtered(runtime, admin, {"warningLevel": "RED"})
        # the public's levels, computed now, come from records read ttl - 1 ago
        assert calm not in await _filtered(runtime, public, {"warningLevel": "RED"})
        assert {c.code: dict(c.calls) for c in runtime.sources.all()} == scans

        clock.now += 2  # past SAMR's and TAX's cache lifetime: both read again
        for clearance in (admin, public):
            assert calm in await _filtered(runtime, clearance, {"warningLevel": "RED"})
            schema = PUBLIC_SCHEMA if clearance is public else FULL
            result = await schema.execute(
                "query($c: String!) { enterprise(creditCode: $c) { warning { level } } }",
                {"c": calm}, context_value=runtime.new_context(clearance))
            assert result.data == {"enterprise": {"warning": {"level": "RED"}}}
        assert runtime.sources.get("SAMR").calls["scan:penalty"] == 2  # type: ignore[union-attr]
    finally:
        await runtime.aclose()


RED_COUNT = "{ enterprises(filter: {warningLevel: RED}) { totalCount } }"


async def test_an_agency_that_cannot_be_read_is_reported_or_served_stale(demo: Demo) -> None:
    """Never read: the filter names the agency (SOURCE_UNAVAILABLE) and keeps nothing.
    Read once and failing later: its records are served for stale_if_error_s more,
    reported in extensions.stale; after that the agency is reported again."""
    config = dataclasses.replace(demo.config, agencies=tuple(
        dataclasses.replace(a, breaker_failures=10_000) for a in demo.config.agencies))
    clock = Clock()
    runtime = _with_clock(open_runtime(config, policies=POLICY,
                                       cache=MemoryRecordCache(clock=clock)), clock)
    fire, spec = demo.agency("fire"), runtime.sources.spec("FIRE")

    async def red() -> Any:
        return await FULL.execute(RED_COUNT,
                                  context_value=runtime.new_context(Clearance("admin")))

    try:
        fire.state.control.mode = "error_500"
        failed = await red()
        assert [e.extensions for e in failed.errors or ()] == [
            {"code": "SOURCE_UNAVAILABLE", "agency": "FIRE"}]
        fire.state.control.mode = "ok"
        complete = await red()
        assert complete.errors is None and "stale" not in (complete.extensions or {})
        assert complete.data["enterprises"]["totalCount"] > 0

        clock.now += spec.cache_ttl_s + 1
        fire.state.control.mode = "error_500"
        stale = await red()
        assert stale.errors is None
        assert stale.data == complete.data
        assert [s["agency"] for s in (stale.extensions or {}).get("stale", [])] == ["FIRE"]

        clock.now += spec.stale_if_error_s
        gone = await red()
        assert [e.extensions["agency"] for e in gone.errors or ()] == ["FIRE"]
    finally:
        fire.state.control.mode = "ok"
        await runtime.aclose()


# --- the level alone, as the filter computes it -------------------------------------------

_AGENCIES = ("SAMR", "TAX", "EPB")
_DAYS = st.one_of(st.none(), st.dates(DEMO_DAY - dt.timedelta(days=900),
                                      DEMO_DAY + dt.timedelta(days=30)))


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    found = []
    for number in range(draw(st.integers(0, 7))):
        record_type = draw(st.sampled_from(RISK_TYPES))
        values: dict[str, Value] = {
            "decided_on": draw(_DAYS), "listed_on": draw(_DAYS), "inspected_on": draw(_DAYS),
            "removed_on": draw(_DAYS), "repaired_on": draw(_DAYS), "published_on": draw(_DAYS),
            "penalty_type": draw(st.sampled_from(("FINE", "WARNING", "CRITICISM", None))),
            "amount": draw(st.sampled_from((None, 100.0, 50_000.0))),
        }
        found.append(Record(record_type, draw(st.sampled_from(_AGENCIES)), f"R{number}",
                            "91350100M000100Y43", Openness.OPEN,
                            draw(st.sampled_from((None, *RiskLevel))), values))
    return found


@st.composite
def _rules(draw: st.DrawFn) -> WarningRules:
    shipped = load_rules(DEFAULT_POLICY_DIR).warnings
    levels = st.frozensets(st.sampled_from(tuple(RiskLevel)))
    return dataclasses.replace(
        shipped, red_min_agencies=draw(st.integers(1, 3)),
        orange_min_records=draw(st.integers(1, 4)), orange_levels=draw(levels),
        yellow_levels=draw(levels))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(records=_records(), rules=_rules())
def test_the_level_alone_is_the_warnings_level(records: list[Record],
                                               rules: WarningRules) -> None:
    try:
        expected = evaluate(records, rules, DEMO_DAY).level
    except ValueError:  # risky records meeting no rule: no level to compare
        return
    assert level_of(records, rules, DEMO_DAY) is expected
