"""What one request may ask for (``QueryLimits``) and the error a request over a limit
gets (``QueryLimitError``, with one code per limit). See ``schema.limits`` for where
each limit is checked."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

from graphql import GraphQLError, Node, OperationDefinitionNode

from schema.search import MAX_PAGE

__all__ = [
    "QUERY_TOO_COSTLY",
    "QUERY_TOO_DEEP",
    "QUERY_TOO_LARGE",
    "TOO_MANY_ALIASES",
    "QueryLimitError",
    "QueryLimits",
    "operation_label",
]

QUERY_TOO_LARGE: Final = "QUERY_TOO_LARGE"
QUERY_TOO_DEEP: Final = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES: Final = "TOO_MANY_ALIASES"
QUERY_TOO_COSTLY: Final = "QUERY_TOO_COSTLY"


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


def operation_label(node: OperationDefinitionNode) -> str:
    """How a limit's message names the operation: ``The query Page``."""
    name = f" {node.name.value}" if node.name else ""
    return f"The {node.operation.value}{name}"
