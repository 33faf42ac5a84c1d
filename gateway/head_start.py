"""A head start for one enterprise: its remote agencies asked before the GraphQL view runs.

One request at a time, a query about one enterprise waits for its slowest remote
(``http``) agency; everything before the first call to it is on the caller's
latency. The resolver of ``enterprise`` starts those calls itself
(``schema.page.ask_remote_early``), but only after strawberry's per-request work:
reading the request, the context, nine schema extensions, the cached parse and
validation, the query limits - 1.2 to 1.3 ms from the request's arrival to the first
call on 2026-12-02 (one request at a time, p50 of 200).

``HeadStart`` lets the gate start them as soon as the caller is known. For a query
text it keeps a plan (its own bounded memo): the operation that will run, when it is
a query whose one root field is ``enterprise(creditCode: ...)`` without directives,
valid against the caller's schema - the credit code's variable or literal and the
names selected under the field. Then ``start`` asks what the resolver would ask, with
the request's own context (its loaders keep the answers; the resolver's loads join
the calls) and for the same enterprises only: one the registry index shows the caller
may see. A hidden or unknown enterprise costs no call, as before; a query that will
be refused for its cost may have asked for one enterprise's records, never answered.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
    validate,
)

from gateway.graphql_payload import Payload
from schema.errors import normalized_credit_code
from schema.page import ask_remote_early
from schema.redaction import names_selected

__all__ = ["HeadStart", "ask_ahead"]

ask_ahead = ask_remote_early  # (context, credit code, selected names)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What ``start`` asks for a query text: the credit code (a variable's name or the
    literal) and the names selected under ``enterprise``."""

    variable: str | None
    literal: str | None
    selected: frozenset[str]


class HeadStart:
    """Plans per (schema, query text, operation name), at most ``maxsize`` of them and
    only for texts up to ``max_query_chars`` (a one-enterprise query is short; longer
    texts are not parsed twice). One per gateway; the event loop's thread only."""

    def __init__(self, maxsize: int = 256, max_query_chars: int = 4096) -> None:
        self._plans: OrderedDict[tuple[int, str, str | None], _Plan | None] = OrderedDict()
        self._schemas: dict[int, GraphQLSchema] = {}  # kept alive while their plans are
        self._maxsize = maxsize
        self._max_chars = max_query_chars

    def enterprise(self, schema: GraphQLSchema,
                   payload: Payload) -> tuple[str, frozenset[str]] | None:
        """The credit code and the names selected under ``enterprise`` when
        ``payload``'s query has a plan for ``schema`` and a valid credit code; then
        ``ask_ahead`` with the request's context."""
        query = payload.query
        if query is None or len(query) > self._max_chars:
            return None
        plan = self._plan(schema, query, payload.operation_name)
        if plan is None:
            return None
        value: object = plan.literal
        if plan.variable is not None:
            variables = payload.variables
            value = variables.get(plan.variable) if isinstance(variables, dict) else None
        code = normalized_credit_code(value) if isinstance(value, str) else None
        if code is None:
            return None  # the resolver refuses it (INVALID_CREDIT_CODE), as it would
        return code, plan.selected

    def _plan(self, schema: GraphQLSchema, query: str, name: str | None) -> _Plan | None:
        key = (id(schema), query, name)
        plans = self._plans
        if key in plans:
            plans.move_to_end(key)
            return plans[key]
        plan = _plan_of(schema, query, name)
        plans[key] = plan
        self._schemas[id(schema)] = schema
        if len(plans) > self._maxsize:
            plans.popitem(last=False)
            alive = {schema_id for schema_id, _, _ in plans}
            self._schemas = {i: s for i, s in self._schemas.items() if i in alive}
        return plan


def _plan_of(schema: GraphQLSchema, query: str, name: str | None) -> _Plan | None:
    try:
        document = parse(query, max_tokens=2000)
    except GraphQLError:
        return None
    operation = _operation(document, name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode):
        return None
    field = roots[0]
    if field.name.value != "enterprise" or field.directives or operation.directives:
        return None
    if validate(schema, document):
        return None  # the view refuses it: nothing asked
    argument = next((a for a in field.arguments or () if a.name.value == "creditCode"), None)
    if argument is None:
        return None
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    selected = names_selected((field,), fragments)
    if isinstance(argument.value, VariableNode):
        return _Plan(argument.value.name.value, None, selected)
    if isinstance(argument.value, StringValueNode):
        return _Plan(None, argument.value.value, selected)
    return None


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation the view will run (graphql-core's choice), or None."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)
