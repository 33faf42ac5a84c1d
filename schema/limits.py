"""Query limits: size, depth, aliases and cost of what a caller may ask in one request.

Each violation is a GraphQL error with an ``extensions.code`` and a message that gives
the limit, the value found and what to do instead:

    QUERY_TOO_LARGE   more than ``max_tokens`` tokens              (while parsing)
    QUERY_TOO_DEEP    fields nested deeper than ``max_depth``      (validation rule)
    TOO_MANY_ALIASES  more than ``max_aliases`` aliased fields     (validation rule)
    QUERY_TOO_COSTLY  estimated cost over ``max_cost``             (before execution)

Where each check runs, and why there, so that ``ParserCache`` and ``ValidationCache``
keep working (strawberry's own ``QueryDepthLimiter`` / ``MaxAliasesLimiter`` make a new
rule class per request, which never hits the validation cache, strawberry issue #4635):

- Tokens: ``QueryLimitsExtension.on_operation`` sets ``parse_options["max_tokens"]``
  before parsing, so graphql-core's lexer stops at the first token over the limit and no
  large document is ever built. ``ParserCache`` passes the parse options to its LRU cache
  (key: query text + ``max_tokens``), which is the same for every request, so repeated
  queries still hit it. The parser's syntax error is turned into ``QUERY_TOO_LARGE`` in
  the same hook (with or without ``ParserCache``). graphql-core 3.3 counts comments in
  ``max_tokens`` too, so a comment-padded document cannot get around the limit.
- Depth and aliases: ``ValidationRule`` classes built once per ``QueryLimits``
  (``limit_rules`` is memoised) and added to ``execution_context.validation_rules`` in
  ``on_operation``, as ``AddValidationRules`` does. The rule classes are the same
  objects on every request, so ``ValidationCache`` (keyed by schema, document and
  rules) answers repeated queries without validating again, rejections included.
- Cost: depends on variables (``first: $n``, ``creditCodes: $codes``), which validation
  rules never see and which are not part of the validation cache's key. It is computed
  in ``QueryLimitsExtension.on_execute`` before any resolver runs, from the variables
  as graphql-core coerces them (``1000.0`` is the Int 1000; variables it refuses are
  not costed but reported by execution as usual), in one pass over the selected
  operation (each fragment is costed once), and an over-limit query gets a result with
  the error instead of being executed.

The checks do not depend on where the extension sits in the schema's list. Integration::

    extensions=[..., *limit_extensions(QueryLimits())]

The parts: ``schema.limit_settings`` (``QueryLimits``, ``QueryLimitError`` and the
codes), ``schema.limit_rules`` (depth and aliases), ``schema.query_cost`` (cost and
``CostMemo``), ``schema.selection_walk`` (what they share); this module holds the
extension and re-exports their public names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from schema.limit_rules import (
    AliasLimitRule,
    DepthLimitRule,
    alias_count,
    limit_rules,
    query_depths,
    rule_classes,
)
from schema.limit_settings import (
    QUERY_TOO_COSTLY,
    QUERY_TOO_DEEP,
    QUERY_TOO_LARGE,
    TOO_MANY_ALIASES,
    QueryLimitError,
    QueryLimits,
)
from schema.query_cost import CostMemo, coerce_variables, cost_errors, query_cost
from schema.selection_walk import INTROSPECTION_ROOTS, FragmentLookup, fragments_of

__all__ = [
    "INTROSPECTION_ROOTS",
    "QUERY_TOO_COSTLY",
    "QUERY_TOO_DEEP",
    "QUERY_TOO_LARGE",
    "TOO_MANY_ALIASES",
    "AliasLimitRule",
    "CostMemo",
    "DepthLimitRule",
    "FragmentLookup",
    "QueryLimitError",
    "QueryLimits",
    "QueryLimitsExtension",
    "alias_count",
    "coerce_variables",
    "limit_extensions",
    "limit_rules",
    "query_cost",
    "query_depths",
]

#: graphql-core's parser and lexer message when ``max_tokens`` is exceeded.
_TOKEN_LIMIT_MESSAGE = re.compile(r"Document contains more than (\d+) tokens\.")


class QueryLimitsExtension(SchemaExtension):
    """All four limits in one extension. ``on_operation``: sets the parser's token limit
    and adds the depth and alias rules (like ``AddValidationRules``, with the classes
    from ``limit_rules``, built once); ``on_execute``: the cost limit, before any
    resolver. Pass it as a factory, ``lambda: QueryLimitsExtension(limits)``
    (``limit_extensions`` does)."""

    def __init__(self, limits: QueryLimits, costs: CostMemo | None = None) -> None:
        super().__init__()
        self.limits = limits
        self.rules = rule_classes(limits)
        self.costs = costs if costs is not None else CostMemo()

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.rules
        options = context.parse_options
        options["max_tokens"] = min(options.get("max_tokens", self.limits.max_tokens),
                                    self.limits.max_tokens)
        try:
            yield
        except GraphQLError as error:
            # ParserCache parses inside its on_parse hook: the error comes through here
            too_large = self._too_large(error, context.query)
            if too_large is None:
                raise
            raise too_large from None
        # Without ParserCache, strawberry parses itself and returns the error as a result
        result = context.result
        if result is not None and result.errors and result.data is None:
            errors = [self._too_large(e, context.query) or e for e in result.errors]
            if any(a is not b for a, b in zip(errors, result.errors, strict=True)):
                result.errors = context.pre_execution_errors = errors

    def _too_large(self, error: GraphQLError, query: str | None) -> QueryLimitError | None:
        if not isinstance(error, GraphQLSyntaxError):
            return None
        match = _TOKEN_LIMIT_MESSAGE.search(error.message)
        if match is None:
            return None
        size = f" ({len(query):,} characters)" if query else ""
        return QueryLimitError(
            QUERY_TOO_LARGE,
            f"The query has more than {match.group(1)} tokens{size}; the limit is "
            f"{match.group(1)}. Send a shorter query: ask for fewer fields, pass long "
            "lists (creditCodes) as variables, which do not count, and leave out "
            "comments.",
            source=error.source,
            positions=error.positions,
        )

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.result is None and document is not None:
            operation = get_operation_ast(document, context.operation_name)
            if operation is not None:  # else graphql-core reports the missing operation
                errors = self._cost_errors(context.schema._schema, operation,
                                           fragments_of(document.definitions),
                                           context.variables)
                if errors:  # a result set here replaces execution: no resolver runs
                    context.result = ExecutionResult(None, errors)
        yield

    def _cost_errors(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: FragmentLookup,
        variables: object,
    ) -> list[GraphQLError]:
        coerced = coerce_variables(schema, operation, variables)
        if coerced is None:  # execution reports the variables, as without the limits
            return []
        costs = self.costs.cost(schema, operation, fragments, coerced, self.limits)
        return cost_errors(operation, costs, self.limits)


def limit_extensions(
    limits: QueryLimits | None = None,
) -> list[Callable[[], SchemaExtension]]:
    """What ``build_schema`` adds to its extensions for ``limits`` (default limits when
    None): ``extensions=[..., *limit_extensions(QueryLimits())]``; any position works.

    One extension, not ``AddValidationRules`` + a second one: each strawberry extension
    costs about 10 µs per request in hook bookkeeping, and the rules are the same
    memoised classes either way."""
    limits = limits or QueryLimits()
    rule_classes(limits)  # build the rule classes now, not on the first request
    costs = CostMemo()  # one per schema, shared by its requests
    return [lambda: QueryLimitsExtension(limits, costs)]
