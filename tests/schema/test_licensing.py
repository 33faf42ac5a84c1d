"""policies/licensing.yaml: which agencies a registration is pushed to (双告知)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from schema.licensing import (
    LicensingError,
    agencies_needing_licence,
    load_licensing,
    parse_licensing,
)

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_the_shipped_file_loads_and_maps_scopes_and_industries() -> None:
    rules = load_licensing(POLICIES)
    assert rules.claim_within_days == 5
    assert agencies_needing_licence("热食类食品制售；住宿服务", "住宿业", rules) == ("FDA", "FIRE")
    assert agencies_needing_licence("技术开发；软件开发", "软件和信息技术服务业", rules) == ()
    # the industry alone is enough; an unknown industry and no scope, nothing
    assert agencies_needing_licence(None, "餐饮业", rules) == ("FDA",)
    assert agencies_needing_licence(None, None, rules) == ()


def test_one_agency_appears_once_however_many_of_its_licences_match() -> None:
    rules = load_licensing(POLICIES)
    assert agencies_needing_licence("食品生产；食品销售；原料药", "食品制造业", rules) == (
        "FDA", "SAMR")
    assert [r.licence for r in rules.licences_needed("食品销售；原料药", None)] == [
        "食品经营许可 (food business)", "药品生产许可 (drug manufacturing)"]


@pytest.mark.parametrize(("text", "expected"), [
    ("licences: []", "licensing.yaml: licences: a non-empty list of licences is required"),
    ("licences:\n  - {licence: X, agency: FDA}",
     "licensing.yaml: licences[1]: scope_keywords or industries: give at least one"),
    ("licences:\n  - {licence: X, scope_keywords: [a]}",
     "licensing.yaml: licences[1]: agency: an agency code is required"),
    ("licences:\n  - {licence: X, agency: FDA, scope_keywords: a}",
     "licensing.yaml: licences[1]: scope_keywords: must be a list of non-empty texts"),
    ("licences:\n  - {licence: X, agency: FDA, industries: [a], colour: red}",
     "licensing.yaml: licences[1]: unknown field 'colour'"),
    ("push: {claim_within_days: 0}\nlicences:\n  - {licence: X, agency: A, industries: [a]}",
     "licensing.yaml: push.claim_within_days: 0 is not a whole number of days"),
    ("push: {claim_in: 3}\nlicences:\n  - {licence: X, agency: A, industries: [a]}",
     "licensing.yaml: push: unknown key 'claim_in'"),
    ("licences: [\n", "licensing.yaml: line"),
    ("- a", "licensing.yaml: the top level must be a mapping"),
])
def test_an_invalid_file_is_refused_naming_file_and_field(text: str, expected: str) -> None:
    with pytest.raises(LicensingError) as raised:
        parse_licensing(text)
    assert any(problem.startswith(expected) for problem in raised.value.problems), \
        raised.value.problems


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LicensingError, match=r"licensing\.yaml: cannot be read"):
        load_licensing(tmp_path)


def test_the_gateway_does_not_start_with_an_invalid_file(
        tmp_path: Path, user_agencies: dict[str, Any]) -> None:
    from gateway.app import AppOptions, create_app
    from gateway.config import load_config

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    text = (policies / "licensing.yaml").read_text(encoding="utf-8")
    (policies / "licensing.yaml").write_text(
        text.replace("claim_within_days: 5", "claim_within_days: soon"), encoding="utf-8")
    with pytest.raises(LicensingError) as raised:
        create_app(load_config(user_agencies["config"]), AppOptions(policy_dir=policies))
    assert raised.value.problems == [
        f"{policies / 'licensing.yaml'}: push.claim_within_days: 'soon' is not a whole "
        "number of days from 1 to 365"]
