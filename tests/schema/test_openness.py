"""Openness on the demo district: what each clearance sees, counts, filters, links,
the public schema and the redaction report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from conftest import ACTIONS, DEMO_DAY, Demo
from gateway.demo.generate import generate_district
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import Runtime, open_runtime
from schema.access import Clearance
from schema.build import build_schema

POLICY = PolicyStore(DEFAULT_POLICY_DIR)
FULL = build_schema(actions=ACTIONS)
PUBLIC_SCHEMA = build_schema(actions=ACTIONS, without=POLICY.current().classes.above_open())
PUBLIC = Clearance("public")
OPEN_LABELS = {"OPEN", "完全开放"}


@pytest.fixture
async def runtime(demo: Demo) -> AsyncIterator[Runtime]:
    runtime = open_runtime(demo.config, policies=POLICY)
    yield runtime
    await runtime.aclose()


async def run(runtime: Runtime, clearance: Clearance, query: str,
              variables: dict[str, Any] | None = None) -> Any:
    schema = PUBLIC_SCHEMA if clearance.role == "public" else FULL
    return await schema.execute(query, variables, context_value=runtime.new_context(clearance))


def district_rows() -> dict[str, dict[str, list[dict[str, str]]]]:
    return generate_district(as_of=DEMO_DAY).rows


async def test_public_counts_are_counts_over_open_records_only(runtime: Runtime) -> None:
    rows = district_rows()
    open_enterprises = {r["credit_code"] for r in rows["SAMR"]["enterprise"]
                        if r["openness"] in OPEN_LABELS}
    query = "query($f: EnterpriseFilter) { enterprises(filter: $f, first: 1) { totalCount } }"
    result = await run(runtime, PUBLIC, query)
    assert result.data["enterprises"]["totalCount"] == len(open_enterprises)
    admin = await run(runtime, Clearance("admin"), query)
    assert admin.data["enterprises"]["totalCount"] == len(rows["SAMR"]["enterprise"])
    for agency, types in rows.items():
        with_open_records = {
            r["credit_code"] for record_type, records in types.items()
            if record_type not in ("enterprise", "person")
            for r in records if r["openness"] in OPEN_LABELS
        } & open_enterprises
        result = await run(runtime, PUBLIC, query, {"f": {"hasRecordsFrom": agency}})
        assert result.errors is None
        assert result.data["enterprises"]["totalCount"] == len(with_open_records), agency


async def test_filters_cannot_find_what_the_caller_may_not_see(runtime: Runtime) -> None:
    hidden = next(r for r in district_rows()["SAMR"]["enterprise"]
                  if r["openness"] == "CONDITIONAL")
    query = """query($f: EnterpriseFilter) { enterprises(filter: $f) {
        totalCount edges { node { creditCode } } } }"""
    variables = {"f": {"nameContains": hidden["name"]}}
    for clearance in (PUBLIC, Clearance("department", "TAX"), Clearance("auditor")):
        result = await run(runtime, clearance, query, variables)
        assert result.data["enterprises"] == {"totalCount": 0, "edges": []}
        single = await run(runtime, clearance, '{ enterprise(creditCode: "%s") { name } }'
                           % hidden["credit_code"])
        assert single.data == {"enterprise": None} and single.errors is None
    seen = await run(runtime, Clearance("department", "TAX", "INSPECTION"), query, variables)
    assert seen.data["enterprises"]["totalCount"] == 1


async def test_the_public_schema_has_no_field_above_open(runtime: Runtime) -> None:
    above = POLICY.current().classes.above_open()
    result = await run(runtime, PUBLIC, """{
      schema: __schema { types { name f: fields { n: name } } }
      person: __type(name: "Person") { fields { name } } }""")
    types = {t["name"]: {f["n"] for f in t["f"] or ()} for t in result.data["schema"]["types"]}
    assert above["Person"] == {"idNumber", "enterprises"}
    for graph_type, fields in above.items():
        assert not fields & types[graph_type], graph_type
    assert "idNumber" not in {f["name"] for f in result.data["person"]["fields"]}
    full = await run(runtime, Clearance("admin"), '{ __type(name: "Person") { fields { name } } }')
    assert "idNumber" in {f["name"] for f in full.data["__type"]["fields"]}


async def test_hidden_fields_are_not_queryable_by_the_public(runtime: Runtime, demo: Demo) -> None:
    query = '{ person(personId: "%s") { name idNumber } }' % demo.showcase_person
    admin = await run(runtime, Clearance("admin"), query)
    assert admin.errors is None and admin.data["person"]["idNumber"]
    public = await run(runtime, PUBLIC, query)  # same text: the validation cache is per schema
    assert public.data is None
    assert "Cannot query field 'idNumber'" in public.errors[0].message


async def test_redacted_fields_are_null_and_reported_once_per_path(
    runtime: Runtime, demo: Demo
) -> None:
    # A department of another agency, no purpose: CONDITIONAL-classed fields of OPEN
    # records are hidden; the report names each path once with a count.
    query = """query($c: String!) { enterprise(creditCode: $c) {
        judgmentDefaults(period: ALL) { recordId obligation court }
        inspections(period: ALL) { recordId planId }
        legalRepresentative { name } } }"""
    result = await run(runtime, Clearance("department", "TAX"), query, {"c": demo.showcase})
    assert result.errors is None
    enterprise = result.data["enterprise"]
    assert enterprise["legalRepresentative"] is None
    defaults, inspections = enterprise["judgmentDefaults"], enterprise["inspections"]
    assert defaults and all(d["obligation"] is None and d["court"] for d in defaults)
    assert inspections and all(i["planId"] is None for i in inspections)
    report = {r["path"]: r["count"] for r in result.extensions["redacted"]}
    assert report == {
        "enterprise.judgmentDefaults.obligation": len(defaults),
        "enterprise.inspections.planId": len(inspections),
        "enterprise.legalRepresentative": 1,
    }


async def test_person_links_follow_the_person_id_class(runtime: Runtime, demo: Demo) -> None:
    query = '{ person(personId: "%s") { penalties(period: ALL) { recordId } } }' % (
        demo.showcase_person)
    admin = await run(runtime, Clearance("admin"), query)
    assert admin.data["person"]["penalties"], "the showcase person has penalties"
    # the public cannot see Penalty.personId, so no penalty is linked to a person for it
    public = await run(runtime, PUBLIC, query)
    assert public.errors is None
    assert public.data["person"] is None or public.data["person"]["penalties"] == []
