"""The double-random draw (schema.inspection_draw): risk-weighted, reproducible, fair.

- Inclusion probabilities: over many seeds each enterprise is drawn about as often
  as its probability says - per risk class within 4 binomial sigmas - with the
  probabilities worked out by hand here from policies/inspections.yaml's rule
  (proportional to the weight, capped at 1, adding up to the count).
- The special list (D grade, RED) is always drawn; the count is exact.
- Same inputs -> same draw, whatever their order; another seed -> another draw.
- Inspectors: never the registering agency's unit nor one bound to avoid the
  enterprise, never twice in a visit, one per agency in a cross-agency visit, and
  over 1,000 draws the loads of an agency's inspectors free to visit every drawn
  enterprise never differ by more than one.
- The canonical inputs give the same draw again; a changed item or input is seen in
  the digests.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.rules_files import RulesError, load_rules
from policies import policy_dir
from schema.inspection_draw import (
    Candidate,
    Draw,
    DrawError,
    DrawnItem,
    DrawPlan,
    Inspector,
    canonical_inputs,
    draw,
    draw_from_canonical,
    draw_with_inputs,
    outputs_digest,
)
from schema.inspection_weights import SCALE
from schema.rules.inspections import (
    GRADES,
    WARNINGS,
    DrawWeights,
    InspectionsError,
    load_inspections,
    parse_inspections,
)

WEIGHTS = load_inspections(policy_dir())
UNITS = ("U-XICHENG", "U-DONGCHENG", "U-HAIDIAN")


def _code(number: int) -> str:
    return f"91110102MA{number:07d}X"


def _roster(agency: str = "SAMR", size: int = 8, *, avoid: dict[int, set[str]] | None = None,
            prefix: str = "I") -> list[Inspector]:
    """``size`` inspectors of ``agency``, their units in turn the three of UNITS and
    an office of their own."""
    avoid = avoid or {}
    units = (*UNITS, "U-OFFICE")
    return [Inspector(f"{prefix}{n:02d}", f"inspector {n}", agency, units[n % len(units)],
                      frozenset(avoid.get(n, set()))) for n in range(size)]


def _mix(counts: dict[tuple[str, str], int]) -> list[Candidate]:
    """Candidates of each (warning, grade) in ``counts``, registered in turn with the
    units of UNITS."""
    found, number = [], 0
    for (warning, grade), count in counts.items():
        for _ in range(count):
            found.append(Candidate(_code(number), UNITS[number % 3], warning, grade))
            number += 1
    return found


# --- inclusion probabilities ---------------------------------------------------------------

# 100 NONE/A (weight 0.05), 20 YELLOW/A (0.2), 10 ORANGE/A (0.5), 5 ORANGE/C (0.5 x 2),
# 3 NONE/D and 2 RED/A on the special list.
MIX = {("NONE", "A"): 100, ("YELLOW", "A"): 20, ("ORANGE", "A"): 10, ("ORANGE", "C"): 5,
       ("NONE", "D"): 3, ("RED", "A"): 2}

# count 20: 5 always drawn, 15 among the rest, whose weights add up to
# 100 x 0.05 + 20 x 0.2 + 10 x 0.5 + 5 x 1.0 = 19: pi = 15 w / 19, none above 1.
EXPECTED_20 = {("NONE", "A"): Fraction(15 * 5, 19 * 100),
               ("YELLOW", "A"): Fraction(15 * 2, 19 * 10),
               ("ORANGE", "A"): Fraction(15 * 5, 19 * 10), ("ORANGE", "C"): Fraction(15, 19),
               ("NONE", "D"): Fraction(1), ("RED", "A"): Fraction(1)}
# count 40: 35 among the rest; ORANGE/C would be 35/19 > 1: capped, 30 left over
# weight 14; ORANGE/A would be 30 x 0.5 / 14 > 1: capped, 20 left over weight 9.
EXPECTED_40 = {("NONE", "A"): Fraction(20 * 5, 9 * 100),
               ("YELLOW", "A"): Fraction(20 * 2, 9 * 10),
               ("ORANGE", "A"): Fraction(1), ("ORANGE", "C"): Fraction(1),
               ("NONE", "D"): Fraction(1), ("RED", "A"): Fraction(1)}


@pytest.mark.parametrize(("count", "expected"), [(20, EXPECTED_20), (40, EXPECTED_40)])
def test_risk_weights_hold_within_statistical_tolerance(
        count: int, expected: dict[tuple[str, str], Fraction]) -> None:
    candidates = _mix(MIX)
    klass = {c.credit_code: (c.warning, c.grade) for c in candidates}
    plan = DrawPlan("P-STAT", ("SAMR",), count, 1)
    roster = _roster(size=4)
    seeds = 2000
    drawn: Counter[tuple[str, str]] = Counter()
    per_enterprise: Counter[str] = Counter()
    for seed in range(seeds):
        result = draw(plan, f"seed-{seed}", candidates, roster, WEIGHTS)
        assert len(result.items) == count  # exactly the count, every time
        for item in result.items:
            drawn[klass[item.credit_code]] += 1
            per_enterprise[item.credit_code] += 1
            pi = expected[klass[item.credit_code]]
            assert abs(Fraction(item.probability) - pi) < Fraction(2, SCALE)
            assert item.mandatory == (pi == 1 and klass[item.credit_code] in (
                ("NONE", "D"), ("RED", "A")))
    for key, pi in expected.items():
        trials = seeds * MIX[key]
        frequency = drawn[key] / trials
        sigma = math.sqrt(float(pi * (1 - pi)) / trials)
        assert abs(frequency - float(pi)) <= 4 * sigma + 1e-12, (key, frequency, float(pi))
    # one enterprise at a time: its draws over the seeds are independent
    for code, key in list(klass.items())[::7]:
        chance = float(expected[key])
        sigma = math.sqrt(chance * (1 - chance) / seeds)
        assert abs(per_enterprise[code] / seeds - chance) <= 4 * sigma + 1e-12, (code, key)


def test_a_rate_of_zero_is_never_drawn_and_a_short_count_is_said() -> None:
    weights = dataclasses.replace(WEIGHTS, warning_rates={**WEIGHTS.warning_rates,
                                                          "NONE": Decimal(0)})
    candidates = _mix({("NONE", "A"): 50, ("YELLOW", "B"): 4, ("NONE", "D"): 1})
    result = draw(DrawPlan("P-ZERO", ("SAMR",), 10, 1), "s", candidates, _roster(), weights)
    assert {c.warning for c in candidates if c.credit_code in
            {i.credit_code for i in result.items}} == {"YELLOW", "NONE"}
    assert len(result.items) == 5 and result.short_count == 5 and result.over_count == 0
    assert [i.mandatory for i in result.items].count(True) == 1


def test_fewer_candidates_than_the_count_are_all_drawn() -> None:
    candidates = _mix({("NONE", "A"): 3})
    result = draw(DrawPlan("P-FEW", ("SAMR",), 10, 2), "s", candidates, _roster(), WEIGHTS)
    assert [i.credit_code for i in result.items] == [c.credit_code for c in candidates]
    assert result.short_count == 7


# --- the special list ---------------------------------------------------------------------

_CLASSES = st.tuples(st.sampled_from(WARNINGS), st.sampled_from(GRADES))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(classes=st.lists(_CLASSES, min_size=1, max_size=60), count=st.integers(1, 30),
       seed=st.text(min_size=1, max_size=12))
def test_a_d_grade_enterprise_is_always_drawn(classes: list[tuple[str, str]], count: int,
                                              seed: str) -> None:
    candidates = [Candidate(_code(n), UNITS[n % 3], warning, grade)
                  for n, (warning, grade) in enumerate(classes)]
    result = draw(DrawPlan("P-D", ("SAMR",), count, 2), seed, candidates, _roster(), WEIGHTS)
    special = {c.credit_code for c in candidates if c.grade == "D" or c.warning == "RED"}
    drawn = {i.credit_code: i for i in result.items}
    assert special <= set(drawn)
    assert all(drawn[code].mandatory and drawn[code].probability == 1.0 for code in special)
    assert len(result.items) == max(min(count, len(candidates)), len(special))
    assert result.over_count == max(0, len(special) - count)
    assert result.short_count == max(0, count - len(candidates))


# --- reproducible --------------------------------------------------------------------------

def test_same_seed_same_draw_whatever_the_order_other_seed_other_draw() -> None:
    candidates = _mix(MIX)
    roster = _roster(size=10)
    plan = DrawPlan("P-SAME", ("SAMR",), 20, 2)
    first = draw(plan, "2026-11-01 抽签", candidates, roster, WEIGHTS)
    shuffler = random.Random(7)
    for _ in range(10):
        shuffled, staff = candidates[:], roster[:]
        shuffler.shuffle(shuffled)
        shuffler.shuffle(staff)
        again = draw(plan, "2026-11-01 抽签", shuffled, staff, WEIGHTS)
        assert again == first
        assert canonical_inputs(plan, "2026-11-01 抽签", shuffled, staff, WEIGHTS) == \
            canonical_inputs(plan, "2026-11-01 抽签", candidates, roster, WEIGHTS)
    others = [draw(plan, f"other-{n}", candidates, roster, WEIGHTS) for n in range(20)]
    for other in others:
        assert {i.credit_code for i in other.items} != {i.credit_code for i in first.items}
        assert other.digest != first.digest
    # the plan is part of every key: another plan with the same seed draws otherwise
    renamed = draw(dataclasses.replace(plan, plan_id="P-OTHER"), "2026-11-01 抽签",
                   candidates, roster, WEIGHTS)
    assert {i.credit_code for i in renamed.items} != {i.credit_code for i in first.items}


def test_the_canonical_inputs_give_the_draw_again_and_tampering_shows() -> None:
    candidates = _mix(MIX)
    roster = _roster(size=10, avoid={3: {_code(0), _code(1)}})
    plan = DrawPlan("P-VERIFY", ("SAMR",), 25, 2)
    made = draw(plan, "公开", candidates, roster, WEIGHTS)
    stored = canonical_inputs(plan, "公开", candidates, roster, WEIGHTS)
    document = json.loads(stored)
    assert document["format"] == "inspection-draw/1"
    assert stored == json.dumps(document, sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False).encode()
    again = draw_from_canonical(stored)
    assert again == made
    assert draw_with_inputs(plan, "公开", candidates, roster, WEIGHTS) == (made, stored)
    assert outputs_digest(made.inputs_digest, made.items) == made.digest

    # an item changed where the draw is stored: its digest no longer matches
    first = made.items[0]
    swapped = dataclasses.replace(first, inspectors=tuple(reversed(first.inspectors)))
    other = next(c.credit_code for c in candidates
                 if c.credit_code not in {i.credit_code for i in made.items})
    for tampered in ((swapped, *made.items[1:]),
                     (dataclasses.replace(first, credit_code=other), *made.items[1:]),
                     made.items[1:]):
        assert outputs_digest(made.inputs_digest, tampered) != again.digest
    # an input changed: another inputs digest (and, here, another draw)
    document["candidates"][0][2] = "RED"
    changed = draw_from_canonical(json.dumps(document).encode())
    assert changed.inputs_digest != made.inputs_digest
    assert changed.digest != made.digest


@pytest.mark.parametrize("data", [b"not json", b'{"format": "inspection-draw/0"}',
                                  b'{"format": "inspection-draw/1", "plan": {}}', b"\xff"])
def test_bytes_that_are_not_canonical_inputs_are_refused(data: bytes) -> None:
    with pytest.raises(DrawError, match="inspection-draw/1"):
        draw_from_canonical(data)


# --- inspectors ----------------------------------------------------------------------------

def _loads(result: Draw) -> Counter[str]:
    return Counter(inspector for item in result.items for inspector in item.inspectors)


def test_roster_avoidance_and_even_load_over_1000_draws() -> None:
    candidates = _mix({("NONE", "A"): 40, ("YELLOW", "B"): 10, ("ORANGE", "C"): 6,
                       ("NONE", "D"): 2})
    rng = random.Random(15)
    codes = [c.credit_code for c in candidates]
    # a few inspectors bound to avoid a few enterprises (回避)
    roster = _roster(size=12, avoid={n: set(rng.sample(codes, 3)) for n in (1, 5, 9)})
    by_id = {i.id: i for i in roster}
    registering = {c.credit_code: c.registering_agency for c in candidates}
    plan = DrawPlan("P-LOAD", ("SAMR",), 16, 2)
    spreads, free_counts, total = Counter[int](), [], Counter[str]()
    for seed in range(1000):
        result = draw(plan, f"seed-{seed}", candidates, roster, WEIGHTS)
        for item in result.items:
            assert len(item.inspectors) == 2 == len(set(item.inspectors))
            for inspector in map(by_id.__getitem__, item.inspectors):
                assert inspector.unit != registering[item.credit_code]
                assert item.credit_code not in inspector.avoid
        # inspectors free to visit every drawn enterprise: their loads are even
        free = [i.id for i in roster
                if all(i.unit != registering[item.credit_code]
                       and item.credit_code not in i.avoid for item in result.items)]
        loads = _loads(result)
        total.update(loads)
        spread = max(loads[i] for i in free) - min(loads[i] for i in free)
        assert spread <= 1, (seed, {i: loads[i] for i in free})
        spreads[spread] += 1
        free_counts.append(len(free))
    assert min(free_counts) >= 2 and sum(free_counts) / 1000 >= 3
    assert spreads[1] > 0 and spreads[0] > 0
    # over all 1,000 draws every inspector - those set aside now and then too - has
    # within 5 % of the average number of visits
    average = sum(total.values()) / len(roster)
    assert sum(total.values()) == 1000 * 16 * 2
    assert all(abs(total[i.id] - average) <= 0.05 * average for i in roster), total


@settings(max_examples=100, deadline=None, derandomize=True)
@given(size=st.integers(2, 15), count=st.integers(1, 40), per_visit=st.integers(1, 2),
       seed=st.text(min_size=1, max_size=8))
def test_without_avoidance_loads_differ_by_at_most_one(size: int, count: int, per_visit: int,
                                                        seed: str) -> None:
    candidates = [Candidate(_code(n), "U-ELSEWHERE", "NONE", "A") for n in range(50)]
    result = draw(DrawPlan("P-EVEN", ("SAMR",), count, per_visit), seed, candidates,
                  _roster(size=size), WEIGHTS)
    loads = _loads(result)
    every = [loads[f"I{n:02d}"] for n in range(size)]
    assert max(every) - min(every) <= 1
    assert sum(every) == per_visit * count


def test_a_cross_agency_visit_takes_one_inspector_of_each_agency() -> None:
    candidates = _mix({("NONE", "A"): 30, ("ORANGE", "B"): 5})
    roster = [*_roster("SAMR", 6), *_roster("FIRE", 3, prefix="F"),
              *_roster("EPB", 4, prefix="E")]
    agency = {i.id: i.agency for i in roster}
    both = draw(DrawPlan("P-JOINT", ("SAMR", "FIRE", "EPB"), 12, 3), "s", candidates, roster,
                WEIGHTS)
    for item in both.items:
        assert sorted(agency[i] for i in item.inspectors) == ["EPB", "FIRE", "SAMR"]
    for name in ("SAMR", "FIRE", "EPB"):  # even within each agency
        loads = [_loads(both)[i.id] for i in roster if i.agency == name
                 and all(i.unit != c.registering_agency for c in candidates
                         if c.credit_code in {x.credit_code for x in both.items})]
        assert not loads or max(loads) - min(loads) <= 1
    # fewer places than agencies: distinct agencies
    two = draw(DrawPlan("P-JOINT2", ("SAMR", "FIRE", "EPB"), 12, 2), "s", candidates, roster,
               WEIGHTS)
    for item in two.items:
        assert len({agency[i] for i in item.inspectors}) == 2
    # inspectors of agencies outside the plan never come
    samr = draw(DrawPlan("P-SAMR", ("SAMR",), 12, 2), "s", candidates, roster, WEIGHTS)
    assert {agency[i] for item in samr.items for i in item.inspectors} == {"SAMR"}


# --- what cannot be drawn ------------------------------------------------------------------

def test_too_few_eligible_inspectors_name_the_enterprise_and_why() -> None:
    candidate = Candidate(_code(1), "U-XICHENG", "RED", "A")
    roster = [Inspector("A", "a", "SAMR", "U-XICHENG"),
              Inspector("B", "b", "SAMR", "U-OFFICE", frozenset({_code(1)})),
              Inspector("C", "c", "SAMR", "U-OFFICE")]
    with pytest.raises(DrawError) as raised:
        draw(DrawPlan("P1", ("SAMR",), 1, 2), "s", [candidate], roster, WEIGHTS)
    message = str(raised.value)
    assert _code(1) in message and "needs 2 inspectors, only 1" in message
    assert "1 in its registering agency 'U-XICHENG'" in message
    assert "1 bound to avoid it (回避)" in message and "1 eligible" in message


def test_a_cross_agency_visit_without_an_eligible_inspector_of_an_agency_fails() -> None:
    candidate = Candidate(_code(1), "U-FIRE-XC", "RED", "A")
    roster = [Inspector("S1", "s", "SAMR", "U-OFFICE"), Inspector("S2", "s", "SAMR", "U-2"),
              Inspector("F1", "f", "FIRE", "U-FIRE-XC")]
    with pytest.raises(DrawError, match=r"none of FIRE may visit it.*1 in its registering"):
        draw(DrawPlan("P1", ("FIRE", "SAMR"), 1, 2), "s", [candidate], roster, WEIGHTS)


@pytest.mark.parametrize(("plan", "seed", "candidates", "roster", "message"), [
    (DrawPlan("P1", ("SAMR",), 0), "s", [], _roster(), "count must be at least 1"),
    (DrawPlan("P1", ("SAMR",), 1, 0), "s", [], _roster(), "inspectors_per_visit"),
    (DrawPlan("P1", (), 1), "s", [], _roster(), "names no agency"),
    (DrawPlan("P|1", ("SAMR",), 1), "s", [], _roster(), "without '|'"),
    (DrawPlan("P1", ("SAMR",), 1), "", [], _roster(), "the seed is empty"),
    (DrawPlan("P1", ("TAX",), 1), "s", [], _roster(), "no inspector of TAX"),
    (DrawPlan("P1", ("SAMR",), 1), "s", [Candidate(_code(1), None, "NONE", "A")] * 2,
     _roster(), f"enterprise {_code(1)} is a candidate twice"),
    (DrawPlan("P1", ("SAMR",), 1), "s", [Candidate(_code(1), None, "PURPLE", "A")],
     _roster(), "unknown warning level 'PURPLE'"),
    (DrawPlan("P1", ("SAMR",), 1), "s", [], _roster() + _roster()[:1],
     "inspector I00 is on the roster twice"),
])
def test_inconsistent_inputs_are_refused_clearly(plan: DrawPlan, seed: str,
                                                 candidates: list[Candidate],
                                                 roster: list[Inspector], message: str) -> None:
    with pytest.raises(DrawError, match=message.replace("|", r"\|")):
        draw(plan, seed, candidates, roster, WEIGHTS)


def test_drawn_items_are_values() -> None:
    item = DrawnItem(_code(1), ("I01", "I02"), False, 0.25)
    assert dataclasses.replace(item) == item and hash(item) == hash(dataclasses.replace(item))


# --- policies/inspections.yaml -------------------------------------------------------------

def test_the_shipped_weights() -> None:
    assert WEIGHTS.weight("ORANGE", "C") == Fraction(1)
    assert WEIGHTS.weight("NONE", "A") == Fraction(1, 20)
    assert WEIGHTS.mandatory("NONE", "D") and WEIGHTS.mandatory("RED", "A")
    assert not WEIGHTS.mandatory("ORANGE", "C")
    assert DrawWeights.from_json(WEIGHTS.to_json()) == WEIGHTS


@pytest.mark.parametrize(("text", "problem"), [
    ("rates: [", "is not valid YAML"),
    ("- a list", "must be a mapping"),
    ("rates: {warning: {RED: 1, ORANGE: 0.5, YELLOW: 0.2}}", "rates.warning.NONE: missing"),
    ("rates: {warning: {RED: 1.5, ORANGE: 0.5, YELLOW: 0.2, NONE: 0}}",
     "rates.warning.RED: must be a number >= 0 and <= 1, got 1.5"),
    ("rates: {warning: {RED: 1, ORANGE: high, YELLOW: 0.2, NONE: 0}}",
     "rates.warning.ORANGE: must be a number"),
    ("rates: {warning: {RED: 1, ORANGE: 0.5, YELLOW: 0.2, NONE: 0, PURPLE: 1}}",
     "rates.warning.PURPLE: unknown"),
    ("rates: {warning: {RED: 1, ORANGE: 0.5, YELLOW: 0.2, NONE: 0}, grade_factor: {E: 1}}",
     "rates.grade_factor.E: unknown"),
    ("rates: {warning: {RED: 1, ORANGE: 0.5, YELLOW: 0.2, NONE: 0}, grade_factor: {A: -1}}",
     "rates.grade_factor.A: must be a number >= 0"),
    ("rates: {warning: {RED: 1, ORANGE: 0.5, YELLOW: 0.2, NONE: 0}}\n"
     "always_drawn: {grades: [E]}", "always_drawn.grades: must be a list of A, B, C, D"),
    ("rates: {warning: {RED: 1, ORANGE: 0.5, YELLOW: 0.2, NONE: 0}}\n"
     "always_drawn: {warnings: RED}", "always_drawn.warnings: must be a list of"),
    ("rates: {warning: {RED: 0, ORANGE: 0, YELLOW: 0, NONE: 0}}",
     "rates: every enterprise not always drawn has weight 0"),
    ("rates: {warning: {RED: 1, ORANGE: 0.5, YELLOW: 0.2, NONE: 0}}\nrate: 1",
     "rate: unknown key"),
])
def test_invalid_weights_name_the_file_and_field(tmp_path: Path, text: str,
                                                 problem: str) -> None:
    (tmp_path / "inspections.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InspectionsError) as raised:
        load_inspections(tmp_path)
    assert any(p.startswith(f"{tmp_path / 'inspections.yaml'}: ") and problem in p
               for p in raised.value.problems), raised.value.problems


def test_a_missing_file_or_document_is_named(tmp_path: Path) -> None:
    with pytest.raises(InspectionsError, match=r"inspections\.yaml: missing or unreadable"):
        load_inspections(tmp_path)
    with pytest.raises(InspectionsError,
                       match=r"inspections.yaml \(platform database\): missing"):
        load_inspections({"warnings.yaml": "..."})
    text = (policy_dir() / "inspections.yaml").read_text(encoding="utf-8")
    assert load_inspections({"inspections.yaml": text}) == WEIGHTS
    assert parse_inspections(text, "here") == WEIGHTS


def test_the_rules_carry_the_weights_and_a_bad_file_stops_them(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(policy_dir(), folder)
    assert load_rules(folder).inspections == WEIGHTS
    path = folder / "inspections.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("ORANGE: 0.5", "ORANGE: lots"),
                    encoding="utf-8")
    with pytest.raises(RulesError) as raised:
        load_rules(folder)
    assert raised.value.problems == [
        f"{path}: rates.warning.ORANGE: must be a number >= 0 and <= 1, got 'lots'"]


def test_a_database_seeded_before_inspections_yaml_reads_the_bundled_weights() -> None:
    documents = {name: (policy_dir() / name).read_text(encoding="utf-8")
                 for name in ("warnings.yaml", "grades.yaml", "restrictions.yaml")}
    assert load_rules(documents).inspections == WEIGHTS
    with pytest.raises(RulesError, match=r"inspections\.yaml \(platform database\): rates"):
        load_rules({**documents, "inspections.yaml": "rates: {}"})
