"""Query limits (schema.limits): each limit rejects with its code and a message that
gives the limit, the value found and what to do; just under each limit passes; the
standard introspection query passes with the defaults; the parser and validation caches
stay effective (the rule classes are built once, not per request).

Queries that pass are run on ``__typename`` / introspection (no context needed) or
checked with ``validate`` / ``query_cost`` directly; rejected queries never reach a
resolver, so they need no context either."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    Lexer,
    OperationDefinitionNode,
    Source,
    TokenKind,
    get_introspection_query,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from strawberry.extensions import MaskErrors, ParserCache, SchemaExtension, ValidationCache
from strawberry.types import ExecutionResult

from conftest import ACTIONS
from schema.build import (
    MASKED_MESSAGE,
    GatewaySchema,
    RedactionReport,
    SourceFailureErrors,
    StaleReport,
    _should_mask,
)
from schema.error_codes import RequestErrorCodes
from schema.limits import (
    AliasLimitRule,
    DepthLimitRule,
    QueryLimitError,
    QueryLimits,
    QueryLimitsExtension,
    limit_extensions,
    limit_rules,
    query_cost,
)
from schema.query import query_type

DEFAULTS = QueryLimits()
QUERY = query_type(ACTIONS)  # the root type of the shipped catalogue
Extension = type[SchemaExtension] | Callable[[], SchemaExtension]


def gateway_extensions(caches: bool = True) -> list[Extension]:
    """The extensions of ``schema.build.build_schema``, without the limits."""
    caching: list[Extension] = (
        [lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)]
        if caches else []
    )
    return [
        *caching,
        RequestErrorCodes,
        SourceFailureErrors,
        RedactionReport,
        StaleReport,
        lambda: MaskErrors(should_mask_error=_should_mask, error_message=MASKED_MESSAGE),
    ]


@functools.cache
def limited(limits: QueryLimits = DEFAULTS, caches: bool = True) -> GatewaySchema:
    """The gateway's schema as build_schema makes it, with the limits appended."""
    return GatewaySchema(query=QUERY,
                         extensions=[*gateway_extensions(caches), *limit_extensions(limits)])


def codes(result: ExecutionResult) -> list[str | None]:
    return [(e.extensions or {}).get("code") for e in result.errors or []]


def only_error(result: ExecutionResult, code: str) -> GraphQLError:
    """The result's one error, which has ``code``; no data (nothing was resolved)."""
    assert codes(result) == [code], result.errors
    assert result.data is None
    assert result.errors is not None
    return result.errors[0]


def tokens(query: str) -> int:
    """Lexical tokens of a query, comments included, as graphql-core's parser counts them
    for ``max_tokens``."""
    lexer = Lexer(Source(query))
    start = lexer.token
    while lexer.advance().kind is not TokenKind.EOF:
        pass
    count, token = 0, start.next
    while token is not None and token.kind is not TokenKind.EOF:
        count, token = count + 1, token.next
    return count


def check(query: str, limits: QueryLimits = DEFAULTS) -> list[GraphQLError]:
    """Validation errors of ``query`` against the gateway schema: the standard rules and
    the limit rules."""
    schema = limited(limits)._schema
    return validate(schema, parse(query), [*specified_rules, *limit_rules(limits)])


def cost(query: str, variables: dict[str, Any] | None = None,
         limits: QueryLimits = DEFAULTS) -> tuple[int, int]:
    """``query_cost`` of ``query`` with ``variables`` coerced by graphql-core, as
    execution will see them."""
    document = parse(query)
    operation = get_operation_ast(document)
    assert isinstance(operation, OperationDefinitionNode)
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    schema = limited(limits)._schema
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    assert not isinstance(coerced, list), coerced
    return query_cost(schema, operation, fragments.get, coerced.coerced, limits)


def variable_error(result: ExecutionResult, variable: str) -> None:
    """The result's errors are graphql-core's own for an invalid ``variable`` (one per
    invalid item of a list, up to its limit), BAD_USER_INPUT, neither a limit's code
    nor masked; no data."""
    assert result.data is None
    assert result.errors, result
    assert result.errors[0].message.startswith(f"Variable '${variable}' has invalid value"), (
        result.errors[0].message)
    for error in result.errors:
        assert error.extensions == {"code": "BAD_USER_INPUT"}, error.extensions
        assert error.message != MASKED_MESSAGE


def nested(depth: int) -> str:
    """A valid query ``depth`` fields deep: person > enterprises > legalRepresentative >
    enterprises > ... > name."""
    inner = "name"
    for level in range(depth - 2, 0, -1):
        inner = f"{'enterprises' if level % 2 else 'legalRepresentative'} {{ {inner} }}"
    return f'{{ person(personId: "P1") {{ {inner} }} }}'


# --- QueryLimits ---------------------------------------------------------------------------


def test_defaults() -> None:
    assert (DEFAULTS.max_depth, DEFAULTS.max_aliases, DEFAULTS.max_tokens, DEFAULTS.max_cost,
            DEFAULTS.default_list_size, DEFAULTS.max_list_size) == (
                12, 30, 5000, 1_000_000, 20, 1000)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_depth must be at least 1"):
        QueryLimits(max_depth=0)


# --- QUERY_TOO_LARGE -------------------------------------------------------------------------


def typenames(count: int) -> str:
    """``{ __typename __typename ... }``: count + 2 tokens."""
    return "{ " + " ".join(["__typename"] * count) + " }"


def commented(comments: int) -> str:
    """``{ __typename }`` after ``comments`` comment lines: comments + 3 tokens.
    (Thousands of ``__typename`` would be valid too, but graphql-core's own validation
    gives up on a thousand identical fields.)"""
    return "# padding\n" * comments + "{ __typename }"


@pytest.mark.parametrize("caches", [True, False], ids=["ParserCache", "no-cache"])
async def test_tokens_at_the_limit_pass_one_more_is_too_large(caches: bool) -> None:
    schema = limited(DEFAULTS, caches)
    at_limit = commented(4997)
    assert tokens(at_limit) == 5000
    result = await schema.execute(at_limit)
    assert result.errors is None
    assert result.data == {"__typename": "Query"}

    over = typenames(4999)
    assert tokens(over) == 5001
    error = only_error(await schema.execute(over), "QUERY_TOO_LARGE")
    assert error.message.startswith(
        f"The query has more than 5000 tokens ({len(over):,} characters); the limit is 5000.")
    assert "pass long lists (creditCodes) as variables" in error.message
    assert error.locations  # where the parser stopped


async def test_comments_count_as_tokens() -> None:
    error = only_error(await limited().execute(commented(4998)), "QUERY_TOO_LARGE")
    assert "leave out comments" in error.message


def test_too_large_in_synchronous_execution() -> None:
    only_error(limited().execute_sync(typenames(5000)), "QUERY_TOO_LARGE")


async def test_other_syntax_errors_are_parse_errors() -> None:
    result = await limited().execute("{ __typename")
    assert codes(result) == ["GRAPHQL_PARSE_FAILED"]
    assert result.errors is not None
    assert result.errors[0].message.startswith("Syntax Error: Expected Name")


async def test_token_limit_is_configurable() -> None:
    schema = limited(QueryLimits(max_tokens=10))
    assert (await schema.execute(typenames(8))).errors is None
    error = only_error(await schema.execute(typenames(9)), "QUERY_TOO_LARGE")
    assert "limit is 10" in error.message


# --- QUERY_TOO_DEEP --------------------------------------------------------------------------


def test_depth_at_the_limit_passes() -> None:
    assert check(nested(12)) == []


async def test_too_deep() -> None:
    error = only_error(await limited().execute(nested(13)), "QUERY_TOO_DEEP")
    assert error.message.startswith("The query nests fields 13 deep; the limit is 12.")
    assert "split the query" in error.message


async def test_depth_through_fragments() -> None:
    # 13 deep once the fragments (and the inline fragment) are expanded
    query = """query Deep { person(personId: "P1") { ...P } }
      fragment P on Person { enterprises { legalRepresentative { ...P2 } } }
      fragment P2 on Person { enterprises { ... on Enterprise { legalRepresentative {
        ...P3 } } } }
      fragment P3 on Person { enterprises { legalRepresentative { enterprises {
        legalRepresentative { enterprises { legalRepresentative { enterprises {
        name } } } } } } } }"""
    error = only_error(await limited().execute(query), "QUERY_TOO_DEEP")
    assert error.message.startswith("The query Deep nests fields 13 deep; the limit is 12.")
    assert check(query, QueryLimits(max_depth=13)) == []


async def test_introspection_has_its_own_depth_limit() -> None:
    of_types = "name"
    for _ in range(13):
        of_types = f"ofType {{ {of_types} }}"
    query = f'{{ __type(name: "Query") {{ {of_types} }} }}'  # 15 deep
    assert check(query) == []
    too_deep = query.replace("name }", "ofType { name } }", 1)  # 16 deep
    error = only_error(await limited().execute(too_deep), "QUERY_TOO_DEEP")
    assert "introspection fields 16 deep; the limit is 15" in error.message


# --- TOO_MANY_ALIASES ------------------------------------------------------------------------


def aliases(count: int) -> str:
    return " ".join(f"a{i}: __typename" for i in range(count))


async def test_aliases_at_the_limit_pass() -> None:
    result = await limited().execute(f"{{ {aliases(30)} }}")
    assert result.errors is None
    assert result.data is not None
    assert len(result.data) == 30


async def test_too_many_aliases() -> None:
    error = only_error(await limited().execute(f"{{ {aliases(31)} }}"), "TOO_MANY_ALIASES")
    assert error.message.startswith("The query has 31 aliased fields")
    assert "the limit is 30" in error.message
    assert "Use fewer aliases" in error.message


async def test_aliases_in_fragments_count_each_time_they_are_spread() -> None:
    # 15 aliases in the fragment, spread twice: 30, at the limit
    fragment = f"fragment F on Query {{ {aliases(15)} }}"
    twice = f"{{ ...F ... on Query {{ ...F }} }} {fragment}"
    result = await limited().execute(twice)
    assert result.errors is None
    # one more alias anywhere: 31
    error = only_error(await limited().execute(f"{{ x: __typename ...F ...F }} {fragment}"),
                       "TOO_MANY_ALIASES")
    assert error.message.startswith("The query has 31 aliased fields")


async def test_fragment_bombs_are_counted_without_expanding_them() -> None:
    # F30 expands to 2**30 aliased fields: counted once per fragment, not per spread
    fragments = ["fragment F0 on Query { a: __typename }"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 31)]
    query = "{ ...F30 } " + " ".join(fragments)
    started = time.perf_counter()
    error = only_error(await limited().execute(query), "TOO_MANY_ALIASES")
    assert time.perf_counter() - started < 2
    assert f"has {2**30} aliased fields" in error.message


# --- QUERY_TOO_COSTLY ------------------------------------------------------------------------

PAGE = """query Page($n: Int!) { enterprises(first: $n) {
  edges { node { creditCode name } } } }"""  # 1 + 1 + n * (1 + 2) = 2 + 3n


def test_cost_of_a_page_with_first_as_a_variable() -> None:
    assert cost(PAGE, {"n": 100}) == (302, 0)
    assert cost(PAGE, {"n": 1000}) == (3002, 0)
    # larger than the schema serves (MAX_PAGE): counted as max_list_size
    assert cost(PAGE, {"n": 5000}) == (3002, 0)


def test_cost_of_first_as_a_literal_a_default_or_absent() -> None:
    assert cost(PAGE.replace("$n", "7").replace("(7: Int!)", "")) == (23, 0)
    assert cost(PAGE.replace("Int!", "Int! = 50")) == (152, 0)  # the variable's default
    assert cost("{ enterprises { edges { node { creditCode } } } }") == (42, 0)  # schema: 20


def test_cost_of_lists_without_a_size_and_of_fragments() -> None:
    # penalties: assumed_list_size (10) items of 3 fields each
    query = """{ enterprise(creditCode: "X") { name penalties { ...Fields } } }
      fragment Fields on Penalty { recordId amount agency { code } }"""
    assert cost(query) == (1 + 1 + 1 + 10 * (1 + 1 + 2), 0)
    # connection fields outside the edges are not multiplied
    assert cost("""query($n: Int!) { enterprises(first: $n) { totalCount
      pageInfo { hasNextPage } edges { cursor } } }""", {"n": 500}) == (1 + 1 + 2 + 1 + 500, 0)


async def test_too_costly_with_first_as_a_variable() -> None:
    limits = QueryLimits(max_cost=302)
    assert cost(PAGE, {"n": 100}, limits)[0] == limits.max_cost  # just under: passes
    result = await limited(limits).execute(PAGE, variable_values={"n": 101})
    error = only_error(result, "QUERY_TOO_COSTLY")  # and no resolver ran (no context)
    assert error.message.startswith("The query Page would cost about 305; the limit is 302.")
    assert "Ask for fewer fields or a smaller page" in error.message


async def test_cost_limit_passes_at_the_limit_in_execution() -> None:
    schema = limited(QueryLimits(max_cost=3))
    assert (await schema.execute("{ a: __typename b: __typename c: __typename }")).errors is None
    only_error(await schema.execute("{ a: __typename b: __typename c: __typename d: __typename }"),
               "QUERY_TOO_COSTLY")


CHECKS = """query Checks($codes: [String!]!) {
  restrictionChecks(creditCodes: $codes, action: LICENCE_APPLICATION) {
    creditCode decision grade warningLevel %s } }"""


async def test_restriction_checks_for_10001_enterprises_are_too_costly() -> None:
    query = CHECKS % "reasons { rule }"  # 4 fields + a list of 10 x 1 per code
    variables = {"codes": [f"CODE{i}" for i in range(10_001)]}
    assert cost(query, variables) == (1 + 10_001 * (4 + 1 + 10), 0)
    tight = QueryLimits(max_cost=50_000)
    error = only_error(await limited(tight).execute(query, variable_values=variables),
                       "QUERY_TOO_COSTLY")
    assert "would cost about 150,016; the limit is 50,000" in error.message
    assert "fewer creditCodes per restrictionChecks call" in error.message


def test_restriction_checks_cost_is_the_number_of_codes() -> None:
    query = CHECKS % ""
    # the benchmark's query: 10,000 codes x 4 fields fits the default budget
    assert cost(query, {"codes": ["C"] * 10_000}) == (40_001, 0)
    assert cost(query, {"codes": "C"}) == (5, 0)  # one value is a list of one
    literal = query.replace("($codes: [String!]!)", "").replace("$codes", '["A", "B", "C"]')
    assert cost(literal) == (13, 0)


@pytest.mark.parametrize("codes", [
    ["C"] * 10_000 + [None],  # a null in a list of String!
    [1.0] * 10_001,  # floats are not Strings
    1.0,  # nor is a single one a list of one String
], ids=["null-item", "floats", "one-float"])
async def test_invalid_codes_get_the_variable_error_not_a_cost(codes: object) -> None:
    # counted from the raw list, these would be over the limit (10,001 x 15 > 50,000)
    tight = QueryLimits(max_cost=50_000)
    result = await limited(tight).execute(CHECKS % "reasons { rule }",
                                          variable_values={"codes": codes})
    variable_error(result, "codes")


async def test_a_literal_list_of_10001_codes_is_too_large() -> None:
    codes_literal = ", ".join(f'"C{i}"' for i in range(10_001))
    query = (CHECKS % "").replace("($codes: [String!]!)", "").replace(
        "$codes", f"[{codes_literal}]")
    only_error(await limited().execute(query), "QUERY_TOO_LARGE")


# --- The cost is computed from coerced values (issue 11, finding 3) ---------------------------

EVERY_LIST = """creditCode name status industry legalRepName
  licences { recordId agency { code } openness riskLevel licenceNo status validTo }
  penalties { recordId agency { code } openness riskLevel decisionNo penaltyType amount decidedOn }
  anomalies { recordId agency { code } openness riskLevel reason listedOn removedOn }
  seriousViolations { recordId agency { code } openness riskLevel reason listedOn }
  judgmentDefaults { recordId agency { code } openness riskLevel caseNo performance }
  inspections { recordId agency { code } openness riskLevel inspectedOn result }
  warning { level reasons { rule level agencies { code } } } creditGrade { grade basis }"""

TWO_PAGES = """query Pages($n: Int!) {
  a: enterprises(first: $n) { edges { node { ...Wide } } }
  b: enterprises(first: $n) { edges { node { ...Wide } } } }
fragment Wide on Enterprise { %s }""" % EVERY_LIST


@pytest.mark.parametrize("n", [1000, 1000.0], ids=["int", "float"])
async def test_a_float_page_size_costs_what_the_int_it_is_coerced_to_costs(n: float) -> None:
    # graphql-core coerces the JSON number 1000.0 to the Int 1000: the same cost
    data, _ = cost(TWO_PAGES, {"n": 1000})
    assert data > DEFAULTS.max_cost
    assert cost(TWO_PAGES, {"n": n}) == (data, 0)
    error = only_error(await limited().execute(TWO_PAGES, variable_values={"n": n}),
                       "QUERY_TOO_COSTLY")
    assert error.message.startswith(
        f"The query Pages would cost about {data:,}; the limit is 1,000,000.")


@pytest.mark.parametrize("n", ["abc", 1000.5, "1000", 2**31, True, None])
async def test_a_page_size_graphql_core_refuses_gets_its_variable_error(n: object) -> None:
    # not a cost from the raw value (2**31 as a full page would be over the limit)
    variable_error(await limited().execute(TWO_PAGES, variable_values={"n": n}), "n")


async def test_a_missing_variable_gets_its_error_not_a_cost() -> None:
    variable_error(await limited().execute(TWO_PAGES, variable_values={}), "n")


def test_literal_arguments_are_costed_as_coerced() -> None:
    page = PAGE.replace("($n: Int!)", "")
    assert cost(page.replace("$n", "1000")) == (3002, 0)
    # a variable inside a literal list, and a single variable coerced to a list of one
    assert cost("""query($a: String!, $b: String!) { restrictionChecks(
      creditCodes: [$a, $b], action: HONOUR) { decision } }""", {"a": "A", "b": "B"}) == (1 + 2, 0)
    assert cost("""query($a: String!) { restrictionChecks(
      creditCodes: $a, action: HONOUR) { decision } }""", {"a": "A"}) == (1 + 1, 0)


# --- Introspection ---------------------------------------------------------------------------

INTROSPECTION = {
    "graphql-core default": get_introspection_query(),
    "graphql-js 16 depth": get_introspection_query(type_depth=7),
    "every option": get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True,
        schema_description=True, input_value_deprecation=True, one_of=True),
}


@pytest.mark.parametrize("query", list(INTROSPECTION.values()), ids=list(INTROSPECTION))
async def test_standard_introspection_passes_with_the_defaults(query: str) -> None:
    result = await limited().execute(query)
    assert result.errors is None
    assert result.data is not None
    assert result.data["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_twice_in_one_request_is_too_costly() -> None:
    selection = INTROSPECTION["graphql-core default"]
    query, fragments = selection.split("fragment", 1)
    body = query[query.index("__schema"):query.rindex("}")]
    twice = f"query {{ a: {body} b: {body} }} fragment{fragments}"
    error = only_error(await limited().execute(twice), "QUERY_TOO_COSTLY")
    assert "introspection that would cost about" in error.message
    assert "the limit is 75,000" in error.message


# --- The caches stay effective ---------------------------------------------------------------


class Recorder(SchemaExtension):
    """Records each request's document and validation rules."""

    def __init__(self, seen: list[tuple[DocumentNode | None, tuple[type, ...]]]) -> None:
        super().__init__()
        self.seen = seen

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        self.seen.append((context.graphql_document, context.validation_rules))


@pytest.fixture
def recorded() -> tuple[GatewaySchema, list[tuple[DocumentNode | None, tuple[type, ...]]]]:
    seen: list[tuple[DocumentNode | None, tuple[type, ...]]] = []
    schema = GatewaySchema(query=QUERY, extensions=[
        *gateway_extensions(), lambda: Recorder(seen), *limit_extensions(DEFAULTS)])
    return schema, seen


def test_rule_classes_are_built_once_per_limits() -> None:
    first, second = limit_rules(QueryLimits()), limit_rules(QueryLimits())
    assert len(first) == 2
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert issubclass(first[0], DepthLimitRule)
    assert issubclass(first[1], AliasLimitRule)
    other = limit_rules(QueryLimits(max_depth=5))
    assert other[0] is not first[0]
    assert other[0].limits.max_depth == 5  # type: ignore[attr-defined]


def test_limit_extensions_make_one_fresh_extension_per_request() -> None:
    factories = limit_extensions(DEFAULTS)
    made = [factory() for factory in factories for _ in range(2)]
    assert all(isinstance(extension, QueryLimitsExtension) for extension in made)
    assert made[0] is not made[1]


@pytest.mark.parametrize("selections", [
    "a: __typename b: __typename",
    aliases(31),  # rejected by a limit rule: the rejection is cached too
], ids=["passes", "rejected"])
async def test_second_request_hits_the_parser_and_validation_caches(
    recorded: tuple[GatewaySchema, list[tuple[DocumentNode | None, tuple[type, ...]]]],
    selections: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema, seen = recorded
    validations: list[DocumentNode] = []

    def counting_validate(graphql_schema: Any, document: DocumentNode, *args: Any,
                          **kwargs: Any) -> list[GraphQLError]:
        validations.append(document)
        return validate(graphql_schema, document, *args, **kwargs)

    # what strawberry's validate_document (wrapped by ValidationCache) calls
    monkeypatch.setattr("strawberry.schema.schema.validate", counting_validate)
    # new to the module-level caches, as text and as a document
    query = f"{{ u{uuid.uuid4().hex}: __typename {selections} }}"
    first = await schema.execute(query)
    second = await schema.execute(query)
    assert codes(first) == codes(second)
    assert len(validations) == 1  # the second request was answered by ValidationCache
    (document_1, rules_1), (document_2, rules_2) = seen
    assert document_1 is document_2  # ParserCache: parsed once
    assert rules_1 == rules_2
    assert all(a is b for a, b in zip(rules_1, rules_2, strict=True))
    assert set(limit_rules(DEFAULTS)) <= set(rules_1)


def test_errors_are_query_limit_errors() -> None:
    error = QueryLimitError("QUERY_TOO_DEEP", "too deep")
    assert error.extensions == {"code": "QUERY_TOO_DEEP"}
    assert error.original_error is None  # so MaskErrors leaves it as it is
    assert not _should_mask(error)


# --- the limits in the gateway's own schema -------------------------------------------------

EVERYDAY_PAGE = """{ enterprises(first: 1000) { totalCount edges { node {
  creditCode name status industry legalRepName
  licences { recordId agency { code } openness riskLevel licenceNo status validTo }
  penalties { recordId agency { code } openness riskLevel decisionNo penaltyType amount decidedOn }
  anomalies { recordId agency { code } openness riskLevel reason listedOn removedOn }
  seriousViolations { recordId agency { code } openness riskLevel reason listedOn }
  judgmentDefaults { recordId agency { code } openness riskLevel caseNo performance }
  inspections { recordId agency { code } openness riskLevel inspectedOn result }
  warning { level reasons { rule level agencies { code } } } creditGrade { grade basis }
} } } }"""


def test_the_largest_everyday_query_is_within_the_default_cost() -> None:
    data, _ = cost(EVERYDAY_PAGE)
    assert 500_000 < data < DEFAULTS.max_cost
    assert not check(EVERYDAY_PAGE)


async def test_build_schema_enforces_the_limits_it_is_given() -> None:
    from schema.build import build_schema

    deep = nested(DEFAULTS.max_depth + 1)
    assert codes(await build_schema(actions=ACTIONS).execute(deep)) == ["QUERY_TOO_DEEP"]
    relaxed = build_schema(actions=ACTIONS, limits=QueryLimits(max_depth=DEFAULTS.max_depth + 1))
    assert "QUERY_TOO_DEEP" not in codes(await relaxed.execute(deep))
    tight = build_schema(actions=ACTIONS, limits=QueryLimits(max_cost=100))
    result = await tight.execute("{ enterprises(first: 50) { edges { node { name status } } } }")
    assert codes(result) == ["QUERY_TOO_COSTLY"]


async def test_costs_are_computed_once_per_query_and_page_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import schema.query_cost as module  # where CostMemo finds query_cost
    from schema.build import build_schema

    computed: list[object] = []  # the variables of each costing, as coerced
    real = module.query_cost

    def counting(*args: Any) -> tuple[int, int]:
        computed.append(args[3])
        return real(*args)

    monkeypatch.setattr(module, "query_cost", counting)
    schema = build_schema(actions=ACTIONS, limits=QueryLimits(max_cost=1000))
    query = "query($n: Int!) { enterprises(first: $n) { edges { node { name status } } } }"
    for size in (600, 10, 600, 10.0, 600.0):  # 600.0 is the Int 600: the same cost
        found = codes(await schema.execute(query, variable_values={"n": size}))
        assert ("QUERY_TOO_COSTLY" in found) == (size == 600)
    assert computed == [{"n": 600}, {"n": 10}]
