"""Plain leaf fields completed in one step: the execution context of the gateway's schema.

A page of 1,000 enterprises with every list resolves about 75,000 fields, 42,000 of them
plain attributes of a record (``recordId``, ``decisionNo``, ``openness`` ...). For each,
graphql-core builds a resolve info and a path, looks up the field, checks the result
for awaitables twice and walks ``complete_value`` down to ``coerce_output_value``:
about 60% of the page's time goes to that machinery, not to the values.

``LeafFieldsExecutionContext`` completes such fields of an object directly: the
attribute, then the leaf type's own ``coerce_output_value``, the same calls
graphql-core makes. A field qualifies when its resolver is a ``PlainAttribute``
(``schema.direct_fields``: a pure attribute read), it has no arguments and its type is
a scalar or an enum, nullable or not; every other field of the object goes the usual
way. When a value is null for a non-null type, or cannot be coerced, the whole object
is completed the usual way instead, so errors, their paths and messages are
graphql-core's own. With field middleware (a schema extension with a ``resolve`` hook)
nothing is done here.

Lists of such objects (the record lists: ``licences { recordId agency { code } ...}``)
are completed in one step too: when every field an item asks for is a plain leaf (or
an object of plain leaves) and the list field carries no directive, each item is read
as above after the item type's own ``is_type_of`` check; a null item is kept where the
type allows it. Any item that does not fit (null for a non-null item, another type,
an error in a value) sends the whole list back to graphql-core's completion. A list
inside such an object (``reasons { rule agencies { code } }``: scalars, enums, or
objects of plain leaves whose type makes no check) is completed with it, item by item
as above. On the
1,000-page with every list, warning and grade (10,000 records), CPU per page in one
process, interleaved: 159-163 -> 140-150 ms.

Fields answered by a ``DirectResolver`` (``schema.direct_fields``: an enterprise's
record lists, warning and grade) are executed without graphql-core's per-field
dispatch when their objects are items of a list (a page's enterprises) or the plan is
shared by the operation's requests: the field's definition, nodes and completion come
from the plan, the resolver is called once, and a plain result (a list of objects of
plain leaves, such an object, null where allowed) is completed as above; an awaitable,
an error or anything else goes to graphql-core's completion with that same result. On
the 1,000-page (8,000 such fields), in-process CPU per page about 8% less.

``tests/schema/test_leaf_fields.py`` checks that answers and errors are identical with
and without.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, gather_with_cancel

from schema.direct_fields import DirectResolver, PlainAttribute
from schema.field_arguments import FieldArgumentsExecutionContext

__all__ = ["LeafFieldsExecutionContext"]

# response name, the attribute read, the leaf type's coercion (or, for a list of leaves,
# the list's whole completion; None for an object of plain leaves), whether non-null,
# and that object's own leaves
_Leaf = tuple[str, Callable[[Any], Any], Callable[[Any], Any] | None, bool, list[Any] | None]
# a field of the rest answered by a DirectResolver: its definition, its details and
# nodes, and a completion of a plain result (``_NOT`` when the result is not plain)
_Direct = tuple[GraphQLField, FieldDetailsList, list[FieldNode],
                Callable[[Any, Any], Any] | None, Callable[..., Any]]
# the plain leaves of a field set, the rest of it (None when nothing is left), the
# response names in the order asked, and the fields of the rest executed directly
_Plan = tuple[list[_Leaf], GroupedFieldSet | None, list[str], dict[str, _Direct]]
# a list's items: their leaves, whether an item may be null, the item type's check
_ListPlan = tuple[list[_Leaf], bool, Callable[[Any, Any], Any] | None]


class LeafFieldsExecutionContext(FieldArgumentsExecutionContext):
    """strawberry's execution context with plain leaf fields completed directly (and
    field arguments coerced once per query: ``schema.field_arguments``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        self._direct = manager is None or not manager.middlewares
        # id(field set) -> (the field set, kept so that its id is not reused; its plan)
        # and id(field details list) -> (that list, kept alive; its items' plan, or None
        # when its items go the usual way): this execution's, for what the operation's
        # requests do not share (schema.shared_plans: ``_kept_plans``)
        self._plans: dict[int, tuple[GroupedFieldSet, _Plan | None]] = {}
        # the class of this execution's resolve infos and what follows their path
        # (``_resolve_info``); copied only when they are graphql-core's named tuple
        self._info_shape: tuple[type[Any], tuple[Any, ...]] | None = None
        self._info_copied = True
        self._lists: dict[int, tuple[FieldDetailsList, _ListPlan | None]] = {}

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """A list of objects of plain leaves (a record list) completed in one step."""
        if (self._direct and type(result) is list and not isinstance(path.key, int)
                and (self._shared(field_details_list) or _inside_a_list(path))):
            plan = self._list_plan(return_type, field_details_list)
            if plan is not None:
                items = _items(result, info, *plan)
                if items is not None:
                    return items
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def _shared(self, made_from: object) -> bool:
        """Whether ``made_from`` (a field set or field list) is one of the operation's
        shared ones (schema.shared_plans): its plans are then made once per query text."""
        shared = self.plans
        return shared is not None and id(made_from) in shared.members

    def _kept_plans(self, made_from: object) -> tuple[
            dict[int, tuple[GroupedFieldSet, _Plan | None]],
            dict[int, tuple[FieldDetailsList, _ListPlan | None]]]:
        """Where the plans of ``made_from`` are kept: with the operation's shared plans
        when it is shared, else this execution's (the root's are new each request)."""
        shared = self.plans
        if shared is not None and self._shared(made_from):
            return shared.leaves, shared.lists
        return self._plans, self._lists

    def _list_plan(self, return_type: GraphQLList[Any], field_details_list: FieldDetailsList
                   ) -> _ListPlan | None:
        lists = self._kept_plans(field_details_list)[1]
        kept = lists.get(id(field_details_list))
        if kept is not None:
            return kept[1]
        plan: _ListPlan | None = None
        item_type: Any = return_type.of_type
        non_null = isinstance(item_type, GraphQLNonNull)
        named = item_type.of_type if non_null else item_type
        # directives (@stream, @defer, @skip inside...) leave the list to graphql-core
        if not any(details.node.directives for details in field_details_list):
            leaves = self._object_of_leaves(named, field_details_list, type_check=True)
            if leaves is not None:
                plan = (leaves, not non_null, named.is_type_of)
        lists[id(field_details_list)] = (field_details_list, plan)
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self._plan(parent_type, grouped_field_set, path) if self._direct else None
        if plan is None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                          position_context)
        leaves, rest, order, directs = plan
        values = _values(source_value, leaves)
        if values is None:  # an error: graphql-core's own, with its message and path
            return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                          position_context)
        if rest is None:
            return values
        if directs:
            others = self._execute_rest(parent_type, source_value, path, rest, directs,
                                        position_context)
        else:
            others = super().execute_fields(parent_type, source_value, path, rest,
                                            position_context)
        if self.is_awaitable(others):
            async def merged() -> dict[str, Any]:
                return _ordered(order, values, await others)

            return merged()
        return _ordered(order, values, others)  # type: ignore[arg-type]

    def _execute_rest(self, parent_type: GraphQLObjectType, source: Any, path: Path | None,
                      rest: GroupedFieldSet, directs: dict[str, _Direct],
                      position_context: Any) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's ``execute_fields`` loop over the rest of a field set, with its
        ``directs`` executed by ``_execute_direct``: same order, same awaiting, same
        settling of started awaitables when a non-null error propagates."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for name, details in rest.items():
                field_path = Path(path, name, type_name)
                direct = directs.get(name)
                if direct is None:
                    result = self.execute_field(parent_type, source, details, field_path,
                                                position_context)
                    if result is Undefined:
                        continue
                else:
                    result = self._execute_direct(parent_type, source, field_path, direct,
                                                  position_context)
                results[name] = result
                if is_awaitable(result):
                    awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _execute_direct(self, parent_type: GraphQLObjectType, source: Any, path: Path,
                        direct: _Direct, position_context: Any) -> AwaitableOrValue[Any]:
        """``FieldArgumentsExecutionContext.execute_field`` for a field whose resolver
        is a ``DirectResolver``, its definition, nodes and arguments taken from the
        plan; a plain result (a list of objects of plain leaves, such an object, or
        null where allowed) is completed by the plan, anything else by graphql-core."""
        field, details, nodes, plainly, resolve = direct
        return_type = field.type
        info = self._resolve_info(field, nodes, parent_type, path)
        try:
            result = resolve(source, info, **self._field_arguments(field, details))
            if plainly is not None:
                done = plainly(result, info)
                if done is not _NOT:
                    return done
            return self._complete_result(return_type, details, info, path, result,
                                         position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None

    def _direct_plan(self, field: GraphQLField, details: FieldDetailsList) -> _Direct:
        """How a ``DirectResolver`` field's plain results are completed: a list of
        objects of plain leaves item by item (as ``complete_list_value``), an object of
        plain leaves after its type's check; None (graphql-core's completion) for
        anything else, or when a directive (``@stream``, ``@defer``) is on the field."""
        plainly: Callable[[Any, Any], Any] | None = None
        field_type: Any = field.type
        non_null = isinstance(field_type, GraphQLNonNull)
        named = field_type.of_type if non_null else field_type
        if not any(each.node.directives for each in details):
            if isinstance(named, GraphQLList):
                item: Any = named.of_type
                item_non_null = isinstance(item, GraphQLNonNull)
                item_named = item.of_type if item_non_null else item
                leaves = self._object_of_leaves(item_named, details, type_check=True)
                if leaves is not None:
                    plainly = partial(_plain_list, leaves, not item_non_null,
                                      item_named.is_type_of)
            else:
                leaves = self._object_of_leaves(named, details, type_check=True)
                if leaves is not None:
                    plainly = partial(_plain_object, leaves, non_null, named.is_type_of)
        assert isinstance(field.resolve, DirectResolver)
        return (field, details, [each.node for each in details], plainly, field.resolve.resolve)

    def _resolve_info(self, field: GraphQLField, nodes: list[FieldNode],
                      parent_type: GraphQLObjectType, path: Path) -> Any:
        """``build_resolve_info``'s info, made from the first one of the execution:
        after graphql-core's five per-field values (name, nodes, type, parent, path)
        the rest (schema, operation, variables, context ...) is the same for every
        field of an execution, so it is copied instead of passed again (8,000 infos per
        1,000-page)."""
        shape = self._info_shape
        if shape is None or not self._info_copied:
            info = self.build_resolve_info(field, nodes, parent_type, path)
            if shape is None:
                self._info_copied = getattr(type(info), "_fields", ())[:5] == _INFO_HEAD
                self._info_shape = (type(info), tuple(info)[5:])
            return info
        cls, tail = shape
        return tuple.__new__(cls, (nodes[0].name.value, nodes, field.type, parent_type, path,
                                   *tail))

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet,
              path: Path | None = None) -> _Plan | None:
        """The field set's plan, made on its first execution. ``DirectResolver`` fields
        are executed directly (``directs``) when the plan is shared by the operation's
        requests or the objects are items of a list (a page's enterprises): only there
        does making their completions pay for itself."""
        plans = self._kept_plans(grouped_field_set)[0]
        kept = plans.get(id(grouped_field_set))
        if kept is not None:
            return kept[1]
        directly = path is not None and (self._shared(grouped_field_set)
                                         or isinstance(path.key, int) or _inside_a_list(path))
        leaves: list[_Leaf] = []
        rest: GroupedFieldSet = {}
        directs: dict[str, _Direct] = {}
        for name, details in grouped_field_set.items():
            node = details[0].node
            field = self.schema.get_field(parent_type, node.name.value)
            resolver = None if field is None else field.resolve
            if directly and field is not None and isinstance(resolver, DirectResolver):
                rest[name] = details
                directs[name] = self._direct_plan(field, details)
                continue
            if (field is None or not isinstance(resolver, PlainAttribute) or field.args
                    or node.arguments):
                rest[name] = details
                continue
            field_type: Any = field.type
            non_null = isinstance(field_type, GraphQLNonNull)
            named = field_type.of_type if non_null else field_type
            if isinstance(named, GraphQLScalarType | GraphQLEnumType):
                leaves.append((name, resolver.read, _output(named), non_null, None))
                continue
            if isinstance(named, GraphQLList):
                listed = self._list_of_leaves(named, details)
                if listed is None:
                    rest[name] = details
                    continue
                leaves.append((name, resolver.read, listed, non_null, None))
                continue
            inner = self._object_of_leaves(named, details)
            if inner is None:
                rest[name] = details
                continue
            leaves.append((name, resolver.read, None, non_null, inner))
        plan: _Plan | None = None
        if leaves or directs:
            plan = (leaves, rest or None, list(grouped_field_set), directs)
        plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def _list_of_leaves(self, list_type: GraphQLList[Any], details: FieldDetailsList
                        ) -> Callable[[Any], list[Any]] | None:
        """For a list field inside an object of plain leaves (``reasons { rule agencies {
        code } }``): a function completing the whole list when its items are scalars,
        enums or objects of plain leaves without a type check; None otherwise (a list of
        lists, a directive such as ``@stream`` on the field)."""
        if any(each.node.directives for each in details):
            return None
        item: Any = list_type.of_type
        nullable = not isinstance(item, GraphQLNonNull)
        named = item.of_type if not nullable else item
        if isinstance(named, GraphQLScalarType | GraphQLEnumType):
            return partial(_scalar_items, _output(named), nullable)
        inner = self._object_of_leaves(named, details)
        if inner is None:
            return None
        return partial(_object_items, inner, nullable)

    def _object_of_leaves(self, named: Any, details: Any, *, type_check: bool = False
                          ) -> list[_Leaf] | None:
        """The leaves of an object field (``agency { code }``) when they are all the
        object asks for and nothing stands between (no defer; no type check unless
        ``type_check``: the caller then makes it)."""
        if not isinstance(named, GraphQLObjectType) or (named.is_type_of is not None
                                                        and not type_check):
            return None
        grouped, deferred, *_ = self.collect_subfields(named, details)
        if deferred:
            return None
        plan = self._plan(named, grouped)
        if plan is None or plan[1] is not None or not plan[0]:
            return None
        return plan[0]


def _output(named: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """The leaf type's output coercion. For an enum of Python members (strawberry's:
    ``openness``, ``riskLevel`` on every record), each member's name is looked up
    instead of strawberry's scan of the enum's values for an equal one (about 2% of
    the 1,000-page); the name is the one that scan finds, and anything else goes to
    the type's own coercion, which answers or raises as before."""
    coerce = named.coerce_output_value
    members = getattr(named, "wrapped_cls", None)
    if not (isinstance(named, GraphQLEnumType) and isinstance(members, type)
            and issubclass(members, enum.Enum)):
        return coerce
    names: dict[int, str] = {}  # by the member's identity: members live as long as
    for member in members:     # their class, and Enum's __hash__ is Python code
        found = next((name for name, value in named.values.items()
                      if member.value == value.value), None)
        if found is not None:
            names[id(member)] = found

    def output(value: Any) -> Any:
        if type(value) is members:
            name = names.get(id(value))
            if name is not None:
                return name
        return coerce(value)

    return output


def _values(source: Any, leaves: list[_Leaf]) -> dict[str, Any] | None:
    """The leaves' values of ``source``, or None when one of them is an error."""
    values: dict[str, Any] = {}
    for name, read, coerce, non_null, inner in leaves:
        try:
            value = read(source)
            if value is None or value is Undefined:
                done = None
            elif coerce is not None:
                done = coerce(value)
            else:
                assert inner is not None
                done = _values(value, inner)
        except Exception:  # graphql-core reports it, as it does
            return None
        if (done is None or done is Undefined) and (value is not None or non_null):
            return None
        values[name] = done
    return values


class _NotPlain(Exception):
    """A list item the one-step completion leaves to graphql-core (its error)."""


def _scalar_items(coerce: Callable[[Any], Any], nullable: bool, value: Any) -> list[Any]:
    """A list of scalars or enums, each coerced as graphql-core coerces it; raises on
    anything graphql-core would report (not a list, a null item where none may be, a
    value the type refuses), so the object goes graphql-core's way."""
    if type(value) is not list and type(value) is not tuple:
        raise _NotPlain
    done: list[Any] = []
    for item in value:
        if item is None or item is Undefined:
            if not nullable:
                raise _NotPlain
            done.append(None)
            continue
        coerced = coerce(item)
        if coerced is None or coerced is Undefined:
            raise _NotPlain
        done.append(coerced)
    return done


def _object_items(leaves: list[_Leaf], nullable: bool, value: Any) -> list[Any]:
    """A list of objects of plain leaves, each read as ``_values`` reads it; raises as
    ``_scalar_items`` does."""
    if type(value) is not list and type(value) is not tuple:
        raise _NotPlain
    items = _items(value, None, leaves, nullable, None)
    if items is None:
        raise _NotPlain
    return items


_INFO_HEAD = ("field_name", "field_nodes", "return_type", "parent_type", "path")


class _NotPlainResult:
    """The marker of a result the plan does not complete (``_NOT``)."""


_NOT = _NotPlainResult()


def _plain_list(leaves: list[_Leaf], nullable: bool,
                is_type_of: Callable[[Any, Any], Any] | None, result: Any, info: Any) -> Any:
    """A direct field's list of objects of plain leaves, or ``_NOT``."""
    if type(result) is not list:
        return _NOT
    items = _items(result, info, leaves, nullable, is_type_of)
    return _NOT if items is None else items


def _plain_object(leaves: list[_Leaf], non_null: bool,
                  is_type_of: Callable[[Any, Any], Any] | None, result: Any, info: Any) -> Any:
    """A direct field's object of plain leaves (null where allowed), or ``_NOT``."""
    if result is None:
        return _NOT if non_null else None
    if is_type_of is not None and is_type_of(result, info) is not True:
        return _NOT
    values = _values(result, leaves)
    return _NOT if values is None else values


def _inside_a_list(path: Path) -> bool:
    """Whether the field is inside an item of a list (a page's enterprise): when the
    plans are this execution's own, only there is a list's plan used often enough to
    pay for itself (for one enterprise's lists it cost more than it saved: 64-connection
    throughput with a warm record cache 400 -> 290 req/s). Plans shared by an
    operation's requests (``schema.shared_plans``) pay for themselves anywhere."""
    above = path.prev
    while above is not None:
        if isinstance(above.key, int):
            return True
        above = above.prev
    return False


def _items(result: Sequence[Any], info: Any, leaves: list[_Leaf], nullable: bool,
           is_type_of: Callable[[Any, Any], Any] | None) -> list[Any] | None:
    """Each item's leaves, or None when one of them is an error, an awaitable or not
    of the item type (its check answers anything but True)."""
    items: list[Any] = []
    for item in result:
        if item is None:
            if not nullable:
                return None
            items.append(None)
            continue
        if is_type_of is not None and is_type_of(item, info) is not True:
            return None
        values = _values(item, leaves)
        if values is None:
            return None
        items.append(values)
    return items


def _ordered(order: list[str], values: dict[str, Any], others: dict[str, Any]
             ) -> dict[str, Any]:
    """Both parts in the order the query asked (fields not in the schema left out)."""
    merged: dict[str, Any] = {}
    for name in order:
        if name in values:
            merged[name] = values[name]
        elif name in others:
            merged[name] = others[name]
    return merged
