"""Field arguments coerced once per query (``schema.field_arguments``): the same
answers and errors as graphql-core's per-object coercion, each literal coerced once,
mutable values (lists, input objects) coerced afresh for every object."""

from __future__ import annotations

import json
from typing import Any, NewType

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.field_arguments import FieldArgumentsExecutionContext

coerced: list[Any] = []


def _parse(value: Any) -> str:
    coerced.append(value)
    if value == "bad":
        raise ValueError("a prefix cannot be 'bad'")
    return str(value)


Prefix = NewType("Prefix", str)
CONFIG = StrawberryConfig(scalar_map={
    Prefix: strawberry.scalar(name="Prefix", parse_value=_parse, serialize=str)})


@strawberry.input
class Range:
    low: int = 0


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def label(self, prefix: Prefix = Prefix("-"), times: int = 1) -> str:
        return f"{prefix}{self.name}" * times

    @strawberry.field
    def tagged(self, tags: list[str], within: Range | None = None) -> str:
        tags.append(self.name)  # a resolver that changes its argument: not shared
        return ",".join(tags) + (f"@{within.low}" if within else "")


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a"), Item(name="b"), Item(name="c")]


QUERY = """query Q($n: Int!) { items {
  label plain: label(prefix: "p") twice: label(prefix: "t", times: $n)
  tagged(tags: ["x"]) within: tagged(tags: [], within: {low: 2})
} }"""


def _schema(memo: bool) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, config=CONFIG,
        execution_context_class=FieldArgumentsExecutionContext if memo else None)


def _answer(result: Any) -> tuple[str, list[dict[str, Any]]]:
    return json.dumps(result.data), [error.formatted for error in result.errors or []]


@pytest.mark.parametrize("query", [QUERY, '{ items { name label(prefix: "bad") } }'],
                         ids=["well", "refused"])
async def test_answers_and_errors_are_graphql_cores(query: str) -> None:
    fast = await _schema(True).execute(query, variable_values={"n": 2})
    usual = await _schema(False).execute(query, variable_values={"n": 2})
    assert _answer(fast) == _answer(usual)
    if "bad" in query:
        assert fast.errors and "cannot be 'bad'" in fast.errors[0].message
    else:
        assert fast.errors is None and fast.data is not None
        assert fast.data["items"][2] == {"label": "-c", "plain": "pc", "twice": "tctc",
                                         "tagged": "x,c", "within": "c@2"}


async def test_each_literal_is_coerced_once_per_query() -> None:
    query = '{ items { plain: label(prefix: "p") } }'
    coerced.clear()
    assert (await _schema(False).execute(query)).errors is None
    assert coerced == ["p"] * 4  # validation, then graphql-core: once per item
    coerced.clear()
    assert (await _schema(True).execute(query)).errors is None
    assert coerced == ["p"] * 2
    coerced.clear()
    assert (await _schema(True).execute(query)).errors is None
    assert coerced == ["p"] * 2  # kept for one execution only


async def test_arguments_without_variables_are_shared_by_a_query_texts_requests() -> None:
    """With shared plans (``schema.shared_plans``, one document per text from the
    parser cache), a node whose arguments use no variable is coerced once for all the
    requests of its text; one with a variable still per request, with its values."""
    from strawberry.extensions import ParserCache

    from schema.shared_plans import SharedPlans, sharing

    plans = SharedPlans()
    schema = strawberry.Schema(
        query=Query, config=CONFIG, extensions=[lambda: ParserCache(maxsize=8)],
        execution_context_class=sharing(FieldArgumentsExecutionContext, plans))
    query = ('query Q($p: Prefix!) { items { plain: label(prefix: "p") '
             'mine: label(prefix: $p) } }')
    seen = []
    for prefix in ("q", "r", "q"):
        coerced.clear()
        result = await schema.execute(query, variable_values={"p": prefix})
        assert result.errors is None and result.data is not None
        assert result.data["items"][1] == {"plain": "pb", "mine": f"{prefix}b"}
        seen.append(list(coerced))
    # validation coerces the literal each time; execution once in all; the variable's
    # value once per request
    assert seen == [["p", "q", "p"], ["p", "r"], ["p", "q"]]
    kept = [entry for operation in plans.kept() for entry in operation.arguments.values()]
    assert [entry[2] for entry in kept] == [{"prefix": "p", "times": 1}]
