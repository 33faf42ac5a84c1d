"""What graphql-core works out from a query's shape, worked out once per query text,
not once per request.

For each object it completes, graphql-core collects the fields the query asks of it
(``collect_subfields``: fragments spread, aliases grouped) and the gateway's execution
context plans which of them are plain leaves (``schema.leaf_fields``). graphql-core
keeps both for one execution only, by the identity of the field lists it made during
that execution, so every request about one enterprise collected and planned its
twenty-odd objects again: about 11% of the execution's CPU under cProfile, and the
reason a record list outside a page was left to graphql-core's slower item-by-item
completion (its plan, made per request, cost more than it saved).

``ParserCache`` hands out the same parsed document for the same query text, so a
request repeating a text meets the very same field nodes. ``SharedPlans`` keeps, per
operation of such a document, the collected fields keyed by the identity of the nodes
they were collected from, and the leaf plans made from them; the next request with
that text finds them. Only operations whose result cannot depend on the variables
share: any directive in the operation or its fragments (``@skip``/``@include``
with a variable, ``@defer``, ``@stream``) or any fragment with variables, and the
operation's requests keep graphql-core's per-execution behaviour. What is shared
depends on nothing but the schema and the document: the plans are kept per schema
(a policy change builds a new one) and per operation node; so are the coerced
arguments of field nodes that use no variable (``schema.field_arguments``), while
arguments with variables are coerced per execution.

One per schema, the event loop's thread only; at most ``maxsize`` operations, the
least recently used forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    FragmentDefinitionNode,
    GraphQLObjectType,
    GraphQLSchema,
    Node,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, FragmentDetails

from schema.acyclic_execution import AcyclicExecutionContext

__all__ = ["OperationPlans", "SharedPlans", "SharedPlansExecutionContext", "holds", "sharing"]


@dataclass(slots=True, eq=False)
class OperationPlans:
    """The plans one operation's requests share. Each dict keeps the objects its keys
    were made from (by id) beside the value, so that the ids cannot be reused."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    # (return type, ids of the field nodes) -> (the field list, its collected fields)
    subfields: dict[tuple[GraphQLObjectType, tuple[int, ...]],
                    tuple[FieldDetailsList, CollectedFields]] = field(default_factory=dict)
    # ids of the field sets and field lists of ``subfields`` (kept alive there): only
    # plans of these are shared; the root's field set and lists are new each request,
    # and plans kept for them here would grow with every request
    members: set[int] = field(default_factory=set)
    # for schema.leaf_fields: id(field set) -> (field set, plan); id(list) -> (list, plan)
    leaves: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    lists: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    # for schema.field_arguments: id(field node) -> (node, field, coerced arguments) of
    # the nodes whose arguments use no variable
    arguments: dict[int, tuple[Any, Any, Any]] = field(default_factory=dict)

    def keep(self, key: tuple[GraphQLObjectType, tuple[int, ...]],
             field_details_list: FieldDetailsList, collected: CollectedFields) -> None:
        """Keep ``collected`` (the subfields of ``field_details_list``) under ``key``."""
        self.subfields[key] = (field_details_list, collected)
        grouped = collected.grouped_field_set
        self.members.add(id(grouped))
        self.members.update(id(details) for details in grouped.values())


class SharedPlans:
    """The shared plans of the operations a schema executed (see the module)."""

    def __init__(self, maxsize: int = 512) -> None:
        # id(operation node) -> its plans, or None when it must not share
        self._operations: OrderedDict[int, tuple[OperationDefinitionNode,
                                                 OperationPlans | None]] = OrderedDict()
        self._maxsize = maxsize

    def for_operation(self, schema: GraphQLSchema, operation: OperationDefinitionNode,
                      fragments: dict[str, FragmentDetails]) -> OperationPlans | None:
        """The plans ``operation`` shares, or None when its requests must not share."""
        kept = self._operations.get(id(operation))
        if kept is not None and kept[0] is operation:
            self._operations.move_to_end(id(operation))
            plans = kept[1]
            return plans if plans is None or plans.schema is schema else None
        plans = (OperationPlans(schema, operation)
                 if _shape_is_fixed(operation, fragments) else None)
        self._operations[id(operation)] = (operation, plans)
        if len(self._operations) > self._maxsize:
            self._operations.popitem(last=False)
        return plans

    def __len__(self) -> int:
        return len(self._operations)

    def kept(self) -> list[OperationPlans]:
        """The plans kept now, least recently used first (for tests and inspection)."""
        return [plans for _, plans in self._operations.values() if plans is not None]


def _shape_is_fixed(operation: OperationDefinitionNode,
                    fragments: dict[str, FragmentDetails]) -> bool:
    """Whether the fields collected for ``operation`` cannot depend on its variables:
    no directive anywhere in it or its fragments, no fragment with variables."""
    if any(details.variable_signatures for details in fragments.values()):
        return False
    definitions: list[OperationDefinitionNode | FragmentDefinitionNode] = [
        operation, *(details.definition for details in fragments.values())]
    return not any(_has_directive(definition) for definition in definitions)


def _has_directive(node: Node) -> bool:
    return holds(node, DirectiveNode)


def holds(node: Node | Sequence[Node], kind: type[Node]) -> bool:
    """Whether ``node`` (or any of several), or a node anywhere inside it, is a
    ``kind``."""
    pending: list[Any] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, kind):
            return True
        if isinstance(current, Node):
            pending.extend(getattr(current, key) for key in current.keys
                           if key not in ("loc", "name"))
        elif isinstance(current, tuple | list):
            pending.extend(current)
    return False


class SharedPlansExecutionContext(AcyclicExecutionContext):
    """strawberry's execution context (without reference cycles) whose collected fields
    come from ``shared_plans`` when the operation shares (``plans`` is then set)."""

    shared_plans: SharedPlans | None = None  # bound per schema by ``sharing``

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        memo = self.shared_plans
        self.plans = (None if memo is None
                      else memo.for_operation(self.schema, self.operation, self.fragments))

    def collect_subfields(self, return_type: GraphQLObjectType,
                          field_details_list: FieldDetailsList) -> CollectedFields:
        plans = self.plans
        if plans is None:
            return super().collect_subfields(return_type, field_details_list)
        mine = self._relevant_sub_fields  # graphql-core's, for this execution
        key = (return_type, id(field_details_list))
        found = mine.get(key)
        if found is not None:
            return found[1]
        shared_key = (return_type, tuple(id(details.node) for details in field_details_list))
        shared = plans.subfields.get(shared_key)
        if shared is None:
            collected = super().collect_subfields(return_type, field_details_list)
            plans.keep(shared_key, field_details_list, collected)
            shared = (field_details_list, collected)
        mine[key] = (field_details_list, shared[1])
        return shared[1]


def sharing(context_class: type[SharedPlansExecutionContext], plans: SharedPlans
            ) -> type[SharedPlansExecutionContext]:
    """``context_class`` bound to ``plans`` (one class per schema: no global memo)."""
    return type(context_class.__name__, (context_class,), {"shared_plans": plans})
