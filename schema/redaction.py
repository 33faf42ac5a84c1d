"""Reporting hidden fields: once per response path and field, with a count."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)
from strawberry.utils.str_converters import to_camel_case

from schema.identity_memo import IdentityMemo

__all__ = ["SelectionMemo", "note_redactions", "selected_names"]

_Fragments = Mapping[str, FragmentDefinitionNode]


def _names(selections: Iterable[SelectionNode], fragments: _Fragments, into: set[str],
           spread: frozenset[str] = frozenset()) -> None:
    for selection in selections:
        if isinstance(selection, FieldNode):
            into.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            _names(selection.selection_set.selections, fragments, into, spread)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in spread:  # validation refuses cycles
                _names(fragment.selection_set.selections, fragments, into, spread | {name})


def _children(selections: Iterable[SelectionNode], fragments: _Fragments, key: str,
              spread: frozenset[str] = frozenset()) -> list[SelectionNode]:
    found: list[SelectionNode] = []
    for selection in selections:
        if isinstance(selection, FieldNode):
            alias = selection.alias.value if selection.alias else selection.name.value
            if alias == key and selection.selection_set is not None:
                found.extend(selection.selection_set.selections)
        elif isinstance(selection, InlineFragmentNode):
            found.extend(_children(selection.selection_set.selections, fragments, key, spread))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in spread:
                found.extend(_children(fragment.selection_set.selections, fragments, key,
                                       spread | {name}))
    return found


def _selected(field_nodes: Iterable[FieldNode], fragments: _Fragments,
              under: tuple[str, ...]) -> frozenset[str]:
    selections: list[SelectionNode] = [
        s for node in field_nodes if node.selection_set is not None
        for s in node.selection_set.selections
    ]
    for key in under:
        selections = _children(selections, fragments, key)
    names: set[str] = set()
    _names(selections, fragments, names)
    return frozenset(names)


class SelectionMemo:
    """``selected_names`` answers per query document, shared by the requests of one
    gateway, found by the field nodes' identity (``schema.identity_memo``). Building
    strawberry's ``info.selected_fields`` instead cost 12% of a warm single-enterprise
    request (py-spy under wrk)."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._memo: IdentityMemo[frozenset[str]] = IdentityMemo(maxsize)

    def names(self, field_nodes: tuple[FieldNode, ...], fragments: _Fragments,
              under: tuple[str, ...]) -> frozenset[str]:
        found = self._memo.get(field_nodes, under)
        if found is None:
            found = _selected(field_nodes, fragments, under)
            self._memo.put(field_nodes, under, found)
        return found


def selected_names(info: strawberry.Info[Any, Any], under: tuple[str, ...] = ()) -> frozenset[str]:
    """GraphQL names selected under the current field, or under the response keys
    ``under`` below it (fragments included; ``@skip``/``@include`` not evaluated)."""
    raw = info._raw_info
    memo: SelectionMemo = info.context.selections
    return memo.names(tuple(raw.field_nodes), raw.fragments, under)


def note_redactions(
    info: strawberry.Info[Any, Any], hidden: frozenset[str], *, under: tuple[str, ...] = ()
) -> None:
    """Count the hidden fields (python names) the query selected under this field."""
    view = info.context.view
    keys = [key for key in info.path.as_list() if isinstance(key, str)]
    path = ".".join([*keys, *under])
    selected = view.selections.get(path)
    if selected is None:
        selected = view.selections[path] = selected_names(info, under)
    shown = frozenset(name for name in map(to_camel_case, hidden) if name in selected)
    if shown:
        view.note(path, shown)
