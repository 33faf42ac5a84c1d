"""The RestrictionAction enum (schema.actions): its values are the catalogue's actions,
named deterministically, described by the catalogue; a catalogue whose codes collide
is refused at load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from graphql import GraphQLEnumType

from conftest import ACTIONS
from gateway.policy_files import DEFAULT_POLICY_DIR
from gateway.rules_files import RulesError, load_rules
from schema.actions import action_enum, enum_name
from schema.build import build_schema
from schema.rules.model import ActionRules


@pytest.mark.parametrize(("code", "name"), [
    ("LICENCE_APPLICATION", "LICENCE_APPLICATION"),
    ("land-transaction", "LAND_TRANSACTION"),
    ("Fiscal subsidy (2026)", "FISCAL_SUBSIDY_2026"),
    ("2026 pilot", "ACTION_2026_PILOT"),
    ("__x__", "X"),
    ("认证", "ACTION"),
])
def test_enum_names(code: str, name: str) -> None:
    assert enum_name(code) == name


def enum_of(actions: dict[str, ActionRules]) -> GraphQLEnumType:
    found = build_schema(actions=actions)._schema.type_map["RestrictionAction"]
    assert isinstance(found, GraphQLEnumType)
    return found


def test_the_enum_is_the_shipped_catalogue() -> None:
    values = enum_of(dict(ACTIONS)).values
    assert list(values) == list(ACTIONS)  # the catalogue's order
    assert {name: value.value for name, value in values.items()} == {c: c for c in ACTIONS}
    assert values["LICENCE_APPLICATION"].description == "行政许可申请 (licence application)"


def test_a_mapped_code_is_described_with_its_catalogue_code() -> None:
    actions = {"land-deal": ActionRules("land-deal", "土地交易 (land deal)", ())}
    value = enum_of(actions).values["LAND_DEAL"]
    assert value.value == "land-deal"  # what the resolver is given
    assert value.description == "土地交易 (land deal) (catalogue code land-deal)"


def test_codes_that_map_to_one_name_are_refused() -> None:
    twins = {code: ActionRules(code, code, ()) for code in ("A-B", "A_B")}
    with pytest.raises(ValueError, match="both map to A_B"):
        action_enum(twins)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    return folder


def add_action(policies: Path, code: str) -> None:
    path = policies / "restrictions.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f"""  {code}:
    name: 试点事项 (pilot scheme)
    rules:
      - {{grade: D, decision: PROHIBITED, measure: "依法禁止 (prohibited)"}}
""", encoding="utf-8")


def test_a_new_action_in_the_file_is_a_new_enum_value(policies: Path) -> None:
    add_action(policies, "pilot-scheme")
    values = enum_of(dict(load_rules(policies).actions)).values
    assert "PILOT_SCHEME" in values and values["PILOT_SCHEME"].value == "pilot-scheme"
    assert "PILOT_SCHEME" not in enum_of(dict(ACTIONS)).values


def test_a_catalogue_whose_codes_collide_does_not_load(policies: Path) -> None:
    add_action(policies, "honour")
    with pytest.raises(RulesError) as raised:
        load_rules(policies)
    assert any("actions.honour: gives the same GraphQL enum value HONOUR as actions.HONOUR"
               in problem for problem in raised.value.problems), raised.value.problems
