"""Inspectors for the drawn enterprises: avoidance, agencies spread, load even.

Part of ``schema.inspection_draw`` (its docstring gives the rules). Each agency's
inspectors wait in a heap ordered by (visits so far, seeded rank), so a place in a
visit costs a few heap operations, not a pass over the roster: a draw of thousands
of enterprises over a roster of hundreds stays fast. Inspectors that may not visit
the enterprise at hand are set aside for that visit and put back after it.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Sequence

from schema.inspection_types import Candidate, DrawError, DrawPlan, Inspector

__all__ = ["assign_inspectors", "eligible"]

# (visits so far, seeded rank, id, position in the roster): ids are unique, so the
# position is never compared
_Entry = tuple[int, bytes, str, int]


def eligible(inspector: Inspector, enterprise: Candidate) -> bool:
    """May ``inspector`` visit ``enterprise``? Not if their unit is its registering
    agency (登记机关), nor if they must avoid it (回避)."""
    return (inspector.unit != enterprise.registering_agency
            and enterprise.credit_code not in inspector.avoid)


def _why_not(plan: DrawPlan, roster: Sequence[Inspector], enterprise: Candidate,
             agency: str | None) -> str:
    """Why too few inspectors may visit ``enterprise`` (of ``agency``, or of the plan)."""
    pool = [i for i in roster if (i.agency == agency if agency else i.agency in plan.agencies)]
    own_unit = sum(1 for i in pool if i.unit == enterprise.registering_agency)
    avoiding = sum(1 for i in pool if i.unit != enterprise.registering_agency
                   and enterprise.credit_code in i.avoid)
    whose = f"agency {agency}" if agency else f"agencies {', '.join(plan.agencies)}"
    return (f"{whose} {'has' if agency else 'have'} {len(pool)} inspector(s): {own_unit} in "
            f"its registering agency {enterprise.registering_agency!r} (登记机关), {avoiding} "
            f"bound to avoid it (回避), {len(pool) - own_unit - avoiding} eligible")


def assign_inspectors(plan: DrawPlan, seed: str, enterprises: Sequence[Candidate],
                      roster: Sequence[Inspector]) -> list[tuple[str, ...]]:
    """The inspector ids visiting each of ``enterprises`` (taken in the order given)."""
    per_visit, agencies = plan.inspectors_per_visit, plan.agencies
    heaps: dict[str, list[_Entry]] = {a: [] for a in agencies}
    for position, inspector in enumerate(roster):
        if inspector.agency in heaps:
            rank = hashlib.sha256(
                f"{plan.plan_id}|{seed}|inspector|{inspector.id}".encode()).digest()
            heaps[inspector.agency].append((0, rank, inspector.id, position))
    for heap in heaps.values():
        heapq.heapify(heap)
    every_agency = per_visit >= len(agencies)
    teams: list[tuple[str, ...]] = []
    for enterprise in enterprises:
        set_aside: dict[str, list[_Entry]] = {a: [] for a in agencies}
        taken: dict[str, int] = dict.fromkeys(agencies, 0)
        team: list[_Entry] = []
        for _ in range(per_visit):
            best: tuple[int, _Entry, str] | None = None
            for agency in agencies:
                heap = heaps[agency]
                while heap and not eligible(roster[heap[0][3]], enterprise):
                    set_aside[agency].append(heapq.heappop(heap))
                if heap and (best is None or (taken[agency], heap[0]) < best[:2]):
                    best = (taken[agency], heap[0], agency)
            if best is None:
                break
            _, entry, agency = best
            team.append(heapq.heappop(heaps[agency]))
            taken[agency] += 1
        for agency in agencies:
            for entry in set_aside[agency]:
                heapq.heappush(heaps[agency], entry)
        for load, rank, inspector_id, position in team:
            heapq.heappush(heaps[roster[position].agency], (load + 1, rank, inspector_id,
                                                            position))
        if len(team) < per_visit:
            raise DrawError(
                f"enterprise {enterprise.credit_code}: needs {per_visit} inspectors, only "
                f"{len(team)} may visit it - {_why_not(plan, roster, enterprise, None)}. "
                "Add inspectors to the roster, or lower inspectorsPerVisit.")
        if every_agency:
            for agency in agencies:
                if taken[agency] == 0:
                    raise DrawError(
                        f"enterprise {enterprise.credit_code}: a cross-agency visit (联合抽查) "
                        f"needs an inspector of each agency, none of {agency} may visit it - "
                        f"{_why_not(plan, roster, enterprise, agency)}. Add inspectors of "
                        f"{agency} to the roster.")
        teams.append(tuple(entry[2] for entry in team))
    return teams
