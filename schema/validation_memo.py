"""Validation results kept per parsed document, found by the document's identity.

strawberry's ``ValidationCache`` keeps them in an ``lru_cache`` keyed by the schema,
the document and the rules, so every request hashes the whole document: graphql-core's
AST nodes are dataclasses whose hash walks every node below them (about 160 nodes for
the one-enterprise query, 0.1 ms a request). ``ParserCache`` already hands out the same
``DocumentNode`` for the same query text, so ``ValidationMemo`` finds a document's
result by its id (``schema.identity_memo``) - and a re-parsed text (after the parser
cache let it go) is a new document, validated again. What is validated and with which
rules is strawberry's own ``validate_document``; only the lookup differs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.identity_memo import IdentityMemo

__all__ = ["ValidationMemo", "ValidationMemoExtension"]


class ValidationMemo:
    """Validation errors per (schema, document, rules), at most ``maxsize`` documents
    (``schema.identity_memo``). One per schema; the event loop's thread only."""

    def __init__(self, maxsize: int = 512) -> None:
        self._memo: IdentityMemo[list[GraphQLError]] = IdentityMemo(maxsize)
        # query text -> its document, for texts whose document passed validation (the
        # limits' rules included) with this schema: what ``schema.early_asks`` reads
        # before strawberry has parsed and validated the request again
        self._accepted: OrderedDict[str, DocumentNode] = OrderedDict()
        self._maxsize = maxsize

    def accept(self, query: str, document: DocumentNode) -> None:
        """``document`` (parsed from ``query``) passed validation."""
        self._accepted[query] = document
        self._accepted.move_to_end(query)
        if len(self._accepted) > self._maxsize:
            self._accepted.popitem(last=False)

    def accepted(self, query: str) -> DocumentNode | None:
        """The document of ``query`` if a request with this text passed validation."""
        return self._accepted.get(query)

    def errors(self, schema: GraphQLSchema, document: DocumentNode,
               rules: tuple[Any, ...]) -> list[GraphQLError]:
        found = self._memo.get((schema, document), rules)
        if found is None:
            found = validate_document(schema, document, rules)
            self._memo.put((schema, document), rules, found)
        return found

    def __len__(self) -> int:
        return len(self._memo)


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
        errors = self._memo.errors(context.schema._schema, document,
                                   tuple(context.validation_rules))
        context.pre_execution_errors = errors
        if not errors and context.query is not None:
            self._memo.accept(context.query, document)
        yield
