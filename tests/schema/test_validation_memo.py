"""Validation results kept per parsed document (``schema.validation_memo``): found by the
document's identity - no hashing of the whole query per request - and the same errors
as strawberry's own validation."""

from __future__ import annotations

from graphql import build_schema as sdl_schema
from graphql import parse, specified_rules
from strawberry.schema.schema import validate_document

from conftest import ACTIONS
from schema.build import build_schema
from schema.validation_memo import ValidationMemo

SDL = sdl_schema("type Query { a: Int  b(x: Int!): Int }")
RULES = tuple(specified_rules)


def test_a_document_is_validated_once_and_found_by_identity() -> None:
    memo = ValidationMemo()
    document = parse("{ a b }")
    first = memo.errors(SDL, document, RULES)
    assert memo.errors(SDL, document, RULES) is first  # kept, not validated again
    assert [e.message for e in first] == [e.message for e in
                                         validate_document(SDL, document, RULES)]
    assert first and "b(x:)" in first[0].message
    # the same text parsed again is another document: validated on its own
    again = parse("{ a b }")
    assert memo.errors(SDL, again, RULES) is not first
    assert [e.message for e in memo.errors(SDL, again, RULES)] == [e.message for e in first]


def test_the_memo_is_bounded_and_forgets_the_least_recently_used() -> None:
    memo = ValidationMemo(maxsize=3)
    documents = [parse("{ a }" + " " * n) for n in range(4)]
    kept = memo.errors(SDL, documents[0], RULES)
    for document in documents[1:3]:
        memo.errors(SDL, document, RULES)
    assert memo.errors(SDL, documents[0], RULES) is kept  # used again: kept
    memo.errors(SDL, documents[3], RULES)  # the fourth: documents[1] goes
    assert len(memo) == 3
    assert memo.errors(SDL, documents[0], RULES) is kept


async def test_the_gateway_schema_validates_through_it() -> None:
    schema = build_schema(actions=ACTIONS)
    bad = await schema.execute("{ enterprise { name } }")
    assert bad.errors and "enterprise(creditCode:)" in bad.errors[0].message
    assert bad.errors[0].extensions and bad.errors[0].extensions["code"]
    again = await schema.execute("{ enterprise { name } }")
    assert again.errors and again.errors[0].message == bad.errors[0].message
    good = await schema.execute("{ __typename }")
    assert good.errors is None and good.data == {"__typename": "Query"}
