"""Which fields of the graph's record types need an openness class."""

from __future__ import annotations

from functools import cache

import strawberry
from strawberry.utils.str_converters import to_camel_case

from schema.records import RECORD_CLASSES
from schema.subjects import Enterprise, Person

__all__ = ["GRAPH_CLASSES", "classified_fields"]

GRAPH_CLASSES: dict[str, type] = {
    "Enterprise": Enterprise,
    "Person": Person,
    **{cls.__name__: cls for cls in RECORD_CLASSES.values()},
}


@cache
def classified_fields() -> dict[str, tuple[str, ...]]:
    """GraphQL type -> python names of all its GraphQL fields (data, links and lists)."""
    schema = strawberry.Schema(query=_Probe, types=list(GRAPH_CLASSES.values()))
    found = {}
    for name, cls in GRAPH_CLASSES.items():
        graph_type = schema._schema.get_type(name)  # graphql-core's view: published fields only
        published = set(getattr(graph_type, "fields", {}))
        found[name] = tuple(
            f.python_name
            for f in cls.__strawberry_definition__.fields  # type: ignore[attr-defined]
            if to_camel_case(f.python_name) in published
        )
    return found


@strawberry.type
class _Probe:
    ok: bool
