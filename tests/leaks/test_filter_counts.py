"""Filters, counts and sorts are computed from the caller's own view.

For callers of several clearances, under the default policy and under a stricter one
(``Enterprise.warning / creditGrade / industry`` and ``Penalty.decidedOn / amount``
CONDITIONAL): every ``enterprises(filter:)`` count and page equals what the caller's
own unfiltered view of the registry gives when filtered in Python; a filter on a
field the caller may never read is refused (``FILTER_NOT_ALLOWED``, no data); every
record list is ordered by the values the caller itself received, so a hidden date
sorts as no date.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from canary_world import World, canary_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from schema.access import Clearance

POLICY = PolicyStore(DEFAULT_POLICY_DIR)
ADMIN = Clearance("admin")
CLEARANCES = [
    Clearance("public"),
    Clearance("department", "SAMR"),
    Clearance("department", "SAMR", "INSPECTION"),
    Clearance("approval", "", "LICENCE_APPROVAL"),
    Clearance("auditor"),
]
AGENCIES = ("SAMR", "TAX", "EPB", "FDA", "COURT", "FIRE")
# The stricter policy: these fields CONDITIONAL in fields.yaml.
STRICTER = {"Enterprise": ("warning", "creditGrade", "industry"),
            "Penalty": ("decidedOn", "amount")}
# Filters that read a field the stricter policy makes CONDITIONAL, and the roles
# policy.csv never lets read a CONDITIONAL field of an enterprise (the public and the
# auditor; a department reads its own agency's - SAMR's registry - and the approval
# system reads Enterprise.* for an approval purpose).
STRICT_FILTERS = frozenset({"industry", "warningLevel", "creditGrade"})
NEVER_CONDITIONAL = frozenset({"public", "auditor"})

SCALARS = ("creditCode", "name", "industry", "districtCode", "status")
DERIVED = {"warning": "warning { level }", "creditGrade": "creditGrade { grade }"}
# Enterprise list field -> (record type, its main date: schema/gather.py PRIMARY_DATE)
LISTS = {
    "licences": ("Licence", "validFrom"),
    "penalties": ("Penalty", "decidedOn"),
    "anomalies": ("Anomaly", "listedOn"),
    "seriousViolations": ("SeriousViolation", "listedOn"),
    "judgmentDefaults": ("JudgmentDefault", "listedOn"),
    "inspections": ("Inspection", "inspectedOn"),
}
# filter argument -> the node value it reads
READS = {"nameContains": "name", "industry": "industry", "districtCode": "districtCode",
         "status": "status", "warningLevel": "warning", "creditGrade": "creditGrade"}
LEVELS = ("RED", "ORANGE", "YELLOW", "NONE")
GRADES = ("A", "B", "C", "D")
STATUSES = ("ACTIVE", "REVOKED", "CANCELLED", "MOVED_OUT")

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))

Json = dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with canary_world(tmp_path_factory.mktemp("canaries"), POLICY) as found:
        yield found


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> PolicyStore:
    """A copy of policies/ with the STRICTER fields CONDITIONAL."""
    folder = tmp_path_factory.mktemp("strict") / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    path = folder / "fields.yaml"
    classes = yaml.safe_load(path.read_text(encoding="utf-8"))
    for graph_type, names in STRICTER.items():
        for name in names:
            assert classes[graph_type][name] == "OPEN", (graph_type, name)
            classes[graph_type][name] = "CONDITIONAL"
    path.write_text(yaml.safe_dump(classes, sort_keys=False), encoding="utf-8")
    store = PolicyStore(folder)
    above = store.current().classes.above_open()
    assert {"warning", "creditGrade", "industry"} <= above["Enterprise"]
    assert {"decidedOn", "amount"} <= above["Penalty"]
    return store


class Views:
    """The callers' answers, and each caller's whole view of the registry (fetched once
    per clearance and policy)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._views: dict[tuple[Clearance, Path], list[Json]] = {}
        self._fields: dict[tuple[bool, Path], dict[str, frozenset[str]]] = {}

    def ask(self, clearance: Clearance, policy: PolicyStore, query: str,
            variables: dict[str, Any] | None = None) -> Json:
        answer: Json = json.loads(self.world.execute(clearance, query, variables or {}, policy))
        return answer

    def fields(self, clearance: Clearance, policy: PolicyStore, graph_type: str,
               ) -> frozenset[str]:
        """The fields of ``graph_type`` in the schema this caller is served."""
        key = (clearance.role == "public", policy.folder)
        known = self._fields.get(key)
        if known is None:
            known = {}
            for name in ("Enterprise", *(t for t, _ in LISTS.values())):
                answer = self.ask(clearance, policy,
                                  '{ __type(name: "%s") { fields { name } } }' % name)
                known[name] = frozenset(f["name"] for f in answer["data"]["__type"]["fields"])
            self._fields[key] = known
        return known[graph_type]

    def node_selection(self, clearance: Clearance, policy: PolicyStore) -> str:
        """creditCode name industry ... as far as the caller's schema has them."""
        fields = self.fields(clearance, policy, "Enterprise")
        chosen = [f for f in SCALARS if f in fields]
        chosen += [selection for f, selection in DERIVED.items() if f in fields]
        return " ".join(chosen)

    def list_selection(self, clearance: Clearance, policy: PolicyStore, name: str) -> str:
        graph_type, date = LISTS[name]
        dated = date if date in self.fields(clearance, policy, graph_type) else ""
        return f"{name}(period: ALL) {{ recordId agency {{ code }} {dated} }}"

    def lists_selection(self, clearance: Clearance, policy: PolicyStore) -> str:
        return " ".join(self.list_selection(clearance, policy, name) for name in LISTS)

    def view(self, clearance: Clearance, policy: PolicyStore) -> list[Json]:
        """Every enterprise the caller sees, unfiltered, with its record lists, in the
        connection's order (pages of 1000 followed with ``after``)."""
        key = (clearance, policy.folder)
        found = self._views.get(key)
        if found is not None:
            return found
        query = ("query($after: String) { enterprises(first: 1000, after: $after) { "
                 "totalCount pageInfo { hasNextPage endCursor } edges { cursor node { "
                 f"{self.node_selection(clearance, policy)} "
                 f"{self.lists_selection(clearance, policy)} }} }} }} }}")
        nodes: list[Json] = []
        after: str | None = None
        while True:
            answer = self.ask(clearance, policy, query, {"after": after})
            assert answer["errors"] == [], (clearance, answer["errors"])
            page = answer["data"]["enterprises"]
            for edge in page["edges"]:
                nodes.append({**edge["node"], "cursor": edge["cursor"]})
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert page["totalCount"] == len(nodes), clearance
        codes = [n["creditCode"] for n in nodes]
        assert codes == sorted(codes) and len(set(codes)) == len(codes), clearance
        self._views[key] = nodes
        return nodes


@pytest.fixture(scope="module")
def views(world: World) -> Views:
    return Views(world)


# --- the filter, applied in Python to the caller's own view ----------------------------

def _level(node: Json, name: str, key: str) -> str | None:
    value = node.get(name)
    return value[key] if isinstance(value, dict) else None


def meets(node: Json, condition: dict[str, str]) -> bool:
    """Does the caller's node meet the filter? A value the caller did not receive (null,
    or a field not in its schema) meets no condition on it."""
    for argument, wanted in condition.items():
        if argument == "nameContains":
            name = node.get("name")
            if not isinstance(name, str) or wanted.casefold() not in name.casefold():
                return False
        elif argument == "industry":
            if node.get("industry") != wanted:
                return False
        elif argument == "districtCode":
            district = node.get("districtCode")
            if not isinstance(district, str) or not district.startswith(wanted):
                return False
        elif argument == "status":
            if node.get("status") != wanted:
                return False
        elif argument == "warningLevel":
            if _level(node, "warning", "level") != wanted:
                return False
        elif argument == "creditGrade":
            if _level(node, "creditGrade", "grade") != wanted:
                return False
        elif argument == "hasRecordsFrom":
            # any record of any period from that agency in a list the caller received
            # (listing.py _with_records_from: every record type the agency provides on
            # enterprises, the caller's lists only)
            if not any(record["agency"]["code"] == wanted
                       for name in LISTS for record in node[name]):
                return False
        else:
            raise AssertionError(argument)
    return True


def refused(clearance: Clearance, policy: PolicyStore, condition: dict[str, str]) -> set[str]:
    """Filter arguments reading a field the caller may never read (from policy.csv and
    the field classes, by hand: nothing under the default policy)."""
    if policy is POLICY or clearance.role not in NEVER_CONDITIONAL:
        return set()
    return set(condition) & STRICT_FILTERS


Condition = dict[str, str]


def conditions(admin: list[Json]) -> st.SearchStrategy[Condition]:
    """Filters drawn from real values of the registry (the admin's view)."""
    names = sorted({n["name"] for n in admin if n["name"]})
    industries = sorted({n["industry"] for n in admin if n["industry"]})
    districts = sorted({n["districtCode"][:size] for n in admin if n["districtCode"]
                        for size in (2, 4, 6)})

    @st.composite
    def name_part(draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
        full: str = draw(st.sampled_from(names))
        start = draw(st.integers(0, max(0, len(full) - 1)))
        part = full[start : start + draw(st.integers(1, 4))]
        return part.upper() if draw(st.booleans()) else part

    values: dict[str, st.SearchStrategy[str]] = {
        "nameContains": name_part(),
        "industry": st.sampled_from(industries),
        "districtCode": st.sampled_from(districts),
        "status": st.sampled_from(STATUSES),
        "warningLevel": st.sampled_from(LEVELS),
        "creditGrade": st.sampled_from(GRADES),
        "hasRecordsFrom": st.sampled_from(AGENCIES),
    }

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Condition:
        chosen = draw(st.lists(st.sampled_from(sorted(values)), max_size=3, unique=True))
        return {name: draw(values[name]) for name in chosen}

    return build()


def error_codes(answer: Json) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in answer["errors"]]


def test_filtered_counts_and_pages_equal_the_callers_own_view(
    views: Views, strict: PolicyStore,
) -> None:
    admin = views.view(ADMIN, POLICY)
    assert len(admin) == 300
    policies = [POLICY, strict]
    seen = {"counted": 0, "nonzero": 0}

    @settings(SETTINGS, max_examples=100)
    @given(clearance=st.sampled_from(CLEARANCES), strictness=st.sampled_from([0, 1]),
           condition=conditions(admin), first=st.integers(1, 40),
           after=st.none() | st.integers(0, 10**6))
    def check(clearance: Clearance, strictness: int, condition: Condition, first: int,
              after: int | None) -> None:
        policy = policies[strictness]
        view = views.view(clearance, policy)
        cursor = None if after is None or not view else view[after % len(view)]
        query = ("query($f: EnterpriseFilter, $first: Int!, $after: String) { "
                 "enterprises(filter: $f, first: $first, after: $after) { totalCount "
                 f"edges {{ node {{ {views.node_selection(clearance, policy)} }} }} }} }}")
        answer = views.ask(clearance, policy, query, {
            "f": condition, "first": first,
            "after": cursor["cursor"] if cursor is not None else None})
        shown = (clearance, policy.folder.name, condition, first,
                 cursor and cursor["creditCode"], answer["errors"])
        not_allowed = refused(clearance, policy, condition)
        if not_allowed:
            assert answer["data"] is None, shown
            assert error_codes(answer) == ["FILTER_NOT_ALLOWED"], shown
            # what the caller may never read, it never received
            assert all(node.get(READS[argument]) is None
                       for node in view for argument in not_allowed), shown
            return
        assert answer["errors"] == [], shown
        connection = answer["data"]["enterprises"]
        matching = [node for node in view if meets(node, condition)]
        assert connection["totalCount"] == len(matching), shown
        start = [n for n in matching
                 if cursor is None or n["creditCode"] > cursor["creditCode"]]
        keys = [k for k in (*SCALARS, *DERIVED) if k in view[0]] if view else []
        expected = [{k: node[k] for k in keys} for node in start[:first]]
        assert [edge["node"] for edge in connection["edges"]] == expected, shown
        seen["counted"] += 1
        seen["nonzero"] += bool(matching)

    check()
    # the examples reached counts that were not all zero
    assert seen["nonzero"] > seen["counted"] // 4, seen


def test_every_single_filter_value_counts_as_the_view(
    views: Views, strict: PolicyStore,
) -> None:
    """Every warning level, grade, status and agency as the only filter, for every
    clearance and policy: totalCount equals the view's own count."""
    single = [{"warningLevel": v} for v in LEVELS] + [{"creditGrade": v} for v in GRADES]
    single += [{"status": v} for v in STATUSES] + [{"hasRecordsFrom": v} for v in AGENCIES]
    query = ("query($f: EnterpriseFilter) { enterprises(filter: $f, first: 1) "
             "{ totalCount } }")
    for policy in (POLICY, strict):
        for clearance in CLEARANCES:
            view = views.view(clearance, policy)
            for condition in single:
                answer = views.ask(clearance, policy, query, {"f": condition})
                shown = (clearance, policy.folder.name, condition, answer["errors"])
                not_allowed = refused(clearance, policy, condition)
                if not_allowed:
                    assert answer["data"] is None, shown
                    assert error_codes(answer) == ["FILTER_NOT_ALLOWED"], shown
                    # the field the filter may not read is null in every node received
                    received = [node["creditCode"] for node in view for argument in not_allowed
                                if node.get(READS[argument]) is not None]
                    assert received == [], (shown, len(received), received[:3])
                    continue
                assert answer["errors"] == [], shown
                expected = sum(meets(node, condition) for node in view)
                assert answer["data"]["enterprises"]["totalCount"] == expected, shown


# --- sorts ------------------------------------------------------------------------------

def sort_key(record: Json, date: str) -> tuple[int, str, str]:
    """schema/gather.py sort_records over the caller's own values: newest first (a date
    it did not receive is date.min), then agency, then record id."""
    value = record.get(date)
    day = dt.date.fromisoformat(value) if isinstance(value, str) else dt.date.min
    return (-day.toordinal(), record["agency"]["code"], record["recordId"])


def assert_lists_sorted(node: Json, shown: object) -> None:
    for name, (_, date) in LISTS.items():
        records = node[name]
        assert records == sorted(records, key=lambda r: sort_key(r, date)), (shown, name)


def test_record_lists_sort_on_the_callers_own_values(
    views: Views, strict: PolicyStore,
) -> None:
    policies = [POLICY, strict]
    codes = views.world.codes
    reached = {"shown": 0}

    @SETTINGS
    @given(clearance=st.sampled_from([*CLEARANCES, ADMIN]), strictness=st.sampled_from([0, 1]),
           code=st.sampled_from(codes))
    def check(clearance: Clearance, strictness: int, code: str) -> None:
        policy = policies[strictness]
        query = ("query($c: String!) { enterprise(creditCode: $c) { "
                 f"{views.lists_selection(clearance, policy)} }} }}")
        answer = views.ask(clearance, policy, query, {"c": code})
        shown = (clearance, policy.folder.name, code)
        assert answer["errors"] == [], (shown, answer["errors"])
        node = answer["data"]["enterprise"]
        if node is None:
            return
        reached["shown"] += 1
        assert_lists_sorted(node, shown)

    check()
    assert reached["shown"] > 20, reached


def test_connection_lists_sort_on_the_callers_own_values(
    views: Views, strict: PolicyStore,
) -> None:
    """The same over every enterprise of every caller's whole view (the connection's
    prefetched lists), and under the stricter policy the public's penalties - whose
    dates it does not receive - are in agency then record id order, while the admin's
    dates would order some of them otherwise."""
    for policy in (POLICY, strict):
        for clearance in [*CLEARANCES, ADMIN]:
            for node in views.view(clearance, policy):
                assert_lists_sorted(node, (clearance, policy.folder.name, node["creditCode"]))
    assert "decidedOn" not in views.fields(Clearance("public"), strict, "Penalty")
    public = {n["creditCode"]: n for n in views.view(Clearance("public"), strict)}
    admin = {n["creditCode"]: n for n in views.view(ADMIN, strict)}
    dates_would_differ = 0
    for code, node in public.items():
        order = [(r["agency"]["code"], r["recordId"]) for r in node["penalties"]]
        assert order == sorted(order), code
        ids = {r["recordId"] for r in node["penalties"]}
        by_date = [(r["agency"]["code"], r["recordId"]) for r in admin[code]["penalties"]
                   if r["recordId"] in ids]
        dates_would_differ += by_date != order
    assert dates_would_differ > 0


# --- non-interference: a filter on a field the caller may not read ----------------------

@pytest.mark.parametrize("condition", [{"warningLevel": "RED"}, {"creditGrade": "C"},
                                       {"industry": None}])
def test_the_public_may_not_filter_on_a_conditional_field(
    views: Views, strict: PolicyStore, condition: dict[str, str | None],
) -> None:
    """Under the stricter policy, the public's filters on the warning, the grade or the
    industry are refused - never a count narrowed by values it may not read - while the
    same filters under the default policy are counted."""
    admin = views.view(ADMIN, POLICY)
    filled = {k: v if v is not None else next(n["industry"] for n in admin if n["industry"])
              for k, v in condition.items()}
    query = ("query($f: EnterpriseFilter) { enterprises(filter: $f, first: 5) "
             "{ totalCount edges { node { creditCode } } } }")
    public = Clearance("public")
    answer = views.ask(public, strict, query, {"f": filled})
    assert answer["data"] is None, answer
    assert error_codes(answer) == ["FILTER_NOT_ALLOWED"], answer
    assert "totalCount" not in json.dumps(answer)
    opened = views.ask(public, POLICY, query, {"f": filled})
    assert opened["errors"] == [], opened
    assert opened["data"]["enterprises"]["totalCount"] > 0, filled
