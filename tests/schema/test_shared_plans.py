"""Plans shared by the requests of one query text (``schema.shared_plans``): the same
answers and errors as graphql-core's own execution, for generated queries asked again
and again with other variables; nothing shared where directives or fragment variables
make the shape depend on the variables; the shared plans are really reused."""

from __future__ import annotations

import json
import random
from typing import Annotated, Any

import pytest
import strawberry
from graphql import parse
from graphql.execution import executor
from strawberry.extensions import ParserCache

from conftest import ACTIONS, Demo
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import open_runtime
from schema.access import Clearance
from schema.build import build_schema
from schema.direct_fields import install_direct_resolvers
from schema.leaf_fields import LeafFieldsExecutionContext
from schema.shared_plans import SharedPlans, sharing

# --- a small schema: interfaces, unions, nesting, arguments, values that go wrong -------


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Tag:
    code: str
    note: str | None


@strawberry.type
class Shop(Named):
    name: str
    size: int | None
    tags: list[Tag]

    @strawberry.field
    def label(self, prefix: str = "#") -> str:
        return prefix + self.name


@strawberry.type
class Person(Named):
    name: str
    age: int | None
    shops: list[Shop]


Anything = Annotated[Shop | Person, strawberry.union("Anything")]

SHOPS = [Shop(name="s1", size=1, tags=[Tag(code="a", note=None)]),
         Shop(name="s2", size=None, tags=[]),
         Shop(name=None, size=3, tags=[Tag(code="b", note="n")])]  # type: ignore[arg-type]
PEOPLE = [Person(name="p1", age=40, shops=SHOPS[:2]), Person(name="p2", age=None, shops=[])]


@strawberry.type
class Query:
    @strawberry.field
    def shops(self, first: int = 10) -> list[Shop]:
        return SHOPS[:first]

    @strawberry.field
    def people(self) -> list[Person]:
        return PEOPLE

    @strawberry.field
    def named(self) -> list[Named]:
        return [*PEOPLE, *SHOPS[:2]]

    @strawberry.field
    def anything(self) -> list[Anything]:
        return [PEOPLE[0], SHOPS[0]]


def _schema(context_class: Any) -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, types=[Shop, Person],
                               execution_context_class=context_class,
                               # one document per text, as in the gateway
                               extensions=[lambda: ParserCache(maxsize=64)])
    install_direct_resolvers(schema._schema)
    return schema


def _answer(result: Any) -> str:
    errors = sorted((error.formatted for error in result.errors or []), key=json.dumps)
    return json.dumps([result.data, errors])


SHOP = ["name", "size", "tags { code note }", "label", 'label(prefix: "$")',
        "__typename", "tags { code }"]
PERSON = ["name", "age", "__typename"]


def _pick(rng: random.Random, fields: list[str]) -> str:
    chosen = rng.sample(fields, rng.randint(1, len(fields)))
    return " ".join(f"a{n}: {field}" if rng.random() < 0.3 else field
                    for n, field in enumerate(chosen))


def _generated(rng: random.Random) -> str:
    shop = _pick(rng, SHOP)
    person = _pick(rng, PERSON) + f" shops {{ {_pick(rng, SHOP)} }}"
    roots = [
        f"shops(first: $n) {{ {shop} }}",
        f"people {{ {person} }}",
        f"named {{ name ... on Shop {{ {_pick(rng, SHOP)} }} ...P }}",
        f"anything {{ __typename ... on Person {{ {_pick(rng, PERSON)} }} ...S }}",
    ]
    body = " ".join(rng.sample(roots, rng.randint(1, len(roots))))
    return (f"query Q($n: Int!) {{ {body} }} "
            f"fragment P on Person {{ {person} }} fragment S on Shop {{ {shop} }}")


@pytest.mark.parametrize("seed", range(40))
async def test_generated_queries_answer_as_graphql_core_again_and_again(seed: int) -> None:
    rng = random.Random(seed)
    shared = _schema(sharing(LeafFieldsExecutionContext, SharedPlans()))
    usual = _schema(None)
    queries = [_generated(rng) for _ in range(4)]
    for _ in range(3):  # each text again, in another order, with other variables
        for query in rng.sample(queries, len(queries)):
            n = rng.randint(0, 3)
            fast = await shared.execute(query, variable_values={"n": n})
            plain = await usual.execute(query, variable_values={"n": n})
            assert _answer(fast) == _answer(plain), query


async def test_a_repeated_text_collects_its_fields_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = vars(executor)["collect_subfields"]

    def counted(*args: Any) -> Any:
        calls.append(args[4].name)  # the return type
        return original(*args)

    monkeypatch.setattr(executor, "collect_subfields", counted)
    plans = SharedPlans()
    schema = _schema(sharing(LeafFieldsExecutionContext, plans))
    query = "query Q($n: Int!) { shops(first: $n) { name tags { code } } people { name } }"
    first = await schema.execute(query, variable_values={"n": 2})
    made = len(calls)
    assert made >= 3 and len(plans) == 1
    for n in (0, 1, 2):
        again = await schema.execute(query, variable_values={"n": n})
        assert again.data is not None
        assert again.data["shops"] == (first.data or {})["shops"][:n]
    assert len(calls) == made  # nothing collected again


async def test_repeated_requests_do_not_grow_the_shared_plans() -> None:
    """The root's field set and field lists are new each request: their plans are the
    execution's own, so what is shared stays the same size however often a text comes
    (a root list of plain leaves, nested lists, fragments)."""
    plans = SharedPlans()
    schema = _schema(sharing(LeafFieldsExecutionContext, plans))
    query = ("query Q($n: Int!) { shops(first: $n) { name tags { code } } "
             "people { ...P } } fragment P on Person { name shops { size } }")
    sizes = []
    for n in (2, 1, 2, 0, 2):
        result = await schema.execute(query, variable_values={"n": n})
        assert result.errors is None
        (kept,) = plans.kept()
        sizes.append((len(kept.subfields), len(kept.members), len(kept.leaves),
                      len(kept.lists)))
    assert sizes[0][0] > 0 and sizes[0][2] > 0
    assert sizes[1:] == [sizes[0]] * 4


@pytest.mark.parametrize("query", [
    "query Q($x: Boolean!) { shops(first: 2) { name size @include(if: $x) } }",
    "query Q($x: Boolean!) { shops(first: 2) { name ...F @skip(if: $x) } } "
    "fragment F on Shop { size }",
    "query Q($x: Boolean!) { shops(first: 2) { name ... @include(if: $x) { size } } }",
])
async def test_a_shape_that_depends_on_variables_is_not_shared(query: str) -> None:
    plans = SharedPlans()
    shared = _schema(sharing(LeafFieldsExecutionContext, plans))
    usual = _schema(None)
    for x in (True, False, True):
        fast = await shared.execute(query, variable_values={"x": x})
        assert _answer(fast) == _answer(await usual.execute(query, variable_values={"x": x}))
        assert ('"size"' in json.dumps(fast.data)) is (x if "include" in query else not x)
    document = parse(query)
    assert plans.for_operation(shared._schema, document.definitions[0], {}) is None  # type: ignore[arg-type]


def test_at_most_maxsize_operations_are_kept() -> None:
    plans = SharedPlans(maxsize=2)
    schema = _schema(None)._schema
    operations = [parse(f"{{ shops {{ name a{n}: size }} }}").definitions[0] for n in range(3)]
    for operation in operations:
        assert plans.for_operation(schema, operation, {}) is not None  # type: ignore[arg-type]
    assert len(plans) == 2
    kept = plans.for_operation(schema, operations[2], {})  # type: ignore[arg-type]
    assert kept is plans.for_operation(schema, operations[2], {})  # type: ignore[arg-type]


# --- the gateway's own schema ------------------------------------------------------------

ONE = """query One($c: String!) { enterprise(creditCode: $c) { creditCode name status
  licences { recordId agency { code } openness riskLevel licenceNo status validTo }
  penalties { recordId agency { code } openness decisionNo amount decidedOn }
  anomalies { recordId agency { code } reason listedOn }
  judgmentDefaults { recordId agency { code } caseNo }
  inspections { recordId agency { code } inspectedOn result }
  warning { level reasons { rule level agencies { code } } }
  creditGrade { grade }
} }"""


@pytest.mark.parametrize("clearance", [
    Clearance("admin"), Clearance("department", "TAX", "INSPECTION"), Clearance("public"),
])
async def test_the_gateways_enterprise_is_answered_the_same(demo: Demo,
                                                            clearance: Clearance) -> None:
    """One enterprise's record lists now take the one-step path (their plans shared):
    the same bytes and extensions as graphql-core's completion, asked three times."""
    policies = PolicyStore(DEFAULT_POLICY_DIR)
    without = policies.current().classes.above_open() if clearance.role == "public" else None
    runtime = open_runtime(demo.config, policies=policies)
    query = ONE.replace("judgmentDefaults { recordId agency { code } caseNo }", "") \
        if clearance.role == "public" else ONE
    try:
        shared = build_schema(actions=ACTIONS, without=without)
        usual = build_schema(actions=ACTIONS, without=without, leaf_fields=False)
        for _ in range(3):
            fast = await shared.execute(query, variable_values={"c": demo.showcase},
                                        context_value=runtime.new_context(clearance))
            plain = await usual.execute(query, variable_values={"c": demo.showcase},
                                        context_value=runtime.new_context(clearance))
            assert fast.errors is None and plain.errors is None, (fast.errors, plain.errors)
            assert json.dumps(fast.data) == json.dumps(plain.data)
            assert fast.extensions == plain.extensions
    finally:
        await runtime.aclose()
    assert fast.data is not None and fast.data["enterprise"] is not None
