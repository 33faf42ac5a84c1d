"""The double-random draw (双随机): which enterprises are inspected, and by whom.

A pure function: it knows nothing of GraphQL, databases or time. The same plan, seed,
candidates, roster and weights give the same draw, byte for byte, on any machine and
Python version - so the draw can be published (公开) and anyone can run it again from
its canonical inputs (``canonical_inputs`` / ``draw_from_canonical``).

Which enterprises (risk-weighted, ``policies/inspections.yaml``):

1. Candidates are sorted by credit code first: their order as given never matters.
2. Enterprises on the special list (重点监管名单: a grade or warning level named under
   ``always_drawn``, D and RED as shipped) are drawn with probability 1. If they
   alone reach the plan's ``count``, they are all drawn and ``Draw.over_count``
   says by how many the draw exceeds the count.
3. The other ``n = count - mandatory`` are drawn among the rest. Enterprise i weighs
   ``w_i = rate[warning] x factor[grade]``; its inclusion probability is
   ``pi_i = n * w_i / sum(w)``, and where that reaches 1 it is set to 1 and the
   others are scaled again over what remains (repeated until none passes 1). So
   ``sum(pi) == n`` exactly. The arithmetic is exact (fractions of the decimals
   written in the file); each pi_i is then fixed to a multiple of 2^-48 (the
   rounding goes to the largest remainders, ties by credit code) keeping the sum
   exactly n. If fewer than n enterprises have a weight above 0 they are all drawn
   and ``Draw.short_count`` says how many the draw falls short.
4. Systematic PPS sampling over a seeded random order: the enterprises are ordered
   by ``sha256(f"{plan_id}|{seed}|{credit_code}")``, laid end to end on a line, each
   as long as its pi_i, and n points ``u, u+1, ..., u+n-1`` are put on it, with
   ``u`` in [0, 1) from the first 6 bytes of ``sha256(f"{plan_id}|{seed}|start")``
   / 2^48. An enterprise is drawn when a point falls on it. No segment is longer
   than 1, so exactly n are drawn.

   The statistical property (what tests/schema/test_inspection_draw.py checks over
   many seeds): for a uniformly random ``u``, each enterprise is drawn with
   probability exactly pi_i (its segment's length), whatever the order; the seeded
   order only makes the joint draws vary. SHA-256 of different seeds stands in for
   independent uniform draws.

Who inspects (for each drawn enterprise, in the seeded order above): ``inspectors_per_visit``
distinct inspectors of the plan's agencies, never one whose ``unit`` is the
enterprise's registering agency (登记机关) and never one whose ``avoid`` (回避) names it.
Within a visit the inspectors come from as many of the plan's agencies as possible:
an agency with fewer inspectors in this visit goes first, so with at least as many
inspectors per visit as agencies (a cross-agency plan, 联合抽查) each agency sends one
- and an agency with no eligible inspector for the enterprise is a ``DrawError``.
Among the candidates for a place, the one with the fewest visits so far is taken,
ties broken by ``sha256(f"{plan_id}|{seed}|inspector|{id}")``. Over a draw, the
visits of an agency's inspectors then differ by at most 1 where avoidance allows:
exactly, among the inspectors free to visit every drawn enterprise (an inspector
set aside for some enterprises may fall behind by those visits).

Digests: ``inputs_digest`` is the SHA-256 of ``canonical_inputs`` (compact JSON, keys
sorted, candidates by credit code, roster by id); ``digest`` (``outputs_digest``) is
the SHA-256 of the inputs digest and every drawn item, so a stored draw whose items
were changed no longer matches the draw made again from its inputs. A platform
stores ``draw_with_inputs``' bytes with the draw; ``draw_from_canonical`` runs it
again. The canonical inputs hold every candidate's warning level and grade: they are
for verification, not for callers who may not read those.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schema.collector import collector_paused
from schema.inspection_assign import assign_inspectors
from schema.inspection_types import (
    Candidate,
    Draw,
    DrawError,
    DrawnItem,
    DrawPlan,
    Inspector,
)
from schema.inspection_weights import SCALE, inclusion_units
from schema.rules.inspections import GRADES, WARNINGS, DrawWeights

__all__ = ["FORMAT", "Candidate", "Draw", "DrawError", "DrawPlan", "DrawnItem", "Inspector",
           "canonical_inputs", "draw", "draw_from_canonical", "draw_with_inputs", "order_key",
           "outputs_digest"]

FORMAT = "inspection-draw/1"  # the canonical inputs' format; a new one if they change


def order_key(plan_id: str, seed: str, name: str) -> bytes:
    """The seeded random key of ``name`` (a credit code, ``start``, ...) in a draw."""
    return hashlib.sha256(f"{plan_id}|{seed}|{name}".encode()).digest()


@dataclass(frozen=True, slots=True)
class _Checked:
    plan: DrawPlan
    candidates: tuple[Candidate, ...]  # by credit code
    roster: tuple[Inspector, ...]  # by id


def _check(plan: DrawPlan, seed: str, candidates: Sequence[Candidate],
           roster: Sequence[Inspector]) -> _Checked:
    if not plan.plan_id or "|" in plan.plan_id:
        raise DrawError(f"plan id {plan.plan_id!r}: must be non-empty and without '|' "
                        "(it is part of every random key)")
    if not seed:
        raise DrawError("the seed is empty: give a seed (it is published with the draw)")
    if plan.count < 1:
        raise DrawError(f"plan {plan.plan_id}: count must be at least 1, got {plan.count}")
    if plan.inspectors_per_visit < 1:
        raise DrawError(f"plan {plan.plan_id}: inspectors_per_visit must be at least 1, "
                        f"got {plan.inspectors_per_visit}")
    agencies = tuple(sorted(set(plan.agencies)))
    if not agencies:
        raise DrawError(f"plan {plan.plan_id}: names no agency")
    ordered = tuple(sorted(candidates, key=lambda c: c.credit_code))
    for before, after in itertools.pairwise(ordered):
        if before.credit_code == after.credit_code:
            raise DrawError(f"enterprise {after.credit_code} is a candidate twice")
    for candidate in ordered:
        if candidate.warning not in WARNINGS or candidate.grade not in GRADES:
            raise DrawError(f"enterprise {candidate.credit_code}: unknown warning level "
                            f"{candidate.warning!r} or grade {candidate.grade!r}")
    staff = tuple(sorted(roster, key=lambda i: i.id))
    for first, second in itertools.pairwise(staff):
        if first.id == second.id:
            raise DrawError(f"inspector {second.id} is on the roster twice")
    if not any(i.agency in agencies for i in staff):
        raise DrawError(f"plan {plan.plan_id}: the roster has no inspector of "
                        f"{', '.join(agencies)}")
    checked_plan = DrawPlan(plan.plan_id, agencies, plan.count, plan.inspectors_per_visit)
    return _Checked(checked_plan, ordered, staff)


def _digest(value: Any) -> str:
    return hashlib.sha256(_compact(value)).hexdigest()


def _compact(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _inputs(checked: _Checked, seed: str, weights: DrawWeights) -> dict[str, Any]:
    plan = checked.plan
    return {
        "format": FORMAT,
        "plan": {"plan_id": plan.plan_id, "agencies": list(plan.agencies),
                 "count": plan.count, "inspectors_per_visit": plan.inspectors_per_visit},
        "seed": seed,
        "weights": weights.to_json(),
        "candidates": [[c.credit_code, c.registering_agency, c.warning, c.grade]
                       for c in checked.candidates],
        "roster": [{"id": i.id, "name": i.name, "agency": i.agency, "unit": i.unit,
                    "avoid": sorted(i.avoid)} for i in checked.roster],
    }


def canonical_inputs(plan: DrawPlan, seed: str, candidates: Sequence[Candidate],
                     roster: Sequence[Inspector], weights: DrawWeights) -> bytes:
    """Everything a draw depends on, as compact UTF-8 JSON with sorted keys (candidates
    by credit code, roster by id): what a platform stores to run the draw again."""
    return _compact(_inputs(_check(plan, seed, candidates, roster), seed, weights))


def draw(plan: DrawPlan, seed: str, candidates: Sequence[Candidate],
         roster: Sequence[Inspector], weights: DrawWeights) -> Draw:
    """The draw of ``plan`` with ``seed`` (see the module's docstring for the rules);
    ``DrawError`` when the inputs are inconsistent or a visit cannot be staffed."""
    return draw_with_inputs(plan, seed, candidates, roster, weights)[0]


def draw_with_inputs(plan: DrawPlan, seed: str, candidates: Sequence[Candidate],
                     roster: Sequence[Inspector], weights: DrawWeights) -> tuple[Draw, bytes]:
    """``draw`` and ``canonical_inputs`` at once, the inputs serialized only once: what
    a platform stores with a draw (a few MB for 100,000 candidates)."""
    with collector_paused():
        checked = _check(plan, seed, candidates, roster)
        data = _compact(_inputs(checked, seed, weights))
        return _draw(checked, seed, weights, hashlib.sha256(data).hexdigest()), data


def _draw(checked: _Checked, seed: str, weights: DrawWeights, inputs_digest: str) -> Draw:
    plan = checked.plan
    units = inclusion_units(checked.candidates, plan.count, weights)
    pid = plan.plan_id
    start = int.from_bytes(order_key(pid, seed, "start")[:6], "big")  # uniform in [0, SCALE)
    ordered = sorted(range(len(checked.candidates)),
                     key=lambda i: order_key(pid, seed, checked.candidates[i].credit_code))
    drawn: list[int] = []
    point, line = start, 0
    for index in ordered:  # systematic PPS along the seeded order
        share = units.shares[index]
        if share == 0:
            continue
        line += share
        if point < line:  # a segment is never longer than SCALE: one point at most
            drawn.append(index)
            point += SCALE
    teams = assign_inspectors(plan, seed, [checked.candidates[i] for i in drawn],
                              checked.roster)
    items = sorted((DrawnItem(checked.candidates[i].credit_code, team, units.mandatory[i],
                              units.shares[i] / SCALE)
                    for i, team in zip(drawn, teams, strict=True)),
                   key=lambda item: item.credit_code)
    digest = outputs_digest(inputs_digest, items, units.over_count, units.short_count)
    return Draw(tuple(items), digest, inputs_digest, units.over_count, units.short_count)


def outputs_digest(inputs_digest: str, items: Sequence[DrawnItem], over_count: int = 0,
                   short_count: int = 0) -> str:
    """``Draw.digest`` of a draw with these inputs and items: a verifier computes it
    over the items as stored and compares it with the digest of the draw made again
    (``draw_from_canonical``) - an item changed after the draw no longer matches."""
    return _digest({
        "inputs_digest": inputs_digest,
        "items": [[i.credit_code, list(i.inspectors), i.mandatory, i.probability]
                  for i in sorted(items, key=lambda item: item.credit_code)],
        "over_count": over_count,
        "short_count": short_count,
    })


def draw_from_canonical(data: bytes) -> Draw:
    """The draw made again from ``canonical_inputs``' bytes (``gateway draw verify``):
    compare its ``digest`` with the one stored. ``DrawError`` when the bytes are not
    canonical inputs of this format."""
    with collector_paused():
        return draw(*_parsed(data))


def _parsed(data: bytes) -> tuple[DrawPlan, str, list[Candidate], list[Inspector], DrawWeights]:
    try:
        parsed = json.loads(data.decode("utf-8"))
        if not isinstance(parsed, Mapping) or parsed.get("format") != FORMAT:
            raise DrawError(f"not canonical draw inputs of format {FORMAT}")
        raw_plan = parsed["plan"]
        plan = DrawPlan(str(raw_plan["plan_id"]), tuple(str(a) for a in raw_plan["agencies"]),
                        int(raw_plan["count"]), int(raw_plan["inspectors_per_visit"]))
        candidates = [Candidate(str(code), None if agency is None else str(agency),
                                str(warning), str(grade))
                      for code, agency, warning, grade in parsed["candidates"]]
        roster = [Inspector(str(i["id"]), str(i["name"]), str(i["agency"]), str(i["unit"]),
                            frozenset(str(c) for c in i["avoid"])) for i in parsed["roster"]]
        weights = DrawWeights.from_json(parsed["weights"])
        seed = str(parsed["seed"])
    except DrawError:
        raise
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise DrawError(f"the stored draw inputs cannot be read ({type(error).__name__}: "
                        f"{error}); they are not canonical inputs of format {FORMAT}") from None
    return plan, seed, candidates, roster, weights
