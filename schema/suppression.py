"""Protecting small counts in a published table (统计披露控制): primary and
complementary cell suppression against recovery by subtraction.

A protected answer publishes the counts of its cells and its total. What a reader
can work out about the suppressed cells from them is exactly this: each is at least
1 (a cell with nothing in it is never listed) and together they add up to

    R = total - (sum of the published cells)

so with ``m`` suppressed cells one of them is exact when ``m == 1`` (R itself), and
each lies anywhere in ``[1, R - (m - 1)]`` when ``m >= 2``. The method:

1. *Primary suppression*: a cell is sensitive when it counts fewer than
   ``threshold`` (records: or its records are about fewer than ``threshold``
   enterprises - a cell of 12 penalties of one enterprise tells about that one).
2. *Complementary suppression*: while a suppressed cell could be worked out - ``m
   == 1``, or ``R - (m - 1) < threshold`` (the reader could tell that every
   suppressed cell is small, or pin them: two cells adding up to 2 are both 1) - the
   smallest published cell (ties: the first in key order) is suppressed too. One
   such cell always suffices: it adds at least ``threshold`` to R and 1 to m.
3. When no cell is left to suppress, the total is withheld: then nothing relates the
   suppressed cells to a published number. A sensitive total (fewer than
   ``threshold``) is always withheld - all its cells are smaller still.

Result: every suppressed cell could be any value from 1 to at least ``threshold`` as
far as the published numbers tell. This is the standard threshold rule with
complementary suppression of statistical offices, for a one-level table (cells and
the grand total; no margins are published - a reader asks for a coarser grouping as
another table). It protects one answer; comparing answers to different questions
(two filters, two groupings) is the classic differencing attack that cell
suppression alone cannot stop: the figures come from the caller's own view, so the
public learns nothing it could not list itself, and small groups are not shown in
any single answer. ``tests/schema/test_statistics_suppression.py`` proves the
property with hypothesis.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Counted", "Protected", "protect", "sensitive"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Counted:
    """One exact cell: its count and how many distinct enterprises it is about."""

    count: int
    enterprises: int


@dataclass(frozen=True, slots=True)
class Protected(Generic[K]):
    """A table as published: each cell's count or None (suppressed), and the total or
    None (withheld)."""

    cells: dict[K, int | None]
    total: int | None

    @property
    def suppressed(self) -> int:
        return sum(1 for count in self.cells.values() if count is None)


def sensitive(cell: Counted, threshold: int) -> bool:
    """Is this cell too small to publish (primary suppression)?"""
    return 0 < cell.count < threshold or 0 < cell.enterprises < threshold


def _exposed(hidden: int, residual: int, threshold: int) -> bool:
    """Could a reader work out something about ``hidden`` suppressed cells adding up to
    ``residual`` - one cell exactly, or that all are below ``threshold``?"""
    return hidden == 1 or (hidden >= 2 and residual - (hidden - 1) < threshold)


def protect(cells: Mapping[K, Counted], threshold: int,
            order: list[K] | None = None) -> Protected[K]:
    """``cells`` (each with a count of at least 1) as a protected caller may see
    them. ``order`` is the key order ties are broken in (default: as given)."""
    keys = list(cells) if order is None else order
    total = sum(cells[key].count for key in keys)
    suppressed = {key for key in keys if sensitive(cells[key], threshold)}
    published_total: int | None = total
    if 0 < total < threshold:
        suppressed = set(keys)
        published_total = None
    residual = sum(cells[key].count for key in suppressed)
    while _exposed(len(suppressed), residual, threshold):
        rest = [key for key in keys if key not in suppressed]
        if not rest:
            published_total = None
            break
        smallest = min(rest, key=lambda key: cells[key].count)  # first of equals
        suppressed.add(smallest)
        residual += cells[smallest].count
    return Protected({key: None if key in suppressed else cells[key].count for key in keys},
                     published_total)
