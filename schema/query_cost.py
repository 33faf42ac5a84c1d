"""The cost limit (QUERY_TOO_COSTLY): an operation's estimated cost, from its variables
as graphql-core coerces them, and ``CostMemo``, the costs of repeated queries.

The cost is computed from coerced values only, never from the JSON a caller sent, so
that it is the cost of what executes: ``first: $n`` with ``{"n": 1000.0}`` executes as
the Int 1000 and costs what 1000 costs. Variables graphql-core refuses (``"1000"``,
``1000.5``, ``2147483648`` for an Int) are not costed at all: execution reports them
before any resolver runs, as it would without the limits."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from graphql.pyutils import Undefined

from schema.limit_settings import QUERY_TOO_COSTLY, QueryLimitError, QueryLimits, operation_label
from schema.selection_walk import FragmentLookup, RootSplit

__all__ = ["CostMemo", "coerce_variables", "cost_errors", "query_cost"]


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: object,
) -> dict[str, Any] | None:
    """``variables`` (as sent) the way graphql-core coerces them to execute ``operation``:
    defaults applied, ``1000.0`` the Int 1000, a single value for a list a list of one.
    None when graphql-core refuses them; executing the operation then reports why."""
    if variables is None:
        variables = {}
    if not isinstance(variables, Mapping):
        return None
    # max_errors=0: stop at the first error (execution collects them all for the caller)
    found = get_variable_values(schema, operation.variable_definitions or (), dict(variables),
                                max_errors=0)
    if isinstance(found, list):
        return None
    return found.coerced


class _Cost:
    """One costing of one operation: see ``query_cost``."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragment: FragmentLookup,
        variables: dict[str, Any],
        limits: QueryLimits,
    ) -> None:
        self.schema = schema
        self.fragment = fragment
        self.variables = variables
        self.limits = limits
        self.memo: dict[tuple[str, int | None], int] = {}
        self.on_path: set[str] = set()

    def of(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, page: int | None
    ) -> int:
        """Cost of a selection set on ``parent``; ``page``: the size of the lists
        directly inside it, set by a paging argument of the field above."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.of(selection.selection_set, inner, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._spread(selection.name.value, page)
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None) -> int:
        """Cost of one field and what is selected in it."""
        nested = node.selection_set
        if nested is None:
            return 1
        field = _field(parent, node.name.value)
        if field is None:  # not a field of this type: validation has reported it
            return 1 + self.of(nested, None, None)
        size = self._size(node, field)
        child = get_named_type(field.type)
        if not is_list_type(get_nullable_type(field.type)):
            return 1 + self.of(nested, child, size)  # a connection: size is its page
        items = size if size is not None else page
        count = self.limits.assumed_list_size if items is None else items
        return 1 + count * self.of(nested, child, None)

    def _spread(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key in self.memo:
            return self.memo[key]
        definition = self.fragment(name)
        if definition is None or name in self.on_path:
            return 0
        self.on_path.add(name)
        parent = self.schema.get_type(definition.type_condition.name.value)
        cost = self.memo[key] = self.of(definition.selection_set, parent, page)
        self.on_path.discard(name)
        return cost

    def _size(self, node: FieldNode, field: GraphQLField) -> int | None:
        """How many items a field returns, from its paging or batch argument; None when
        it has neither."""
        limits = self.limits
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        for name in limits.batch_arguments:
            if name in given and name in field.args:
                return _length(self._argument(given[name], field.args[name]))
        for name in limits.page_arguments:
            if name in given and name in field.args:
                return self._page(self._argument(given[name], field.args[name]))
        for name in limits.page_arguments:
            if name in field.args:  # not given: the schema's default, if any
                return self._page(field.args[name].default_value)
        return None

    def _argument(self, value: ValueNode, argument: GraphQLArgument) -> Any:
        """An argument's value as execution coerces it (graphql-core's
        ``get_argument_values``): a variable without a value leaves the argument to its
        default; ``Undefined`` for a value validation refuses."""
        if isinstance(value, VariableNode) and value.name.value not in self.variables:
            return argument.default_value
        return value_from_ast(value, argument.type, self.variables)

    def _page(self, value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool):  # null or no default
            return self.limits.default_list_size
        return max(0, min(value, self.limits.max_list_size))


def _length(value: object) -> int:
    """Length of a coerced list argument's value."""
    if value is None or value is Undefined:
        return 0
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1  # an argument that is not a list: one item


def _field(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if name == "__schema":
        return SchemaMetaFieldDef
    if name == "__type":
        return TypeMetaFieldDef
    if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: FragmentLookup,
    variables: Mapping[str, Any] | None,
    limits: QueryLimits,
) -> tuple[int, int]:
    """Estimated cost of executing ``operation`` with ``variables``, coerced (as
    ``coerce_variables`` gives them, never as sent): (data, introspection), the second
    for the selections under ``__schema`` / ``__type``.

    Each selected field costs 1. The fields selected inside a list field count once per
    item: the list's size is its paging argument (``first``: a literal, a variable, the
    variable's default or the schema's default, capped at ``max_list_size``), the length
    of its batch argument (``creditCodes``), the paging argument of the connection it
    is in (``edges`` of ``enterprises(first: 100)``), or ``assumed_list_size``.
    Fragments and inline fragments are expanded, each fragment costed once per page
    size; ``@skip`` / ``@include`` are ignored (the fields count as selected)."""
    cost = _Cost(schema, fragments, dict(variables or {}), limits)
    root = schema.get_root_type(operation.operation)
    split = RootSplit(fragments, lambda field: cost.field(field, root, None), operator.add)
    return split.of(operation.selection_set)


def cost_errors(
    operation: OperationDefinitionNode, costs: tuple[int, int], limits: QueryLimits,
) -> list[GraphQLError]:
    """QUERY_TOO_COSTLY for each of (data, introspection) over its limit."""
    data, introspection = costs
    errors: list[GraphQLError] = []
    if data > limits.max_cost:
        errors.append(QueryLimitError(
            QUERY_TOO_COSTLY,
            f"{operation_label(operation)} would cost about {data:,}; the limit is "
            f"{limits.max_cost:,}. Each field counts 1, times the size of every list "
            f"it is in ('first', the number of creditCodes, {limits.assumed_list_size} "
            "for other lists). Ask for fewer fields or a smaller page (or fewer "
            "creditCodes per restrictionChecks call), or split the query into several "
            "requests.",
            [operation],
        ))
    if introspection > limits.max_introspection_cost:
        errors.append(QueryLimitError(
            QUERY_TOO_COSTLY,
            f"{operation_label(operation)} asks for introspection that would cost about "
            f"{introspection:,}; the limit is {limits.max_introspection_cost:,}. Send "
            "the standard introspection query (GraphiQL / get_introspection_query), "
            "once per request.",
            [operation],
        ))
    return errors


def _size_signature(value: object) -> object:
    """What of a coerced variable's value the cost can depend on: an int itself, a
    list's length; other values all cost the same (``_page`` / ``_length``)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)):
        return ("len", len(value))
    return ("other",)


class CostMemo:
    """Costs already computed, per schema, operation node and the sizes of the coerced
    variables (so ``{"n": 1000}`` and ``{"n": 1000.0}`` share an entry).

    ``ParserCache`` hands out the same document object for the same query text, so a
    repeated query is costed once per distinct page size instead of on every request
    (about 100 µs of a 1 ms single-enterprise request, measured with cProfile). Bounded
    (least recently used out); the operation is kept with its entry so that its ``id``
    cannot be reused by another document while the entry lives.
    """

    def __init__(self, maxsize: int = 512) -> None:
        self._entries: OrderedDict[tuple[int, int, tuple[tuple[str, object], ...]],
                                   tuple[OperationDefinitionNode, tuple[int, int]]] = OrderedDict()
        self._maxsize = maxsize

    def cost(
        self, schema: GraphQLSchema, operation: OperationDefinitionNode,
        fragments: FragmentLookup, variables: Mapping[str, Any] | None, limits: QueryLimits,
    ) -> tuple[int, int]:
        """``query_cost``, with ``variables`` coerced (``coerce_variables``)."""
        sizes = tuple(sorted((name, _size_signature(value))
                             for name, value in (variables or {}).items()))
        key = (id(schema), id(operation), sizes)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is operation:
            self._entries.move_to_end(key)
            return entry[1]
        found = query_cost(schema, operation, fragments, variables, limits)
        self._entries[key] = (operation, found)
        if len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)
        return found
