"""Field arguments coerced once per query, not once per object.

graphql-core coerces a field's arguments each time the field is executed: on the
1,000-page, the ``period`` of six record lists and the ``asOf`` of ``warning`` and
``creditGrade`` are coerced 8,000 times (``get_argument_values``: about 7% of the page
under cProfile), though the query, its variables and so the values are the same for
every enterprise. ``FieldArgumentsExecutionContext`` keeps each field node's coerced
arguments for the execution (one query with its variables) when every value is
immutable (text, numbers, booleans, enum members, dates, null), and otherwise does
what graphql-core does. Its ``execute_field`` is graphql-core 3.3's, with that one
difference; errors in the arguments are not kept, so they are raised each time, as
graphql-core raises them. A node whose arguments use no variable (absent, or
literals) has the same coerced arguments in every request of the query text: those
are kept in the operation's shared plans (``schema.shared_plans``), when it shares.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    VariableNode,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from graphql.pyutils import AwaitableOrValue, Path
from graphql.pyutils.undefined import UndefinedType

from schema.shared_plans import SharedPlansExecutionContext, holds

__all__ = ["FieldArgumentsExecutionContext"]

_IMMUTABLE = (str, int, float, bool, enum.Enum, dt.date, dt.time, dt.timedelta)


class FieldArgumentsExecutionContext(SharedPlansExecutionContext):
    """strawberry's execution context with each field node's arguments coerced once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(field node) -> (the node, kept so that its id is not reused; its field;
        # the coerced arguments)
        self._arguments: dict[int, tuple[FieldNode, GraphQLField, dict[str, Any]]] = {}
        # the same for nodes without variables, shared by the query text's requests
        self._shared_arguments = None if self.plans is None else self.plans.arguments

    def _field_arguments(self, field_def: GraphQLField, field_details_list: FieldDetailsList
                         ) -> dict[str, Any]:
        first = field_details_list[0]
        node = first.node
        kept = self._arguments.get(id(node))
        if kept is None and self._shared_arguments is not None:
            kept = self._shared_arguments.get(id(node))
        if kept is not None and kept[1] is field_def:
            return kept[2]
        values = get_argument_values(field_def, node, self.variable_values,
                                     first.fragment_variable_values, self.hide_suggestions)
        if first.fragment_variable_values is None and all(
                value is None or isinstance(value, _IMMUTABLE) for value in values.values()):
            entry = (node, field_def, values)
            self._arguments[id(node)] = entry
            if self._shared_arguments is not None and not holds(node.arguments or (), VariableNode):
                self._shared_arguments[id(node)] = entry
        return values

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any] | UndefinedType:
        first_node = field_details_list[0].node
        field_def = self.schema.get_field(parent_type, first_node.name.value)
        if not field_def:
            return Undefined
        if not (field_def.args or first_node.arguments):
            return super().execute_field(parent_type, source, field_details_list, path,
                                         position_context)
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        if self.middleware_manager:
            resolve_fn = self.middleware_manager.get_field_resolver(resolve_fn)
        info = self.build_resolve_info(
            field_def, [details.node for details in field_details_list], parent_type, path)
        try:
            # the same dict for every object: resolvers get it as keyword arguments, a copy
            result = resolve_fn(source, info,
                                **self._field_arguments(field_def, field_details_list))
            return self._complete_result(return_type, field_details_list, info, path, result,
                                         position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def _complete_result(self, return_type: GraphQLOutputType,
                         field_details_list: FieldDetailsList, info: Any, path: Path,
                         result: Any, position_context: Any) -> AwaitableOrValue[Any]:
        """graphql-core's completion of a field's resolved ``result``: awaited first when
        it is awaitable, errors of a completion that is awaited handled there; raises
        what ``complete_value`` raises (the caller handles it as a field error)."""
        if self.is_awaitable(result):
            return self.complete_awaitable_value(return_type, field_details_list, info,
                                                 path, result, position_context)
        completed = self.complete_value(return_type, field_details_list, info, path,
                                        result, position_context)
        if self.is_awaitable(completed):
            return self._await_completed(completed, return_type, field_details_list, path)
        return completed

    async def _await_completed(self, completed: Awaitable[Any],
                               return_type: GraphQLOutputType,
                               field_details_list: FieldDetailsList, path: Path) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
