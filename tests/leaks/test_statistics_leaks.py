"""Statistics over the canary district (tests/leaks/canary_district.py): no key of any
answer - districts, industries, agencies, months, levels - is a canary the caller's
clearance does not cover, for every role that may ask, every grouping and several
filters; the public never meets a hidden date (its month would be 1899-12)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from canary_district import SENTINEL_DATE
from canary_world import World, canary_world
from strawberry.utils.str_converters import to_camel_case

from connectors.standard import Openness
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from schema.access import GRAPH_TYPES, AccessPolicy, Clearance, stricter

POLICY = PolicyStore(DEFAULT_POLICY_DIR)
CANARY = re.compile(r"CNRY-[A-Z]+(?:-[A-Z]{2})?-[0-9]+")
CLEARANCES = [Clearance("public"), Clearance("approval", "", "LICENCE_APPROVAL"),
              Clearance("department", "SAMR", "STATISTICS"),
              Clearance("department", "TAX", "STATISTICS"),
              Clearance("department", "COURT", "STATISTICS"),
              Clearance("auditor", "", "STATISTICS")]
GROUPINGS = [["DISTRICT", "INDUSTRY"], ["WARNING_LEVEL", "CREDIT_GRADE", "AGENCY"],
             ["RECORD_TYPE", "MONTH"], ["INDUSTRY", "AGENCY", "MONTH"], []]
FILTERS = [{}, {"hasRecordsFrom": "COURT"}, {"nameContains": "公司"}, {"warningLevel": "RED"}]
QUESTIONS = """query($g: [StatisticsDimension!]!, $f: EnterpriseFilter) {
  statistics(groupBy: $g, filter: $f) { total cells { keys count } }
  statisticsTrend(groupBy: $g, filter: $f, months: 2) { total cells { keys count } } }"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with canary_world(tmp_path_factory.mktemp("canaries"), POLICY) as found:
        yield found


def may_read(policy: AccessPolicy, clearance: Clearance,
             where: tuple[str, str, str, str]) -> bool:
    """May ``clearance`` read the value planted at ``where`` (agency, record type,
    column, record label)? Asked of the policy's decisions, not of the view."""
    agency, record_type, column, label = where
    openness = Openness(label) if label in Openness.__members__ else Openness.NOT_OPEN
    graph_type = GRAPH_TYPES[record_type]
    if not policy.allowed(clearance, graph_type, openness, agency):
        return False
    level = policy.classes.fields(graph_type).get(column, Openness.OPEN)
    return policy.allowed(clearance, f"{graph_type}.{to_camel_case(column)}",
                          stricter(openness, level), agency)


def test_statistics_show_no_canary_a_caller_may_not_read(world: World) -> None:
    policy = POLICY.current()
    canaries = world.facts["canaries"]
    answered = 0
    for clearance in CLEARANCES:
        for group_by in GROUPINGS:
            for condition in FILTERS:
                response = world.execute(clearance, QUESTIONS, {"g": group_by, "f": condition})
                payload = json.loads(response)
                assert payload["errors"] == [], (clearance, group_by, payload["errors"])
                answered += 1
                found = set(CANARY.findall(response))
                bad = sorted(c for c in found if c.startswith("CNRY-PID-")
                             or not may_read(policy, clearance, canaries[c]))
                assert bad == [], (clearance, group_by, condition, bad[:5])
                if clearance.role == "public":  # hidden dates are 1899-12-31
                    assert SENTINEL_DATE[:7] not in response, (group_by, condition)
    assert answered == len(CLEARANCES) * len(GROUPINGS) * len(FILTERS)


def test_the_canaries_are_in_the_statistics_of_those_who_may_read_them(world: World) -> None:
    """The oracle: the registry's own department counts the hidden enterprises, and
    its keys show canaries it may read (so the test above could see a leak)."""
    samr = Clearance("department", "SAMR", "STATISTICS")
    public = Clearance("public")

    def total(clearance: Clearance) -> int:
        answer = json.loads(world.execute(clearance, QUESTIONS, {"g": [], "f": {}}))
        count: int = answer["data"]["statistics"]["total"]
        return count

    assert total(samr) >= total(public) + len(world.facts["hidden_codes"]) > total(public)
    response = world.execute(samr, QUESTIONS, {"g": ["DISTRICT", "INDUSTRY"], "f": {}})
    assert CANARY.search(response) is not None
