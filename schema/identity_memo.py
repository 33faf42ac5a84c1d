"""A bounded memo of values found by the identity of the objects they were made from.

graphql-core's AST nodes hash and compare by walking every node below them, so a
cache keyed by them costs a walk of the query per request. What the gateway derives
from a parsed query (the names a field selects, the query's validation errors) is
kept here by the objects' ids instead, with the objects themselves kept in the entry
so that their ids cannot be reused while it lives. ``ParserCache`` hands out the same
document for the same query text, so a repeated query finds its entries; a query
parsed again is new objects, and is derived again. The least recently used entry goes
first. One per gateway or schema; the event loop's thread only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["IdentityMemo"]

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """Values per (objects by identity, a hashable extra), at most ``maxsize``."""

    def __init__(self, maxsize: int) -> None:
        self._entries: OrderedDict[tuple[tuple[int, ...], Hashable],
                                   tuple[tuple[object, ...], V]] = OrderedDict()
        self._maxsize = maxsize

    def get(self, objects: tuple[object, ...], extra: Hashable = None) -> V | None:
        """The value kept for exactly these objects and ``extra``, or None."""
        key = (tuple(map(id, objects)), extra)
        entry = self._entries.get(key)
        if entry is None or not all(a is b for a, b in zip(entry[0], objects, strict=True)):
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, objects: tuple[object, ...], extra: Hashable, value: V) -> None:
        self._entries[(tuple(map(id, objects)), extra)] = (objects, value)
        if len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
