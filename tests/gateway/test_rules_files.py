"""Warning, grade and restriction rules: checked at start, every problem located."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.policy_files import DEFAULT_POLICY_DIR
from gateway.rules_files import RulesError, load_rules


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    return folder


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_rules_load_with_every_required_action() -> None:
    rules = load_rules(DEFAULT_POLICY_DIR)
    assert {"LICENCE_APPLICATION", "GOVERNMENT_PROCUREMENT", "PUBLIC_BIDDING",
            "LAND_TRANSACTION", "FISCAL_SUBSIDY", "HONOUR", "CERTIFICATION"} <= set(rules.actions)
    assert [rule.grade.value for rule in rules.grades.rules] == ["D", "C", "B"]


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("warnings.yaml", "min_agencies: 2", "min_agencies: two",
         "warnings.yaml: cross_agency.red.min_agencies: must be a whole number"),
        ("warnings.yaml", "risk_levels: [HIGH]", "risk_levels: [SEVERE]",
         "warnings.yaml: single_agency.orange.risk_levels: must be a list of"),
        ("warnings.yaml", "person_propagation: true", "person_propagation: maybe",
         "warnings.yaml: person_propagation: must be true or false"),
        ("grades.yaml", "{record: judgment_default, in_force: true}",
         "{record: court_case, in_force: true}",
         "grades.yaml: grades.C.when[1].record: a record type or any"),
        ("grades.yaml", "listed_days_at_least: 365}", "listed_days: 365}",
         "grades.yaml: grades.D.when[0]: unknown key 'listed_days'"),
        ("restrictions.yaml", "  HONOUR:\n", "  HONOURS:\n",
         "restrictions.yaml: actions.HONOUR: missing (required action)"),
        ("restrictions.yaml", "{grade: C, decision: RESTRICTED, measure: \"依法限制参加政府采购",
         "{grade: C, decision: MAYBE, measure: \"依法限制参加政府采购",
         "restrictions.yaml: actions.GOVERNMENT_PROCUREMENT.rules[0].decision"),
        ("restrictions.yaml", "actions:", "actions: [", "restrictions.yaml: is not valid YAML"),
    ],
)
def test_a_bad_rules_file_is_located(policies: Path, file: str, old: str, new: str,
                                     message: str) -> None:
    replace(policies / file, old, new)
    with pytest.raises(RulesError) as caught:
        load_rules(policies)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_serve_refuses_to_start_on_bad_rules(policies: Path, tmp_path: Path) -> None:
    replace(policies / "grades.yaml", "risk_at_least: MEDIUM", "risk_at_least: HUGE")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--policies", str(policies),
         "--demo-dir", str(tmp_path / "demo"), "--port", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert "grades.C.when[0].risk_at_least" in result.stderr
    assert "Traceback" not in result.stderr
