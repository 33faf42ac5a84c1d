"""Leak tests: thousands of generated queries (aliases, fragments, variables, filters)
never show a caller a canary its clearance does not cover."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from canary_district import SENTINEL_DATE, SENTINEL_NUMBER
from canary_world import World, canary_world
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    IntValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    print_ast,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema
from introspected_queries import Args, all_field_queries, introspect
from strawberry.utils.str_converters import to_camel_case

from conftest import ACTIONS
from connectors.standard import Openness
from gateway.config import PURPOSES, ROLES
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from schema.access import GRAPH_TYPES, AccessPolicy, Clearance, stricter
from schema.build import build_schema

EXAMPLES = int(os.environ.get("LEAK_EXAMPLES", "1000"))
POLICY = PolicyStore(DEFAULT_POLICY_DIR)
FULL = build_schema(actions=ACTIONS)
PUBLIC_SCHEMA = build_schema(actions=ACTIONS, without=POLICY.current().classes.above_open())
ROOT_FIELDS = ["enterprise", "enterprises", "person"]
CANARY = re.compile(r"CNRY-[A-Z]+(?:-[A-Z]{2})?-[0-9]+")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with canary_world(tmp_path_factory.mktemp("canaries"), POLICY) as found:
        yield found


# --- making generated queries hit real data, with variables, aliases and fragments ---

Draw = Callable[[st.SearchStrategy[Any]], Any]


class Varier:
    """Rewrites a generated document: real keys as arguments, some arguments moved
    into variables, aliases on fields, selection sets moved into fragments."""

    def __init__(self, draw: Draw, world: World) -> None:
        self.draw = draw
        self.world = world
        self.variables: dict[str, Any] = {}
        self.definitions: list[VariableDefinitionNode] = []
        self.fragments: list[FragmentDefinitionNode] = []

    def value_for(self, name: str) -> str | None:
        world, draw = self.world, self.draw
        if name == "creditCode":
            return str(draw(st.sampled_from(world.codes)))
        if name == "personId":
            return str(draw(st.sampled_from(world.facts["person_ids"])))
        if name == "nameContains":
            full = draw(st.sampled_from(world.names))
            start = draw(st.integers(0, max(0, len(full) - 2)))
            return str(full[start : start + draw(st.integers(1, 4))])
        if name == "hasRecordsFrom":
            return str(draw(st.sampled_from(["SAMR", "TAX", "EPB", "FDA", "COURT", "FIRE"])))
        if name == "districtCode":
            return str(draw(st.sampled_from(["1101", "110102", "110105", "110108"])))
        return None

    def argument(self, node: ArgumentNode) -> ArgumentNode:
        name = node.name.value
        if name == "first":
            return ArgumentNode(name=node.name, value=IntValueNode(
                value=str(self.draw(st.integers(1, 100)))))
        if isinstance(node.value, ObjectValueNode):
            fields = tuple(self.object_field(f) for f in node.value.fields)
            return ArgumentNode(name=node.name, value=ObjectValueNode(fields=fields))
        real = self.value_for(name)
        if real is None:
            return node
        if name in ("creditCode", "personId") and self.draw(st.booleans()):
            variable = f"v{len(self.variables)}"
            self.variables[variable] = real
            self.definitions.append(VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=variable)),
                type=NonNullTypeNode(type=NamedTypeNode(name=NameNode(value="String"))),
                directives=(),
            ))
            return ArgumentNode(name=node.name, value=VariableNode(name=NameNode(value=variable)))
        return ArgumentNode(name=node.name, value=StringValueNode(value=real))

    def object_field(self, node: ObjectFieldNode) -> ObjectFieldNode:
        real = self.value_for(node.name.value)
        if real is None or not self.draw(st.booleans()):
            return node
        return ObjectFieldNode(name=node.name, value=StringValueNode(value=real))

    def selection_set(self, node: SelectionSetNode | None, type_name: str | None,
                      ) -> SelectionSetNode | None:
        if node is None:
            return None
        selections = []
        for selection in node.selections:
            if not isinstance(selection, FieldNode):
                selections.append(selection)
                continue
            alias = selection.alias
            if alias is None and self.draw(st.integers(0, 3)) == 0:
                alias = NameNode(value=f"a{self.draw(st.integers(0, 99))}_{selection.name.value}")
            child_type = _TYPES.get(selection.name.value)
            selections.append(FieldNode(
                alias=alias, name=selection.name, directives=(),
                arguments=tuple(self.argument(a) for a in selection.arguments or ()),
                selection_set=self.selection_set(selection.selection_set, child_type),
            ))
        result = SelectionSetNode(selections=tuple(selections))
        if type_name and self.draw(st.integers(0, 3)) == 0:
            fragment = f"F{len(self.fragments)}"
            self.fragments.append(FragmentDefinitionNode(
                name=NameNode(value=fragment), directives=(), variable_definitions=None,
                type_condition=NamedTypeNode(name=NameNode(value=type_name)),
                selection_set=result,
            ))
            return SelectionSetNode(selections=(
                FragmentSpreadNode(name=NameNode(value=fragment), directives=()),))
        return result

    def document(self, document: DocumentNode) -> str:
        operation = document.definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        selection = self.selection_set(operation.selection_set, None)
        assert selection is not None
        rewritten = OperationDefinitionNode(
            operation=operation.operation, name=None, directives=(),
            variable_definitions=tuple(self.definitions), selection_set=selection,
        )
        return print_ast(DocumentNode(definitions=(rewritten, *self.fragments)))


_TYPES = {
    "enterprise": "Enterprise", "node": "Enterprise", "enterprises_list": "Enterprise",
    "person": "Person", "legalRepresentative": "Person", "licences": "Licence",
    "penalties": "Penalty", "anomalies": "Anomaly", "seriousViolations": "SeriousViolation",
    "judgmentDefaults": "JudgmentDefault", "inspections": "Inspection",
}


def queries(schema_sdl: str, world: World) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    documents = from_schema(schema_sdl, fields=ROOT_FIELDS, print_ast=lambda d: d)

    @st.composite
    def build(draw: Draw) -> tuple[str, dict[str, Any]]:
        varier = Varier(draw, world)
        text = varier.document(draw(documents))
        return text, varier.variables

    return build()


def leaks(response: str, query: str, variables: dict[str, Any],
          forbidden: Callable[[str], bool]) -> list[str]:
    asked = query + json.dumps(variables, ensure_ascii=False)
    return sorted({c for c in CANARY.findall(response) if forbidden(c) and c not in asked})


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def test_the_public_never_sees_a_canary(world: World) -> None:
    hidden_codes = world.facts["hidden_codes"]
    seen_data = 0

    @SETTINGS
    @given(queries(PUBLIC_SCHEMA.as_str(), world))
    def check(case: tuple[str, dict[str, Any]]) -> None:
        nonlocal seen_data
        query, variables = case
        response = world.execute(Clearance("public"), query, variables)
        assert leaks(response, query, variables, lambda c: True) == [], query
        asked = query + json.dumps(variables)
        assert not [c for c in hidden_codes if c in response and c not in asked], query
        assert SENTINEL_DATE not in response and SENTINEL_NUMBER not in response, query
        data = json.loads(response)["data"] or {}
        seen_data += any(isinstance(value, dict) for value in data.values())

    check()
    assert seen_data > EXAMPLES // 4, "the generated queries rarely reached any data"


@pytest.mark.parametrize("purpose", ["INSPECTION", ""])
def test_a_department_never_sees_another_agencys_hidden_canaries(
    world: World, purpose: str
) -> None:
    own = "SAMR"
    hidden_tags = {"NO", "FN"} if purpose else {"NO", "FN", "CO", "FC"}

    def forbidden(canary: str) -> bool:
        parts = canary.split("-")  # CNRY-<agency>-<tag>-<n>, or CNRY-PID-<n>
        return len(parts) == 4 and parts[1] != own and parts[2] in hidden_tags

    @settings(SETTINGS, max_examples=max(1, EXAMPLES // 2))
    @given(queries(FULL.as_str(), world))
    def check(case: tuple[str, dict[str, Any]]) -> None:
        query, variables = case
        response = world.execute(Clearance("department", own, purpose), query, variables)
        assert leaks(response, query, variables, forbidden) == [], query

    check()


def test_the_canaries_are_really_there(world: World) -> None:
    """The admin sees canaries of every kind, so the tests above could fail."""
    codes = random.Random(1).sample(world.codes, 60)
    found: set[str] = set()
    for code in codes:
        response = world.execute(Clearance("admin"), """query($c: String!) {
          enterprise(creditCode: $c) { name legalRepId
            penalties(period: ALL) { recordId personId content }
            judgmentDefaults(period: ALL) { recordId obligation }
            inspections(period: ALL) { recordId planId } licences(period: ALL) { recordId content }
            legalRepresentative { idNumber } } }""", {"c": code})
        found |= {c.split("-")[-2] for c in CANARY.findall(response)}
    assert {"NO", "CO", "FC", "FN", "PID"} <= found


RISK_PAGE = """{ enterprises(first: 300) { totalCount edges { node { creditCode
  warning { level agencies { code } missingAgencies { code }
            reasons { rule level agencies { code } evidence { recordId agency { code }
              ... on Penalty { decisionNo content } ... on JudgmentDefault { caseNo }
              ... on Anomaly { reason } ... on Inspection { result } } } }
  creditGrade { grade name basis evidence { recordId } } } } } }"""


@pytest.mark.parametrize(
    ("clearance", "hidden_tags"),
    [(Clearance("public"), None),
     (Clearance("department", "SAMR", "INSPECTION"), {"NO", "FN"}),
     (Clearance("department", "SAMR"), {"NO", "FN", "CO", "FC"})],
)
def test_warnings_and_grades_reveal_no_hidden_record(
    world: World, clearance: Clearance, hidden_tags: set[str] | None
) -> None:
    """Every enterprise's warning and grade, with reasons, evidence and basis: nothing
    from a record the clearance does not cover (warnings are computed from the
    visible records alone)."""

    def forbidden(canary: str) -> bool:
        if hidden_tags is None:
            return True
        parts = canary.split("-")
        return len(parts) == 4 and parts[1] != "SAMR" and parts[2] in hidden_tags

    for level in ("RED", "ORANGE", "YELLOW"):
        query = RISK_PAGE.replace("enterprises(first: 300)",
                                  f"enterprises(first: 300, filter: {{warningLevel: {level}}})")
        response = world.execute(clearance, query, {})
        assert json.loads(response)["data"]["enterprises"]["totalCount"] > 0, level
        assert leaks(response, query, {}, forbidden) == []
        if hidden_tags is None:
            assert SENTINEL_DATE not in response and SENTINEL_NUMBER not in response


# --- every field of every caller's own schema, for every role and purpose -----------

def _may_read(policy: AccessPolicy, clearance: Clearance,
              where: tuple[str, str, str, str]) -> bool:
    """May ``clearance`` read the value planted at ``where`` (agency, record type,
    column, record label)? Asked of the policy's decisions directly, not of the view."""
    agency, record_type, column, label = where
    openness = Openness(label) if label in Openness.__members__ else Openness.NOT_OPEN
    graph_type = GRAPH_TYPES[record_type]
    if not policy.allowed(clearance, graph_type, openness, agency):
        return False
    if column == "record_id":
        return True
    level = policy.classes.fields(graph_type).get(column, Openness.OPEN)
    return policy.allowed(clearance, f"{graph_type}.{to_camel_case(column)}",
                          stricter(openness, level), agency)


CLEARANCES = [
    Clearance(role, "SAMR" if role == "department" else "", purpose)
    for role in ROLES for purpose in ("", *PURPOSES) if role != "admin"
] + [Clearance("department", "COURT", ""), Clearance("department", "COURT", "INSPECTION")]
OWNERS = ("SAMR", "TAX", "EPB", "FDA", "COURT", "FIRE", "-")


def _distinct_views(policy: AccessPolicy, clearances: list[Clearance]) -> list[Clearance]:
    """One clearance of each group whose every policy decision is the same (and so whose
    view is the same): the public with any purpose, a department with any declared one..."""
    objects = ["RestrictionDecision"]
    for graph_type in GRAPH_TYPES.values():
        objects += [graph_type, *(f"{graph_type}.{to_camel_case(f)}"
                                  for f in policy.classes.fields(graph_type))]
    groups: dict[object, Clearance] = {}
    for clearance in clearances:
        decisions = frozenset((o, level, owner) for o in objects for level in Openness
                              for owner in OWNERS if policy.allowed(clearance, o, level, owner))
        groups.setdefault((clearance.role, decisions), clearance)
    return list(groups.values())


def _subjects(world: World) -> Args:
    hidden = sorted(world.facts["hidden_codes"])
    codes = [hidden[0], *random.Random(7).sample(world.codes, 2)]
    return Args(credit_codes=codes, person_ids=world.facts["person_ids"][:3],
                today=world.runtime.today(), page=4)


def _check_every_field(world: World, policy: PolicyStore, clearances: list[Clearance]) -> None:
    access = policy.current()
    canaries: dict[str, tuple[str, str, str, str]] = world.facts["canaries"]
    args = _subjects(world)
    answered = 0
    for clearance in _distinct_views(access, clearances):
        def execute(query: str, variables: dict[str, Any],
                    clearance: Clearance = clearance) -> str:
            return world.execute(clearance, query, variables, policy)

        types = introspect(execute)
        seen_queries: set[str] = set()
        plans = [plan for _, plan in all_field_queries(types, args)]
        while plans:
            plan = plans.pop()
            query = plan.text
            if query in seen_queries:
                continue
            seen_queries.add(query)
            response = execute(query, {})
            payload = json.loads(response)
            codes = {e.get("extensions", {}).get("code") for e in payload["errors"]}
            if codes & {"QUERY_TOO_COSTLY", "TOO_MANY_ALIASES"} and plan.split():
                plans.extend(plan.split())  # the same fields, in smaller queries
                continue
            root = plan.root["name"]
            assert not codes & {"QUERY_TOO_COSTLY", "QUERY_TOO_DEEP", "TOO_MANY_ALIASES",
                                "GRAPHQL_VALIDATION_FAILED", None}, (clearance, root, payload)
            answered += payload["data"] is not None
            found = {c for c in CANARY.findall(response) if not c.startswith("CNRY-PID-")}
            bad = sorted(c for c in found if not _may_read(access, clearance, canaries[c]))
            assert bad == [], (clearance, query, bad[:5])
            if clearance.role == "public":
                asked = set(re.findall(r"CNRY-PID-[0-9]+", query))
                assert set(re.findall(r"CNRY-PID-[0-9]+", response)) <= asked, (clearance, query)
                assert SENTINEL_DATE not in response and SENTINEL_NUMBER not in response
    assert answered > 0


def test_every_field_of_every_callers_schema_shows_no_canary_it_may_not_read(
    world: World,
) -> None:
    """For every role and purpose: the caller's own introspection, a query for every
    field reachable from every root field (arguments filled, in several variants), run
    over canaries planted in NOT_OPEN and CONDITIONAL records and in hidden fields of
    visible records; every canary that comes back is one the policy lets it read."""
    _check_every_field(world, POLICY, CLEARANCES)


def test_the_oracle_sees_canaries_come_back(world: World) -> None:
    """The same queries as the admin return canaries of every kind: the check above
    looks at answers that really carry them."""
    args = _subjects(world)
    admin = Clearance("admin")
    types = introspect(lambda q, v: world.execute(admin, q, v))
    found: set[str] = set()
    plans = [plan for _, plan in all_field_queries(types, args)]
    while plans:
        plan = plans.pop()
        response = world.execute(admin, plan.text, {})
        if "QUERY_TOO_COSTLY" in response or "TOO_MANY_ALIASES" in response:
            plans.extend(plan.split())
            continue
        found |= {c.split("-")[-2] for c in CANARY.findall(response)}
    assert {"NO", "CO", "FC", "FN", "PID"} <= found


def test_derived_values_on_every_record_still_show_only_counts(
    world: World, tmp_path: Path,
) -> None:
    """With every warning and grade derived from ALL records (derivation.yaml), the
    same generated queries still show no canary: evidence the caller may not read
    appears only as withheld counts."""
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    (folder / "derivation.yaml").write_text(
        "Enterprise.warning: {default: ALL}\nEnterprise.creditGrade: {default: ALL}\n"
        "Person.warning: {default: ALL}\nRestrictionDecision: {default: ALL}\n",
        encoding="utf-8")
    policy = PolicyStore(folder)
    _check_every_field(world, policy, [c for c in CLEARANCES if not c.purpose
                                       or c.purpose in ("INSPECTION", "LICENCE_APPROVAL")])
    query = RISK_PAGE.replace("enterprises(first: 300)",
                              "enterprises(first: 300, filter: {warningLevel: RED})").replace(
        "evidence { recordId agency { code }", "withheld { count message } evidence { recordId")
    page = json.loads(world.execute(Clearance("public"), query, {}, policy))
    messages = [w["message"] for e in page["data"]["enterprises"]["edges"]
                for r in e["node"]["warning"]["reasons"] for w in r["withheld"]]
    assert messages and all(m.endswith("not open to you") for m in messages)
