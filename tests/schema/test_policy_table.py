"""The default policy, every case: role x purpose x openness x owner x object, against
the real files in policies/. The expected answers are the README's rules written
out independently of Casbin."""

from __future__ import annotations

import itertools

import pytest

from connectors.standard import Openness
from gateway.config import PURPOSES, ROLES
from gateway.policy_files import DEFAULT_POLICY_DIR, load_policy
from schema.access import GRAPH_TYPES, Clearance

APPROVAL_PURPOSES = {"LICENCE_APPROVAL", "PROCUREMENT", "BIDDING", "SUBSIDY", "HONOUR"}
APPROVAL_TYPES = {"Enterprise", "Licence", "Penalty", "Anomaly", "SeriousViolation",
                  "JudgmentDefault"}
OBJECTS = [*GRAPH_TYPES.values(), "Penalty.amount", "Penalty.personId", "Person.idNumber",
           "Person.name", "Enterprise.legalRepId", "Inspection.planId"]
CALLER_AGENCY = "TAX"
OWNERS = ["TAX", "SAMR"]


def expected(role: str, purpose: str, obj: str, openness: Openness, owner: str) -> bool:
    own = owner == CALLER_AGENCY
    graph_type = obj.split(".")[0]
    if role == "admin":
        return True
    if openness is Openness.OPEN:
        return not (role == "approval" and obj == "Person.idNumber")
    if role in ("department", "supervisor"):  # a supervisor sees what its departments see
        return own or (openness is Openness.CONDITIONAL and purpose != "")
    if role == "approval":
        return (openness is Openness.CONDITIONAL and purpose in APPROVAL_PURPOSES
                and graph_type in APPROVAL_TYPES)
    return False  # public, auditor: OPEN only


CASES = list(itertools.product(ROLES, ["", *PURPOSES], OBJECTS, list(Openness), OWNERS))


def test_the_table_covers_every_case() -> None:
    assert len(CASES) == len(ROLES) * (1 + len(PURPOSES)) * len(OBJECTS) * 3 * 2


@pytest.mark.parametrize("role", ROLES)
def test_default_policy(role: str) -> None:
    policy = load_policy(DEFAULT_POLICY_DIR)
    wrong = []
    for case_role, purpose, obj, openness, owner in CASES:
        if case_role != role:
            continue
        agency = CALLER_AGENCY if role in ("department", "supervisor") else ""
        clearance = Clearance(role, agency, purpose)
        got = policy.allowed(clearance, obj, openness, owner)
        want = expected(role, purpose, obj, openness, owner)
        if got != want:
            wrong.append((purpose, obj, openness.value, owner, got))
    assert wrong == []


@pytest.mark.parametrize(
    ("clearance", "record_openness", "owner", "hidden"),
    [
        # the public never sees a field classed above OPEN, even on an OPEN record
        (Clearance("public"), Openness.OPEN, "SAMR", {"id_number", "enterprises"}),
        # a department sees its own agency's NOT_OPEN fields
        (Clearance("department", "SAMR"), Openness.OPEN, "SAMR", set()),
        # ... but not another agency's NOT_OPEN field, even with a purpose
        (Clearance("department", "TAX", "INSPECTION"), Openness.OPEN, "SAMR", {"id_number"}),
        # without a purpose, another agency's CONDITIONAL fields are hidden too
        (Clearance("department", "TAX"), Openness.OPEN, "SAMR", {"id_number", "enterprises"}),
        # approval systems never see ID numbers (explicit deny)
        (Clearance("approval", "", "LICENCE_APPROVAL"), Openness.OPEN, "SAMR",
         {"id_number", "enterprises"}),
        (Clearance("admin"), Openness.NOT_OPEN, "SAMR", set()),
    ],
)
def test_effective_openness_of_person_fields(
    clearance: Clearance, record_openness: Openness, owner: str, hidden: set[str]
) -> None:
    from connectors.records import Record

    policy = load_policy(DEFAULT_POLICY_DIR)
    record = Record("person", owner, "P-1", None, record_openness, None,
                    {"person_id": "P1", "name": "张三", "id_number": "1101"})
    view = policy.view(clearance)
    assert view.sees(record)
    assert set(view.hidden(record)) == hidden


def test_a_record_is_hidden_as_a_whole_when_its_label_is_too_strict() -> None:
    from connectors.records import Record

    policy = load_policy(DEFAULT_POLICY_DIR)
    record = Record("penalty", "SAMR", "X", "914403001922038216", Openness.CONDITIONAL, None, {})
    assert not policy.view(Clearance("public")).sees(record)
    assert not policy.view(Clearance("department", "TAX")).sees(record)
    assert policy.view(Clearance("department", "TAX", "INSPECTION")).sees(record)
    # effective openness = stricter of record and field: a CONDITIONAL record's OPEN
    # field is CONDITIONAL
    assert policy.view(Clearance("department", "TAX", "INSPECTION")).hidden(record) == frozenset()


@pytest.mark.parametrize("role", ROLES)
def test_restriction_decisions_are_released_to_approval_purposes_and_admins(role: str) -> None:
    policy = load_policy(DEFAULT_POLICY_DIR)
    for purpose in ["", *PURPOSES]:
        clearance = Clearance(role, "TAX" if role == "department" else "", purpose)
        got = policy.allowed(clearance, "RestrictionDecision", Openness.NOT_OPEN, "-")
        assert got == (role == "admin" or (role == "approval" and purpose in APPROVAL_PURPOSES))
