"""Protected statistics (schema/suppression.py): a reader holding every published number
of an answer - the published cells, the total, which cells are suppressed - cannot
work out any suppressed cell, nor even tell that it is small; and no published count
is below the threshold. The reader here is independent of the method: it solves for
every value each suppressed cell could take given the published numbers (cells are
at least 1: empty groups are not listed) and checks what is left.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schema.suppression import Counted, Protected, protect, sensitive

Key = tuple[str, ...]


def feasible(published: Protected[Key], cell: Key, limit: int) -> set[int] | None:
    """Every value up to ``limit`` the suppressed ``cell`` could have, as far as the
    published numbers tell (None: no bound at all - the total is withheld)."""
    if published.total is None:
        return None
    residual = published.total - sum(c for c in published.cells.values() if c is not None)
    others = published.suppressed - 1
    values = set()
    for value in range(1, limit + 1):
        rest = residual - value
        # can the other suppressed cells (each >= 1) add up to the rest?
        if (others == 0 and rest == 0) or (others > 0 and rest >= others):
            values.add(value)
    return values


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[Key, Counted], int]:
    threshold = draw(st.integers(2, 10))
    size = draw(st.integers(0, 12))
    keys = draw(st.lists(st.text("ABCDE", min_size=1, max_size=2), min_size=size,
                         max_size=size, unique=True))
    cells: dict[Key, Counted] = {}
    for key in keys:
        count = draw(st.one_of(st.integers(1, threshold + 2), st.integers(1, 60)))
        enterprises = draw(st.integers(1, count))
        cells[(key,)] = Counted(count, enterprises)
    return cells, threshold


def check(cells: dict[Key, Counted], threshold: int) -> Protected[Key]:
    published = protect(cells, threshold)
    total = sum(c.count for c in cells.values())
    assert set(published.cells) == set(cells)
    assert published.total in (None, total)
    if 0 < total < threshold:
        assert published.total is None
    for key, count in published.cells.items():
        if count is not None:  # published: exact, and never a small group
            assert count == cells[key].count
            assert not sensitive(cells[key], threshold)
    limit = total + 1
    for key, count in published.cells.items():
        if count is not None:
            continue
        values = feasible(published, key, limit)
        if values is None:
            continue  # no published number relates it to anything
        assert cells[key].count in values  # the reader's reasoning is sound
        assert len(values) >= 2, (cells, published)  # not worked out by subtraction
        assert max(values) >= threshold, (cells, published)  # not even known to be small
    return published


@settings(max_examples=3000, deadline=None)
@given(tables())
def test_no_suppressed_cell_can_be_worked_out_from_an_answer(
        table: tuple[dict[Key, Counted], int]) -> None:
    cells, threshold = table
    published = check(cells, threshold)
    sensitive_cells = [k for k, c in cells.items() if sensitive(c, threshold)]
    assert all(published.cells[k] is None for k in sensitive_cells)


@pytest.mark.parametrize(("counts", "suppressed", "total_shown"), [
    ([1, 9, 12], 2, True),         # one small cell: the next smallest goes with it
    ([1, 1, 30, 40], 3, True),     # two ones add up to 2: both would be known
    ([3, 4, 30], 2, True),         # 3 + 4 = 7: either could be 1..6, no more needed
    ([2], 1, False),               # the total is the cell itself
    ([2, 2], 2, False),            # a small total: withheld, and every cell
    ([20, 30], 0, True),           # nothing small: nothing suppressed
])
def test_suppression_examples(counts: list[int], suppressed: int, total_shown: bool) -> None:
    cells: dict[Key, Counted] = {(f"k{i}",): Counted(n, n) for i, n in enumerate(counts)}
    published = check(cells, 5)
    assert published.suppressed == suppressed
    assert (published.total is not None) is total_shown


def test_records_of_few_enterprises_are_small() -> None:
    """12 penalties of one enterprise tell about that enterprise: suppressed."""
    cells: dict[Key, Counted] = {("FDA",): Counted(12, 1), ("TAX",): Counted(30, 20),
                                 ("SAMR",): Counted(40, 25)}
    published = check(cells, 5)
    assert published.cells[("FDA",)] is None and published.suppressed == 2
