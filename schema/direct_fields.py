"""Direct graphql-core resolvers: plain attributes, and the record lists, warning and
credit grade of ``Enterprise``.

Strawberry wraps every field that has a resolver: it builds its ``Info``, converts
each argument (here the ``period`` enum) and runs the field's extensions, about
35 µs per resolved field. A page of 1,000 enterprises resolves 6,000 such lists; the
wrapping cost about a quarter of the page (cProfile of the 1,000-page benchmark). These
fields take one enum argument, have no field extensions or permissions, and return
lists that are already built, so after the schema is built their graphql-core
resolver is replaced by one that calls the same method with the same arguments,
minus the wrapping. Everything else about the field (type, description, argument,
default) stays strawberry's; ``tests/schema/test_direct_fields.py`` checks that the
answers are identical with and without.

``warning`` and ``creditGrade`` (one ``asOf`` date argument, 2,000 fields per page with
both selected) cost the same wrapping plus strawberry's argument conversion (its name
converter alone: 6% of the page); they get the same treatment. The 1,000-page with every
list, warning and grade: 12% less time (cProfile and the page benchmark).

Fields without a resolver (plain attributes: ``name``, ``decisionNo``, ...) go through
three strawberry calls to reach ``getattr``; they get ``operator.attrgetter`` of their
Python name directly (about 50,000 such fields per 1,000-page, 4% of its time).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from schema.period import RecordPeriod
from schema.subjects import ENTERPRISE_LISTS, Enterprise

__all__ = ["DirectResolver", "PlainAttribute", "install_direct_resolvers"]


class DirectResolver:
    """A resolver answering without strawberry's wrapping (a record list, a warning or
    grade of ``Enterprise``); ``schema.leaf_fields`` executes such fields without
    graphql-core's per-field dispatch inside a page. Calls ``resolve``."""

    __slots__ = ("resolve",)

    def __init__(self, resolve: Callable[..., Any]) -> None:
        self.resolve = resolve

    def __call__(self, source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        return self.resolve(source, info, **arguments)


def _direct(method: Callable[..., Any], field: Any) -> DirectResolver:
    def resolve(source: Any, info: GraphQLResolveInfo[Any],
                period: str | RecordPeriod = RecordPeriod.CURRENT) -> Any:
        # graphql-core hands over the member (coerced once per query) or, from a
        # default, its value
        chosen = period if type(period) is RecordPeriod else RecordPeriod(period)
        return method(source, Info(_raw_info=info, _field=field), chosen)

    return DirectResolver(resolve)


def _dated(method: Callable[..., Any], field: Any) -> DirectResolver:
    def resolve(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        # asOf is a Date scalar: graphql-core hands over the dt.date (or None) already
        return method(source, Info(_raw_info=info, _field=field), arguments.get("asOf"))

    return DirectResolver(resolve)


# Enterprise's resolver fields answered directly: GraphQL name -> (its arguments, factory)
_DIRECT: dict[str, tuple[set[str], Callable[..., DirectResolver]]] = {
    **{name: ({"period"}, _direct) for name in ENTERPRISE_LISTS},
    "warning": ({"asOf"}, _dated),
    "creditGrade": ({"asOf"}, _dated),
}


class PlainAttribute:
    """The resolver of a field that is a plain attribute: a pure read, which
    ``schema.leaf_fields`` may make without graphql-core's per-field machinery."""

    __slots__ = ("read",)

    def __init__(self, name: str) -> None:
        self.read = attrgetter(name)

    def __call__(self, source: Any, info: Any) -> Any:
        return self.read(source)


def _install_attributes(schema: GraphQLSchema) -> None:
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        definition = graphql_type.extensions.get("strawberry-definition")
        if definition is None:
            continue
        for field in definition.fields:
            if (field.base_resolver is not None or field.extensions
                    or field.permission_classes):
                continue
            graphql_field = graphql_type.fields.get(
                field.graphql_name or to_camel_case(field.python_name))
            if graphql_field is not None and not graphql_field.args:
                graphql_field.resolve = PlainAttribute(field.python_name)


def install_direct_resolvers(schema: GraphQLSchema) -> None:
    """Replace the resolvers of plain attributes and of ``Enterprise``'s record lists,
    warning and credit grade in ``schema`` (a strawberry schema's ``_schema``)."""
    _install_attributes(schema)
    definition = get_object_definition(Enterprise, strict=True)
    by_name = {to_camel_case(field.python_name): field for field in definition.fields}
    graphql_type = schema.type_map.get("Enterprise")
    if not isinstance(graphql_type, GraphQLObjectType):
        return
    for name, (arguments, make) in _DIRECT.items():
        field = graphql_type.fields.get(name)
        if field is None:  # left out of this schema (the public one may drop fields)
            continue
        strawberry_field = by_name[name]
        resolver = strawberry_field.base_resolver
        if (resolver is None or set(field.args) != arguments or strawberry_field.extensions
                or strawberry_field.permission_classes):
            raise TypeError(f"Enterprise.{name} no longer fits a direct resolver")
        method = resolver.wrapped_func
        if not callable(method):
            raise TypeError(f"Enterprise.{name} no longer fits a direct resolver")
        field.resolve = make(method, strawberry_field)
