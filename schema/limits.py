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
  in ``QueryLimitsExtension.on_execute`` before any resolver runs, in one pass over the
  selected operation (each fragment is costed once), and an over-limit query gets a
  result with the error instead of being executed.

The checks do not depend on where the extension sits in the schema's list. Integration::

    extensions=[..., *limit_extensions(QueryLimits())]
"""

from __future__ import annotations

import functools
import operator
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Final

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    Node,
    NullValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValidationRule,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_list_type,
    value_from_ast_untyped,
)
from graphql.language.visitor import SKIP, VisitorAction
from graphql.pyutils import Undefined
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension

from schema.search import MAX_PAGE

__all__ = [
    "QUERY_TOO_COSTLY",
    "QUERY_TOO_DEEP",
    "QUERY_TOO_LARGE",
    "TOO_MANY_ALIASES",
    "AliasLimitRule",
    "CostMemo",
    "DepthLimitRule",
    "QueryLimitError",
    "QueryLimits",
    "QueryLimitsExtension",
    "alias_count",
    "limit_extensions",
    "limit_rules",
    "query_cost",
    "query_depths",
]

QUERY_TOO_LARGE: Final = "QUERY_TOO_LARGE"
QUERY_TOO_DEEP: Final = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES: Final = "TOO_MANY_ALIASES"
QUERY_TOO_COSTLY: Final = "QUERY_TOO_COSTLY"

#: Root fields whose selections are held to ``max_introspection_depth``.
INTROSPECTION_ROOTS: Final = frozenset({"__schema", "__type"})

#: graphql-core's parser and lexer message when ``max_tokens`` is exceeded.
_TOKEN_LIMIT_MESSAGE = re.compile(r"Document contains more than (\d+) tokens\.")


@dataclass(frozen=True)
class QueryLimits:
    """What one request may ask for. Frozen and hashable: the validation rules are built
    once per distinct ``QueryLimits`` (see ``limit_rules``)."""

    max_depth: int = 12
    """Deepest nesting of fields in an operation. A top-level field is depth 1, each
    selection inside a field adds one; fragments count where they are spread, inline
    fragments add nothing. ``{ enterprise { penalties { agency { code } } } }`` is 4."""

    max_introspection_depth: int = 15
    """The same, for selections under ``__schema`` and ``__type``: introspection is
    deeper than data (``ofType`` chains). The standard introspection query is 15 deep
    (graphql-core 3.3 ``get_introspection_query()``, 9 levels of ``ofType``) or 13
    (graphql-js 16 / GraphiQL, 7 levels). graphql-core's own MaxIntrospectionDepthRule
    additionally refuses cycles such as ``fields { type { fields { type { fields``."""

    max_aliases: int = 30
    """Most aliased fields in an operation, fragments expanded: a fragment with 3
    aliases spread twice counts 6. Aliases let one request repeat a costly field."""

    max_tokens: int = 5000
    """Most lexical tokens (names, punctuation, values, comments) in the query text,
    enforced while parsing. Values passed as variables do not count, which is how long
    lists (``creditCodes``) should be sent."""

    max_cost: int = 1_000_000
    """Highest estimated cost of the executed operation. Each selected field costs 1;
    the fields selected under a list count once per item of the list (see the sizes
    below). ``__typename`` costs 1 like any field. The largest everyday query, a page of
    1,000 enterprises with every record list, its warning and grade, costs about
    610,000 (each record list counted as ``assumed_list_size`` items) and executes in
    well under a second; a million bounds one request to about that much work."""

    max_introspection_cost: int = 75_000
    """Highest estimated cost of the introspection part (``__schema`` / ``__type``),
    costed like data but on its own budget: the standard introspection query is
    40,000-52,000 in this model (whatever its options), so it passes once per request
    and not twice."""

    default_list_size: int = 20
    """Size of a page when a paging argument (``first``) is neither given nor defaulted
    in the schema (the schema's default, e.g. ``enterprises(first = 20)``, wins)."""

    max_list_size: int = MAX_PAGE
    """Largest page a paging argument can ask for (``schema.search.MAX_PAGE``). A larger
    ``first`` is counted as this size: its resolver refuses it with BAD_USER_INPUT, so
    the query does not cost more. Lists sized by a batch argument are not capped."""

    assumed_list_size: int = 10
    """Size assumed for list fields without a size argument (record lists such as
    ``penalties``, ``evidence``, ``agencies``, and introspection lists)."""

    page_arguments: tuple[str, ...] = ("first",)
    """Arguments whose integer value is the size of the page a field returns. On a list
    field they size the list itself; on a connection they size the lists directly
    inside it (``enterprises(first: 100) { edges { ... } }``: 100 edges)."""

    batch_arguments: tuple[str, ...] = ("creditCodes",)
    """List arguments whose length is the length of the list a field returns
    (``restrictionChecks(creditCodes: [...])``). Not capped: the resolver takes up to
    ``schema.restrictions.MAX_BATCH`` (10,000) codes, so with ``max_cost`` 1,000,000 a
    full batch may select up to about 99 fields per decision."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, int) and value < 1:
                raise ValueError(f"QueryLimits.{field.name} must be at least 1, got {value}")


class QueryLimitError(GraphQLError):
    """A query over one of the limits; ``extensions.code`` says which."""

    def __init__(self, code: str, message: str, nodes: list[Node] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, nodes, extensions={"code": code}, **kwargs)
        self.code = code


# --- Walking selections ---------------------------------------------------------------
#
# One recursive function per walk, one frame per selection set: graphql-core 3.3's
# validation aborts documents whose selections (fragments included) nest more than
# 200 levels before any rule runs, so the recursion stays far below Python's limit.
# Each fragment is walked once and its result memoised, so fragments spread many times
# (the "billion laughs" shape) cost linear time. A spread that closes a cycle counts
# nothing: NoFragmentCyclesRule reports it.

FragmentLookup = Callable[[str], FragmentDefinitionNode | None]


def _fragments_of(document_definitions: Any) -> FragmentLookup:
    fragments = {
        definition.name.value: definition
        for definition in document_definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    return fragments.get


class _RootSplit:
    """Measures the top-level fields of an operation, data and introspection apart:
    ``measure`` gives one field's value, ``combine`` adds values up (max or sum)."""

    def __init__(
        self,
        fragment: FragmentLookup,
        measure: Callable[[FieldNode], int],
        combine: Callable[[int, int], int],
    ) -> None:
        self.fragment = fragment
        self.measure = measure
        self.combine = combine
        self.memo: dict[str, tuple[int, int]] = {}
        self.on_path: set[str] = set()

    def of(self, selection_set: SelectionSetNode) -> tuple[int, int]:
        """(data, introspection) of the top-level fields selected here."""
        combine = self.combine
        data = introspection = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                value = self.measure(selection)
                if selection.name.value in INTROSPECTION_ROOTS:
                    introspection = combine(introspection, value)
                else:
                    data = combine(data, value)
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self._spread(selection.name.value)
            else:  # pragma: no cover - no other kind of selection
                continue
            data, introspection = combine(data, inner[0]), combine(introspection, inner[1])
        return data, introspection

    def _spread(self, name: str) -> tuple[int, int]:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragment(name)
        if definition is None or name in self.on_path:
            return 0, 0
        self.on_path.add(name)
        found = self.memo[name] = self.of(definition.selection_set)
        self.on_path.discard(name)
        return found


class _Depth:
    """Depth of selection sets in fields (a set of leaves is depth 1)."""

    def __init__(self, fragment: FragmentLookup) -> None:
        self.fragment = fragment
        self.memo: dict[str, int] = {}
        self.on_path: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                depth = 1 + self.of(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                depth = self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                depth = self._spread(selection.name.value)
            else:  # pragma: no cover - no other kind of selection
                continue
            deepest = max(deepest, depth)
        return deepest

    def _spread(self, name: str) -> int:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragment(name)
        if definition is None or name in self.on_path:
            return 0
        self.on_path.add(name)
        depth = self.memo[name] = self.of(definition.selection_set)
        self.on_path.discard(name)
        return depth


def query_depths(
    operation: OperationDefinitionNode, fragment: FragmentLookup
) -> tuple[int, int]:
    """(data depth, introspection depth) of an operation, fragments expanded."""
    depth = _Depth(fragment)
    split = _RootSplit(fragment, lambda field: 1 + depth.of(field.selection_set), max)
    return split.of(operation.selection_set)


class _Aliases:
    def __init__(self, fragment: FragmentLookup) -> None:
        self.fragment = fragment
        self.memo: dict[str, int] = {}
        self.on_path: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += (selection.alias is not None) + self.of(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._spread(selection.name.value)
        return count

    def _spread(self, name: str) -> int:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragment(name)
        if definition is None or name in self.on_path:
            return 0
        self.on_path.add(name)
        count = self.memo[name] = self.of(definition.selection_set)
        self.on_path.discard(name)
        return count


def alias_count(operation: OperationDefinitionNode, fragment: FragmentLookup) -> int:
    """Aliased fields of an operation, each fragment counted once per spread."""
    return _Aliases(fragment).of(operation.selection_set)


# --- Validation rules -----------------------------------------------------------------


class DepthLimitRule(ValidationRule):
    """QUERY_TOO_DEEP when an operation nests fields deeper than ``limits.max_depth``
    (``limits.max_introspection_depth`` under ``__schema`` / ``__type``)."""

    limits: ClassVar[QueryLimits] = QueryLimits()

    def enter_operation_definition(
        self, node: OperationDefinitionNode, *_args: object
    ) -> VisitorAction:
        limits = self.limits
        data, introspection = query_depths(node, self.context.get_fragment)
        if data > limits.max_depth:
            self.report_error(QueryLimitError(
                QUERY_TOO_DEEP,
                f"{_operation(node)} nests fields {data} deep; the limit is "
                f"{limits.max_depth}. Ask for less nested data: split the query into "
                "several shallower ones (e.g. fetch a related enterprise or person by "
                "its id in a second query).",
                [node],
            ))
        if introspection > limits.max_introspection_depth:
            self.report_error(QueryLimitError(
                QUERY_TOO_DEEP,
                f"{_operation(node)} nests introspection fields {introspection} deep; "
                f"the limit is {limits.max_introspection_depth}. Use the standard "
                "introspection query (graphql get_introspection_query / GraphiQL).",
                [node],
            ))
        return SKIP


class AliasLimitRule(ValidationRule):
    """TOO_MANY_ALIASES when an operation has more than ``limits.max_aliases`` aliased
    fields, fragments expanded."""

    limits: ClassVar[QueryLimits] = QueryLimits()

    def enter_operation_definition(
        self, node: OperationDefinitionNode, *_args: object
    ) -> VisitorAction:
        limits = self.limits
        count = alias_count(node, self.context.get_fragment)
        if count > limits.max_aliases:
            self.report_error(QueryLimitError(
                TOO_MANY_ALIASES,
                f"{_operation(node)} has {count} aliased fields (fragments counted each "
                f"time they are spread); the limit is {limits.max_aliases}. Use fewer "
                "aliases: ask for many enterprises with one list field "
                "(enterprises, restrictionChecks) instead of aliasing a field once per "
                "enterprise, or send several requests.",
                [node],
            ))
        return SKIP


def _operation(node: OperationDefinitionNode) -> str:
    name = f" {node.name.value}" if node.name else ""
    return f"The {node.operation.value}{name}"


@functools.cache
def _rules(limits: QueryLimits) -> tuple[type[ASTValidationRule], ...]:
    def bound(rule: type[ValidationRule]) -> type[ASTValidationRule]:
        made: type[ASTValidationRule] = type(
            rule.__name__, (rule,), {"limits": limits, "__module__": __name__})
        return made

    return bound(DepthLimitRule), bound(AliasLimitRule)


def limit_rules(limits: QueryLimits) -> list[type[ASTValidationRule]]:
    """The depth and alias rules for ``limits``, as graphql-core validation rules.

    Memoised: equal ``QueryLimits`` give the same class objects on every call, so the
    validation cache's key (which holds the rule classes) is stable across requests."""
    return list(_rules(limits))


# --- Cost -------------------------------------------------------------------------------


class _Cost:
    """One costing of one operation: see ``query_cost``."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragment: FragmentLookup,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        limits: QueryLimits,
    ) -> None:
        self.schema = schema
        self.fragment = fragment
        self.variables = variables
        self.defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
        }
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
            if name in given:
                return _length(self._value(given[name]))
        for name in limits.page_arguments:
            if name in given:
                return self._page(self._value(given[name]))
        for name in limits.page_arguments:
            if name in field.args:  # not given: the schema's default, if any
                return self._page(field.args[name].default_value)
        return None

    def _page(self, value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            return self.limits.default_list_size
        return max(0, min(value, self.limits.max_list_size))

    def _value(self, node: ValueNode) -> object:
        if isinstance(node, VariableNode):
            name = node.name.value
            if name in self.variables:
                return self.variables[name]
            default = self.defaults.get(name)
            return None if default is None else value_from_ast_untyped(default)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, (ListValueNode, NullValueNode)):
            return node  # sized by _length without building the values
        return value_from_ast_untyped(node, self.variables)


def _length(value: object) -> int:
    """Length of a list argument's value, as GraphQL will coerce it."""
    if isinstance(value, ListValueNode):
        return len(value.values)
    if value is None or isinstance(value, NullValueNode) or value is Undefined:
        return 0
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1  # a single value is coerced to a list of one


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
    """Estimated cost of executing ``operation`` with ``variables`` (raw, as sent):
    (data, introspection), the second for the selections under ``__schema`` / ``__type``.

    Each selected field costs 1. The fields selected inside a list field count once per
    item: the list's size is its paging argument (``first``: a literal, a variable, the
    variable's default or the schema's default, capped at ``max_list_size``), the length
    of its batch argument (``creditCodes``), the paging argument of the connection it
    is in (``edges`` of ``enterprises(first: 100)``), or ``assumed_list_size``.
    Fragments and inline fragments are expanded, each fragment costed once per page
    size; ``@skip`` / ``@include`` are ignored (the fields count as selected)."""
    cost = _Cost(schema, fragments, operation, dict(variables or {}), limits)
    root = schema.get_root_type(operation.operation)
    split = _RootSplit(fragments, lambda field: cost.field(field, root, None), operator.add)
    return split.of(operation.selection_set)


def _size_signature(value: object) -> object:
    """What of a variable's value the cost can depend on: an int itself, a list's
    length; other values all cost the same (``_page`` / ``_length``)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)):
        return ("len", len(value))
    return ("other",)


class CostMemo:
    """Costs already computed, per schema, operation node and variable sizes.

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


# --- The extension ----------------------------------------------------------------------


class QueryLimitsExtension(SchemaExtension):
    """All four limits in one extension. ``on_operation``: sets the parser's token limit
    and adds the depth and alias rules (like ``AddValidationRules``, with the classes
    from ``limit_rules``, built once); ``on_execute``: the cost limit, before any
    resolver. Pass it as a factory, ``lambda: QueryLimitsExtension(limits)``
    (``limit_extensions`` does)."""

    def __init__(self, limits: QueryLimits, costs: CostMemo | None = None) -> None:
        super().__init__()
        self.limits = limits
        self.rules = _rules(limits)
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
                                           _fragments_of(document.definitions),
                                           context.variables)
                if errors:  # a result set here replaces execution: no resolver runs
                    context.result = ExecutionResult(None, errors)
        yield

    def _cost_errors(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: FragmentLookup,
        variables: Mapping[str, Any] | None,
    ) -> list[GraphQLError]:
        limits = self.limits
        data, introspection = self.costs.cost(schema, operation, fragments, variables, limits)
        errors: list[GraphQLError] = []
        if data > limits.max_cost:
            errors.append(QueryLimitError(
                QUERY_TOO_COSTLY,
                f"{_operation(operation)} would cost about {data:,}; the limit is "
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
                f"{_operation(operation)} asks for introspection that would cost about "
                f"{introspection:,}; the limit is {limits.max_introspection_cost:,}. Send "
                "the standard introspection query (GraphiQL / get_introspection_query), "
                "once per request.",
                [operation],
            ))
        return errors


def limit_extensions(
    limits: QueryLimits | None = None,
) -> list[Callable[[], SchemaExtension]]:
    """What ``build_schema`` adds to its extensions for ``limits`` (default limits when
    None): ``extensions=[..., *limit_extensions(QueryLimits())]``; any position works.

    One extension, not ``AddValidationRules`` + a second one: each strawberry extension
    costs about 10 µs per request in hook bookkeeping, and the rules are the same
    memoised classes either way."""
    limits = limits or QueryLimits()
    _rules(limits)  # build the rule classes now, not on the first request
    costs = CostMemo()  # one per schema, shared by its requests
    return [lambda: QueryLimitsExtension(limits, costs)]
