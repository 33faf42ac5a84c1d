"""Remote agencies asked before the query executes.

An enterprise query waits for its slowest agency; everything the gateway does before
that agency's call goes out adds to the answer's latency. The ``enterprise`` resolver
asks the remote (``http``) agencies first thing (``schema.page.ask_remote_early``),
but by then strawberry has read the request again and run its per-request setup -
extensions, parsing and validation (both from memos), the operation's executor -
about 0.5 ms at one request at a time. ``ask_before_execution`` makes the same asks
from the request's text and variables as soon as the caller is known: the gate calls
it (``gateway.auth_gate.GraphQLEndpoint.ask_early``) after authentication and the
answer cache, before strawberry's view runs:

- only for a query text whose document has passed validation with this schema before
  (``ValidationMemo.accepted``: parsed within the token limit, valid, within the depth
  and alias limits), so that a request the gateway will refuse asks nothing;
- only for an operation whose one root field is ``enterprise`` (any alias) without
  ``@skip``/``@include``, and a valid credit code (a literal or a variable);
- with the names the field selects, as the resolver computes them (the same memo), and
  only for an enterprise the caller may see (``ask_remote_early`` checks the index).

The answers wait in the request's loaders, where the resolver finds them; it does not
ask again (``RequestContext.asked_early``). Nothing is returned to the caller from
here: what it sees is still decided by its view when the fields resolve.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
)

from connectors.credit_code import is_valid_credit_code
from schema.context import RequestContext
from schema.page import ask_remote_early

__all__ = ["ask_before_execution"]


async def ask_before_execution(context: RequestContext, document: DocumentNode,
                               operation_name: str | None,
                               variables: Mapping[str, Any] | None) -> None:
    """Ask the remote agencies for the enterprise ``document``'s operation reads, if it
    is a one-enterprise query (see above), and let the calls go out; otherwise do
    nothing."""
    operation = _operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return
    selections = operation.selection_set.selections
    if len(selections) != 1:
        return
    field = selections[0]
    if (not isinstance(field, FieldNode) or field.name.value != "enterprise"
            or field.directives):
        return
    code = _credit_code(field, variables)
    if code is None or not is_valid_credit_code(code):
        return
    fragments = {definition.name.value: definition for definition in document.definitions
                 if isinstance(definition, FragmentDefinitionNode)}
    if ask_remote_early(context, code, context.selections.names((field,), fragments, ())):
        # the shared call (schema.coalesce) is launched on the next loop turn and its
        # task sends on the one after: two turns, and the calls are on the wire before
        # strawberry's setup runs (other requests' keys still join them meanwhile)
        await asyncio.sleep(0)
        await asyncio.sleep(0)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [definition for definition in document.definitions
                  if isinstance(definition, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def _credit_code(field: FieldNode, variables: Mapping[str, Any] | None) -> str | None:
    for argument in field.arguments or ():
        if argument.name.value != "creditCode":
            continue
        value = argument.value
        if isinstance(value, StringValueNode):
            return value.value
        if isinstance(value, VariableNode) and isinstance(variables, Mapping):
            given = variables.get(value.name.value)  # not a mapping: strawberry refuses
            return given if isinstance(given, str) else None
    return None
