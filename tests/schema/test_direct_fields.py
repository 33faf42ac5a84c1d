"""The direct resolvers of the record lists, warnings and grades (``schema.direct_fields``)
answer exactly what strawberry's own resolvers answer: data, redaction report and
errors, for every period and day, for callers who see everything and for callers who
see less."""

from __future__ import annotations

import pytest

from conftest import ACTIONS, Demo
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import open_runtime
from schema.access import Clearance
from schema.build import build_schema

QUERY = """query($n: Int!, $p: RecordPeriod!, $day: Date) { enterprises(first: $n) { edges { node {
  creditCode
  licences(period: $p) { recordId openness licenceNo validTo }
  penalties(period: $p) { recordId agency { code } decisionNo amount personId }
  anomalies(period: $p) { recordId reason }
  seriousViolations { recordId listedOn }
  judgmentDefaults(period: $p) { recordId caseNo }
  inspections(period: $p) { recordId result }
  current: penalties { recordId }
  warning { level reasons { rule level evidence { recordId } } }
  creditGrade { grade basis }
  past: warning(asOf: "2024-06-30") { level reasons { rule } }
  pastGrade: creditGrade(asOf: $day) { grade }
} } }
enterprise(creditCode: "%s") { penalties(period: $p) { recordId } } }"""


@pytest.mark.parametrize("clearance", [
    Clearance("admin"), Clearance("department", "TAX", "INSPECTION"), Clearance("public"),
])
@pytest.mark.parametrize("period", ["CURRENT", "HISTORY", "ALL"])
async def test_direct_resolvers_answer_like_strawberrys(
    demo: Demo, clearance: Clearance, period: str
) -> None:
    runtime = open_runtime(demo.config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    query = QUERY % demo.showcase
    variables = {"n": 300, "p": period, "day": "2025-03-31"}
    try:
        direct = await build_schema(actions=ACTIONS).execute(
            query, variables, context_value=runtime.new_context(clearance))
        wrapped = await build_schema(actions=ACTIONS, direct_resolvers=False).execute(
            query, variables, context_value=runtime.new_context(clearance))
    finally:
        await runtime.aclose()
    assert direct.errors is None and wrapped.errors is None
    assert direct.data == wrapped.data
    assert direct.extensions == wrapped.extensions
    assert direct.data is not None
    edges = direct.data["enterprises"]["edges"]
    assert any(edge["node"]["penalties"] for edge in edges)
    # the days given reach the rules: some warnings differ from today's
    assert any(edge["node"]["warning"] != edge["node"]["past"] for edge in edges
               if edge["node"]["warning"] is not None)


def test_a_list_that_no_longer_fits_is_refused_at_build() -> None:
    """If a record list gains an argument or an extension, the schema does not build
    with a direct resolver that would ignore it."""
    from graphql import GraphQLArgument, GraphQLInt, GraphQLObjectType

    from schema.direct_fields import install_direct_resolvers

    schema = build_schema(actions=ACTIONS, direct_resolvers=False)._schema
    enterprise = schema.type_map["Enterprise"]
    assert isinstance(enterprise, GraphQLObjectType)
    enterprise.fields["licences"].args["limit"] = GraphQLArgument(GraphQLInt)
    with pytest.raises(TypeError, match=r"Enterprise\.licences no longer fits"):
        install_direct_resolvers(schema)


def test_a_warning_that_no_longer_fits_is_refused_at_build() -> None:
    from graphql import GraphQLArgument, GraphQLInt, GraphQLObjectType

    from schema.direct_fields import install_direct_resolvers

    schema = build_schema(actions=ACTIONS, direct_resolvers=False)._schema
    enterprise = schema.type_map["Enterprise"]
    assert isinstance(enterprise, GraphQLObjectType)
    enterprise.fields["creditGrade"].args["limit"] = GraphQLArgument(GraphQLInt)
    with pytest.raises(TypeError, match=r"Enterprise\.creditGrade no longer fits"):
        install_direct_resolvers(schema)
