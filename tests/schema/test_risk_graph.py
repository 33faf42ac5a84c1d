"""Warnings, grades and restriction checks in the graph, on the demo district."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from conftest import ACTIONS, DEMO_DAY, Demo, ServerThread
from connectors.records import Record
from gateway.app import AppOptions, create_app
from gateway.demo.generate import generate_district
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import Runtime, open_runtime
from schema.access import Clearance
from schema.build import build_schema
from schema.rules.model import Grade, WarningLevel

TODAY = DEMO_DAY  # the day the demo district is generated for
POLICY = PolicyStore(DEFAULT_POLICY_DIR)
FULL = build_schema(actions=ACTIONS)
PUBLIC_SCHEMA = build_schema(actions=ACTIONS, without=POLICY.current().classes.above_open())
ADMIN = Clearance("admin")
APPROVAL = Clearance("approval", "", "LICENCE_APPROVAL")


@pytest.fixture
async def runtime(demo: Demo) -> AsyncIterator[Runtime]:
    runtime = open_runtime(demo.config, policies=POLICY)
    runtime.today = lambda: TODAY
    yield runtime
    await runtime.aclose()


async def run(runtime: Runtime, clearance: Clearance, query: str,
              variables: dict[str, Any] | None = None) -> Any:
    schema = PUBLIC_SCHEMA if clearance.role == "public" else FULL
    return await schema.execute(query, variables, context_value=runtime.new_context(clearance))


async def test_the_demo_holds_every_level_and_grade(runtime: Runtime) -> None:
    query = """query($f: EnterpriseFilter) { enterprises(filter: $f, first: 1) {
        totalCount edges { node { warning { level } creditGrade { grade } } } } }"""
    for level in WarningLevel:
        result = await run(runtime, ADMIN, query, {"f": {"warningLevel": level.value}})
        assert result.errors is None
        assert result.data["enterprises"]["totalCount"] > 0, level
        assert result.data["enterprises"]["edges"][0]["node"]["warning"]["level"] == level.value
    for grade in Grade:
        result = await run(runtime, ADMIN, query, {"f": {"creditGrade": grade.value}})
        assert result.data["enterprises"]["totalCount"] > 0, grade
        assert result.data["enterprises"]["edges"][0]["node"]["creditGrade"]["grade"] == grade.value


async def test_a_page_of_warnings_costs_one_call_per_agency_and_type(runtime: Runtime) -> None:
    await runtime.index.snapshot()
    for connector in runtime.sources.all():
        connector.calls.clear()
    result = await run(runtime, ADMIN, """{ enterprises(first: 500) { edges { node {
        warning { level reasons { rule evidence { recordId } } } creditGrade { grade }
        penalties { recordId } } } } }""")
    assert result.errors is None
    calls = [count for c in runtime.sources.all() for count in c.calls.values()]
    assert calls and max(calls) == 1


async def test_public_warnings_are_computed_from_open_records_only(
    runtime: Runtime, demo: Demo
) -> None:
    """A warning reveals nothing hidden: for the public it equals the rules applied to
    the OPEN records alone (and, with no visible legal representative link, to the
    enterprise's own records)."""
    from connectors.records import normalise_row
    from connectors.standard import spec_for
    from schema.rules.warnings import evaluate

    rows = generate_district(as_of=TODAY).rows
    records: dict[str, list[Record]] = {}
    for agency, types in rows.items():
        for record_type, type_rows in types.items():
            if record_type in ("enterprise", "person", "licence"):
                continue
            for row in type_rows:
                record = normalise_row(agency, spec_for(record_type), row, lambda p: None)
                if record is not None and record.openness.value == "OPEN":
                    records.setdefault(record.credit_code or "", []).append(record)
    page = await run(runtime, Clearance("public"), """{ enterprises(first: 300) { edges {
        node { creditCode warning { level } } } } }""")
    assert page.errors is None
    compared = 0
    for edge in page.data["enterprises"]["edges"]:
        node = edge["node"]
        expected = evaluate(records.get(node["creditCode"], []), runtime.rules.warnings, TODAY)
        assert node["warning"]["level"] == expected.level.value, node["creditCode"]
        compared += expected.level is not WarningLevel.NONE
    assert compared > 20


async def test_a_persons_warning_reaches_their_enterprises(runtime: Runtime, demo: Demo) -> None:
    result = await run(runtime, ADMIN, """query($p: String!) { person(personId: $p) {
        warning { level agencies { code } } enterprises { creditCode warning { level
        reasons { rule level } } } } }""", {"p": demo.showcase_person})
    person = result.data["person"]
    level = WarningLevel(person["warning"]["level"])
    assert level is not WarningLevel.NONE
    for enterprise in person["enterprises"]:
        reasons = {r["rule"]: r["level"] for r in enterprise["warning"]["reasons"]}
        assert reasons.get("LEGAL_REPRESENTATIVE") == level.value
        assert WarningLevel(enterprise["warning"]["level"]).rank >= level.rank


CHECK = """query($c: String!, $a: RestrictionAction!, $d: Date) { restrictionCheck(creditCode: $c,
  action: $a, asOf: $d) { creditCode action decision grade warningLevel asOf
  reasons { rule measure agencies { code } } sources { agency { code } available freshness } } }"""


async def test_restriction_checks_need_clearance(runtime: Runtime, demo: Demo) -> None:
    variables = {"c": demo.showcase, "a": "LICENCE_APPLICATION"}
    for clearance in (Clearance("department", "SAMR", "INSPECTION"), Clearance("auditor"),
                      Clearance("approval", "", "")):
        result = await run(runtime, clearance, CHECK, variables)
        assert result.errors[0].extensions["code"] == "FORBIDDEN"
    public = await run(runtime, Clearance("public"), CHECK, variables)
    assert public.errors[0].extensions["code"] == "FORBIDDEN"
    allowed = await run(runtime, APPROVAL, CHECK, variables)
    assert allowed.errors is None
    decision = allowed.data["restrictionCheck"]
    assert decision["decision"] in ("RESTRICTED", "PROHIBITED")
    assert decision["asOf"] == TODAY.isoformat()
    assert {s["agency"]["code"] for s in decision["sources"]} == {
        "SAMR", "TAX", "EPB", "FDA", "COURT", "FIRE"}
    # freshness is a bound (the agency's cache lifetime), the same whoever asked before
    ttl = {spec.code: float(spec.cache_ttl_s) for spec in runtime.config.agencies}
    assert all(s["available"] and s["freshness"] == ttl[s["agency"]["code"]]
               for s in decision["sources"])
    assert all("recordId" not in str(r) for r in decision["reasons"])


async def test_restriction_check_input_errors(runtime: Runtime) -> None:
    bad_action = await run(runtime, APPROVAL, CHECK, {"c": "914403001922038216", "a": "PARTY"})
    assert bad_action.errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert "'PARTY' does not exist in 'RestrictionAction'" in bad_action.errors[0].message
    bad_code = await run(runtime, APPROVAL, CHECK, {"c": "91350100M000100Y4Z", "a": "HONOUR"})
    assert bad_code.errors[0].extensions["code"] == "INVALID_CREDIT_CODE"
    unknown = await run(runtime, APPROVAL, CHECK, {"c": "914403001922038216", "a": "HONOUR"})
    assert unknown.data["restrictionCheck"]["decision"] == "INDETERMINATE"
    assert unknown.data["restrictionCheck"]["reasons"][0]["rule"] == "NOT_IN_REGISTRY"


async def test_as_of_reproduces_an_earlier_decision(runtime: Runtime) -> None:
    """An enterprise prohibited today (D: listed for over a year) was not yet D the day
    after its listing."""
    rows = generate_district(as_of=TODAY).rows
    listing = next(
        r for agency in rows.values() for r in agency.get("serious_violation", [])
        if not r["removed_on"] and r["listed_on"] < "2025-10-01"
    )
    variables = {"c": listing["credit_code"], "a": "LICENCE_APPLICATION"}
    today = await run(runtime, APPROVAL, CHECK, variables)
    assert today.data["restrictionCheck"]["grade"] == "D"
    assert today.data["restrictionCheck"]["decision"] == "PROHIBITED"
    listed = dt.date.fromisoformat(listing["listed_on"])
    before = await run(runtime, APPROVAL, CHECK,
                       {**variables, "d": (listed + dt.timedelta(days=1)).isoformat()})
    assert before.data["restrictionCheck"]["grade"] != "D"
    assert before.data["restrictionCheck"]["asOf"] == (listed + dt.timedelta(days=1)).isoformat()


def test_a_stopped_agency_makes_decisions_indeterminate(
    demo: Demo, serve: Callable[..., ServerThread], tmp_path: Any
) -> None:
    """The HTTP agencies are shut down mid-run: an enterprise whose records are not
    cached gets INDETERMINATE with the agencies named and a partial warning; one
    asked before is answered from the fresh cached copy, with its age."""
    from gateway.demo.agency_service import create_sources_app, load_rows
    from gateway.demo.writer import write_config

    rows = {name: load_rows(demo.data_dir / f"{name}.json") for name in ("court", "fire")}
    agencies = serve(create_sources_app(rows))
    config_path = write_config(demo.data_dir, http_base_url=agencies.url)
    from gateway.config import load_config

    gateway = serve(create_app(load_config(config_path), AppOptions()))
    registry = generate_district(as_of=TODAY).rows["SAMR"]["enterprise"]
    first, second = [r["credit_code"] for r in registry if r["openness"] == "OPEN"][:2]

    def ask(clean: str) -> dict[str, Any]:
        response = httpx.post(
            f"{gateway.url}/graphql",
            json={"query": """query($c: String!) {
              check: restrictionCheck(creditCode: $c, action: HONOUR) {
                decision reasons { rule agencies { code } } sources { agency { code }
                available freshness } }
              enterprise(creditCode: $c) { warning { partial missingAgencies { code } } } }""",
                  "variables": {"c": clean}},
            headers={"Authorization": "Bearer demo-admin-key"}, timeout=20)
        body: dict[str, Any] = response.json()
        return body

    before = ask(first)
    assert before["data"]["check"]["decision"] in ("ALLOWED", "RESTRICTED", "PROHIBITED")
    assert before["data"]["enterprise"]["warning"]["partial"] is False
    agencies.stop()  # the court and the fire service go away
    cached = ask(first)
    assert cached["data"]["check"]["decision"] == before["data"]["check"]["decision"]
    court = next(s for s in cached["data"]["check"]["sources"] if s["agency"]["code"] == "COURT")
    assert court["available"] is True and court["freshness"] > 0
    after = ask(second)
    check = after["data"]["check"]
    assert check["decision"] in ("INDETERMINATE", "PROHIBITED")
    if check["decision"] != "INDETERMINATE":  # only what the rest proves PROHIBITED
        assert any(r["rule"].startswith(("GRADE_", "WARNING_"))
                   for r in check["reasons"])
    missing = next(r for r in check["reasons"] if r["rule"] == "SOURCES_MISSING")
    assert {a["code"] for a in missing["agencies"]} == {"COURT", "FIRE"}
    unavailable = {s["agency"]["code"] for s in check["sources"] if not s["available"]}
    assert unavailable == {"COURT", "FIRE"}
    warning = after["data"]["enterprise"]["warning"]
    assert warning["partial"] is True
    assert {a["code"] for a in warning["missingAgencies"]} == {"COURT", "FIRE"}
    assert {e["extensions"]["agency"] for e in after["errors"]} == {"COURT", "FIRE"}
