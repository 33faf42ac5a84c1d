"""Reporting hidden fields: once per response path and field, with a count."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField
from strawberry.utils.str_converters import to_camel_case

__all__ = ["note_redactions", "selected_names"]


def _names(selections: Iterable[Any], into: set[str]) -> None:
    for selection in selections:
        if isinstance(selection, SelectedField):
            into.add(selection.name)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            _names(selection.selections, into)


def _children(selections: Iterable[Any], key: str) -> list[Any]:
    found: list[Any] = []
    for selection in selections:
        if isinstance(selection, SelectedField) and (selection.alias or selection.name) == key:
            found.extend(selection.selections)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            found.extend(_children(selection.selections, key))
    return found


def selected_names(info: strawberry.Info[Any, Any], under: tuple[str, ...] = ()) -> frozenset[str]:
    """GraphQL names selected under the current field, or under the response keys
    ``under`` below it (fragments included)."""
    selections: list[Any] = [s for field in info.selected_fields for s in field.selections]
    for key in under:
        selections = _children(selections, key)
    names: set[str] = set()
    _names(selections, names)
    return frozenset(names)


def note_redactions(
    info: strawberry.Info[Any, Any], hidden: frozenset[str], *, under: tuple[str, ...] = ()
) -> None:
    """Count the hidden fields (python names) the query selected under this field."""
    access = info.context.access
    keys = [key for key in info.path.as_list() if isinstance(key, str)]
    path = ".".join([*keys, *under])
    selected = access.selections.get(path)
    if selected is None:
        selected = access.selections[path] = selected_names(info, under)
    shown = frozenset(name for name in map(to_camel_case, hidden) if name in selected)
    if shown:
        access.note(path, shown)
