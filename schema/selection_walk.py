"""Walking an operation's selections with fragments expanded: what the depth, alias and
cost measures (``schema.limit_rules``, ``schema.query_cost``) share.

One recursive function per walk, one frame per selection set: graphql-core 3.3's
validation aborts documents whose selections (fragments included) nest more than 200
levels before any rule runs, so the recursion stays far below Python's limit. Each
fragment is walked once and its result memoised, so fragments spread many times (the
"billion laughs" shape) cost linear time. A spread that closes a cycle counts nothing:
NoFragmentCyclesRule reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from graphql import (
    DefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

__all__ = ["INTROSPECTION_ROOTS", "FragmentLookup", "RootSplit", "fragments_of"]

#: Root fields whose selections are held to the introspection limits.
INTROSPECTION_ROOTS: Final = frozenset({"__schema", "__type"})

FragmentLookup = Callable[[str], FragmentDefinitionNode | None]


def fragments_of(document_definitions: Iterable[DefinitionNode]) -> FragmentLookup:
    """The fragment of a document by name (None for an unknown name)."""
    fragments = {
        definition.name.value: definition
        for definition in document_definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    return fragments.get


class RootSplit:
    """Measures the top-level fields of an operation, data and introspection apart:
    ``measure`` gives one field's value, ``combine`` adds values up (max or sum)."""

    def __init__(
        self,
        fragment: FragmentLookup,
        measure: Callable[[FieldNode], int],
        combine: Callable[[int, int], int],
    ) -> None:
        self.fragment = fragment
        self.measure = measure
        self.combine = combine
        self.memo: dict[str, tuple[int, int]] = {}
        self.on_path: set[str] = set()

    def of(self, selection_set: SelectionSetNode) -> tuple[int, int]:
        """(data, introspection) of the top-level fields selected here."""
        combine = self.combine
        data = introspection = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                value = self.measure(selection)
                if selection.name.value in INTROSPECTION_ROOTS:
                    introspection = combine(introspection, value)
                else:
                    data = combine(data, value)
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self._spread(selection.name.value)
            else:  # pragma: no cover - no other kind of selection
                continue
            data, introspection = combine(data, inner[0]), combine(introspection, inner[1])
        return data, introspection

    def _spread(self, name: str) -> tuple[int, int]:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragment(name)
        if definition is None or name in self.on_path:
            return 0, 0
        self.on_path.add(name)
        found = self.memo[name] = self.of(definition.selection_set)
        self.on_path.discard(name)
        return found
