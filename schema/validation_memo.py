"""Validation results kept per parsed document, found by the document's identity.

strawberry's ``ValidationCache`` keeps them in an ``lru_cache`` keyed by the schema,
the document and the rules, so every request hashes the whole document: graphql-core's
AST nodes are dataclasses whose hash walks every node below them (about 160 nodes for
the one-enterprise query, 0.1 ms a request). ``ParserCache`` already hands out the same
``DocumentNode`` for the same query text, so ``ValidationMemo`` finds a document's
result by its id - kept with the entry, so that the id cannot be reused while the
entry lives - and a re-parsed text (after the parser cache let it go) is a new
document, validated again. What is validated and with which rules is strawberry's
own ``validate_document``; only the lookup differs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

__all__ = ["ValidationMemo", "ValidationMemoExtension"]

_Key = tuple[int, int, tuple[Any, ...]]


class ValidationMemo:
    """Validation errors per (schema, document, rules), at most ``maxsize`` documents,
    the least recently used forgotten first. One per schema; the event loop's thread
    only."""

    def __init__(self, maxsize: int = 512) -> None:
        self._entries: OrderedDict[_Key, tuple[GraphQLSchema, DocumentNode,
                                               list[GraphQLError]]] = OrderedDict()
        self._maxsize = maxsize

    def errors(self, schema: GraphQLSchema, document: DocumentNode,
               rules: tuple[Any, ...]) -> list[GraphQLError]:
        key = (id(schema), id(document), rules)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is schema and entry[1] is document:
            self._entries.move_to_end(key)
            return entry[2]
        found = validate_document(schema, document, rules)
        self._entries[key] = (schema, document, found)
        if len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)
        return found

    def __len__(self) -> int:
        return len(self._entries)


class ValidationMemoExtension(SchemaExtension):
    """strawberry's validation step answered from ``memo`` (in place of
    ``ValidationCache``)."""

    def __init__(self, memo: ValidationMemo) -> None:
        super().__init__()
        self._memo = memo

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None  # parsed before validation (strawberry's order)
        context.pre_execution_errors = self._memo.errors(
            context.schema._schema, document, tuple(context.validation_rules))
        yield
