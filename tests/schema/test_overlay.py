"""The platform's record overlay (schema.overlay): amendments applied before the
caller's view (a hidden record stays hidden, an added record follows its openness
label), "until the source agrees", and the lifecycle columns it writes read by the
rules with asOf semantics."""

from __future__ import annotations

import datetime as dt

from connectors.records import Record
from connectors.standard import Openness, RiskLevel
from schema.access import Clearance
from schema.overlay import Amendment, Overlay
from schema.rules.lifecycle import counted, in_force
from schema.rules.model import Lifecycle

CODE = "91110102MA0000001N"
DAY = dt.date(2026, 11, 20)


def penalty(record_id: str, agency: str = "REG", openness: Openness = Openness.OPEN,
            **values: object) -> Record:
    base: dict[str, object] = {"person_id": None, "decision_no": "1", "violation_type": "x",
                               "penalty_type": "FINE", "content": "c", "amount": 5000.0,
                               "decided_on": dt.date(2026, 3, 1), "published_on": None,
                               "repaired_on": None}
    base.update(values)
    return Record("penalty", agency, record_id, CODE, openness, RiskLevel.MEDIUM,
                  base)  # type: ignore[arg-type]


def test_amendments_write_the_lifecycle_columns_and_the_rules_read_them_from_their_day(
) -> None:
    overlay = Overlay(3, {("REG", "penalty", "P-1"): Amendment(withdrawn_on=DAY,
                                                               objection="UPHELD"),
                          ("REG", "penalty", "P-2"): Amendment(repaired_on=DAY)})
    withdrawn, repaired, untouched = overlay.over(
        "penalty", "credit_code", CODE, [penalty("P-1"), penalty("P-2"), penalty("P-3")])
    assert withdrawn.values["withdrawn_on"] == DAY and withdrawn.values["objection"] == "UPHELD"
    assert repaired.values["repaired_on"] == DAY
    assert untouched == penalty("P-3")
    rules = Lifecycle()
    for record in (withdrawn, repaired):
        assert counted(record, DAY - dt.timedelta(days=1), rules)  # asOf before: old answer
        assert not counted(record, DAY, rules) and not in_force(record, DAY)
    assert counted(untouched, DAY, rules)


def test_until_the_source_agrees_its_own_values_win() -> None:
    source_day = dt.date(2026, 10, 1)
    overlay = Overlay(1, {("REG", "penalty", "P-1"): Amendment(repaired_on=DAY),
                          ("REG", "penalty", "P-2"): Amendment(withdrawn_on=DAY)},
                      added=[penalty("P-9", agency="EPB")])
    repaired_at_source = penalty("P-1", repaired_on=source_day)
    p1, p2 = overlay.apply("REG", "penalty",
                           [repaired_at_source, penalty("P-2", repaired_on=source_day)])
    assert p1.values["repaired_on"] == source_day  # the source's repair, not the overlay's
    assert "withdrawn_on" not in p2.values  # the source ended it itself
    # an added record is shown until the owner's source returns one with its id
    assert [r.record_id for r in overlay.over("penalty", "credit_code", CODE, [])] == ["P-9"]
    from_source = penalty("P-9", agency="EPB", content="from the source")
    assert overlay.over("penalty", "credit_code", CODE, [from_source]) == [from_source]
    # a record the overlay knows nothing of passes untouched, without copying
    buckets = [[penalty("P-5")]]
    assert Overlay(2).over_many("penalty", "credit_code", [CODE], buckets) is buckets


def test_a_disputed_record_counts_unless_the_lifecycle_says_otherwise() -> None:
    overlay = Overlay(1, {("REG", "penalty", "P-1"): Amendment(objection="FILED",
                                                               disputed_on=DAY)})
    [disputed] = overlay.over("penalty", "credit_code", CODE, [penalty("P-1")])
    assert disputed.values["disputed"] == DAY
    assert counted(disputed, DAY, Lifecycle())
    strict = Lifecycle(disputed_records_count=False)
    assert not counted(disputed, DAY, strict)
    assert counted(disputed, DAY - dt.timedelta(days=1), strict)  # before it was filed


def test_the_overlay_is_applied_before_the_view_so_hidden_records_stay_hidden() -> None:
    from gateway.policy_files import DEFAULT_POLICY_DIR, load_policy

    policy = load_policy(DEFAULT_POLICY_DIR)
    hidden_added = penalty("P-8", agency="EPB", openness=Openness.NOT_OPEN)
    overlay = Overlay(1, {("EPB", "penalty", "P-7"): Amendment(objection="FILED",
                                                               disputed_on=DAY)},
                      added=[hidden_added])
    conditional = penalty("P-7", agency="EPB", openness=Openness.CONDITIONAL)
    amended = overlay.over("penalty", "credit_code", CODE, [conditional])
    assert [r.record_id for r in amended] == ["P-7", "P-8"]
    public = policy.view(Clearance("public"))
    enterprise = policy.view(Clearance("enterprise", credit_code=CODE))
    owner = policy.view(Clearance("department", "EPB"))
    assert public.seen_all(amended) == [] and enterprise.seen_all(amended) == []
    assert [r.record_id for r in owner.seen_all(amended)] == ["P-7", "P-8"]
    # what the overlay adds is classed like any field: the public sees the objection
    # of a record it may see, and nothing of one it may not
    assert "objection" not in policy.hidden_fields(Clearance("public"), "Penalty",
                                                   Openness.OPEN, "EPB")
