"""Inclusion probabilities of a draw, exact: from risk weights to segment lengths.

Part of ``schema.inspection_draw`` (its docstring gives the rules). Probabilities are
integers in units of 2^-48 (``SCALE`` is probability 1) so that they add up to
exactly the number to draw: systematic sampling then draws exactly that many, on
every machine. The arithmetic is over integers and fractions of the decimals
written in ``policies/inspections.yaml`` - no floating point.

Candidates of one warning level and grade share a weight, so the work is per class
(at most 16) and one pass over the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from schema.inspection_types import Candidate, DrawError
from schema.rules.inspections import DrawWeights

__all__ = ["SCALE", "Units", "inclusion_units"]

SCALE = 1 << 48  # probability 1


@dataclass(frozen=True, slots=True)
class Units:
    """Per candidate (in the order given): its inclusion probability x SCALE and
    whether it is on the special list."""

    shares: list[int]
    mandatory: list[bool]
    over_count: int
    short_count: int


def _capped(counts: dict[tuple[str, str], int], weights: dict[tuple[str, str], int],
            n: int) -> tuple[set[tuple[str, str]], int, int]:
    """The classes whose probability reaches 1 (repeatedly scaling the rest so the
    probabilities add up to ``n``); the number left to draw among the others and
    the others' total weight."""
    capped: set[tuple[str, str]] = set()
    while True:
        total = sum(counts[c] * weights[c] for c in counts if c not in capped)
        full = {c for c in counts if c not in capped and n * weights[c] >= total}
        if not full:
            return capped, n, total
        capped |= full
        n -= sum(counts[c] for c in full)
        if n == 0:
            return capped, 0, 0


def inclusion_units(candidates: Sequence[Candidate], count: int,
                    weights: DrawWeights) -> Units:
    """Each candidate's inclusion probability x ``SCALE``, adding up to exactly
    ``count x SCALE`` (or every candidate with a weight, when fewer)."""
    mandatory = [weights.mandatory(c.warning, c.grade) for c in candidates]
    classes = [(c.warning, c.grade) for c in candidates]
    must = sum(mandatory)
    shares = [SCALE if m else 0 for m in mandatory]
    n = count - must
    if n <= 0:
        return Units(shares, mandatory, -n, 0)
    fractions = {k: weights.weight(*k) for k in set(classes)}
    scale = math.lcm(*(f.denominator for f in fractions.values())) if fractions else 1
    integer = {k: f.numerator * (scale // f.denominator) for k, f in fractions.items()}
    counts: dict[tuple[str, str], int] = {}
    for k, m in zip(classes, mandatory, strict=True):
        if not m and integer[k] > 0:
            counts[k] = counts.get(k, 0) + 1
    weighted = sum(counts.values())
    if weighted <= n:  # every candidate with a weight is drawn
        for i, k in enumerate(classes):
            if k in counts and not mandatory[i]:
                shares[i] = SCALE
        return Units(shares, mandatory, 0, n - weighted)
    capped, left, total = _capped(counts, integer, n)
    per_class: dict[tuple[str, str], tuple[int, int]] = {}
    for k in counts:
        if k in capped:
            per_class[k] = (SCALE, 0)
        else:  # total is 0 only when nothing is left to draw (left == 0)
            per_class[k] = divmod(left * integer[k] * SCALE, total) if total else (0, 0)
    given = 0
    for i, k in enumerate(classes):
        if k in counts and not mandatory[i]:
            shares[i] = per_class[k][0]
            given += shares[i]
    # the floors lose less than one unit per candidate: the largest remainders get
    # one more (ties by credit code, the candidates' order), so the sum is exact
    deficit = n * SCALE - given
    if deficit < 0:
        raise DrawError("internal: inclusion probabilities exceed the count")  # pragma: no cover
    if deficit:
        rest = sorted((i for i, k in enumerate(classes)
                       if k in counts and not mandatory[i] and per_class[k][1] > 0),
                      key=lambda i: (-per_class[classes[i]][1], candidates[i].credit_code))
        for i in rest[:deficit]:
            shares[i] += 1
    return Units(shares, mandatory, 0, 0)
