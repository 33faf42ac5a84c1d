"""policies/statistics.yaml: checked at start with the file and field named, read from
the platform database like the other rule files (the bundled file when a database
seeded before it has none), and applied per role and purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.config import PURPOSES, ROLES
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.rules_files import RULE_FILES, RulesError, load_rules, read_text
from policies import policy_dir
from schema.access import Clearance
from schema.errors import Forbidden
from schema.rules.statistics import (
    FILE,
    PROTECTED,
    StatisticsError,
    StatisticsRules,
    parse_statistics,
)
from schema.statistics_source import PurposeRequired, answering
from schema.view import CallerView

POLICY = PolicyStore(DEFAULT_POLICY_DIR)


def parse(text: str) -> StatisticsRules:
    return parse_statistics(text, "statistics.yaml", roles=ROLES, purposes=PURPOSES)


def test_the_shipped_file_loads_with_the_rules() -> None:
    rules = load_rules(policy_dir()).statistics
    assert rules.threshold == 5 and rules.max_trend_months == 60
    assert rules.answer_for("public") == PROTECTED
    assert rules.answer_for("department") == "STATISTICS"
    assert FILE in RULE_FILES
    text, _ = read_text(policy_dir(), FILE)
    assert text is not None and text.startswith("# Statistics (决策分析)")


@pytest.mark.parametrize(("text", "problem"), [
    ("threshold: 1\nroles: {public: protected}\n", "statistics.yaml: threshold: must be"),
    ("threshold: five\nroles: {public: protected}\n", "statistics.yaml: threshold: must be"),
    ("max_trend_months: 0\nroles: {public: protected}\n",
     "statistics.yaml: max_trend_months: must be"),
    ("roles: {guest: protected}\n", "statistics.yaml: roles.guest: unknown role"),
    ("roles: {department: STATS}\n", "statistics.yaml: roles.department: must be exact"),
    ("roles: []\n", "statistics.yaml: roles: must map"),
    ("threshhold: 5\nroles: {public: protected}\n", "statistics.yaml: threshhold: unknown key"),
    ("- a list\n", "statistics.yaml: must be a mapping"),
    ("roles: {public: [}\n", "statistics.yaml: is not valid YAML"),
])
def test_a_bad_file_is_refused_with_file_and_field(text: str, problem: str) -> None:
    with pytest.raises(StatisticsError) as raised:
        parse(text)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_the_gateway_does_not_start_with_a_bad_file(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    (folder / FILE).write_text("threshold: 0\nroles: {public: protected}\n", encoding="utf-8")
    with pytest.raises(RulesError) as raised:
        load_rules(folder)
    assert f"{folder / FILE}: threshold: must be a whole number from 2 to 1000, got 0" in (
        raised.value.problems)


def test_a_database_without_the_document_reads_the_bundled_file() -> None:
    documents = {name: read_text(policy_dir(), name)[0] or "" for name in RULE_FILES
                 if name != FILE}
    assert load_rules(documents).statistics == load_rules(policy_dir()).statistics
    documents[FILE] = "threshold: 9\nroles: {public: protected}\n"
    loaded = load_rules(documents).statistics
    assert loaded.threshold == 9 and loaded.answer_for("department") is None


def view(clearance: Clearance) -> CallerView:
    return POLICY.current().view(clearance)


def test_who_is_answered_how() -> None:
    rules = parse("threshold: 7\nroles: {public: protected, department: STATISTICS, "
                  "admin: exact}\n")
    public = answering(rules, view(Clearance("public")))
    assert public.protected and public.threshold == 7
    assert not answering(rules, view(Clearance("department", "TAX", "STATISTICS"))).protected
    assert not answering(rules, view(Clearance("admin"))).protected
    with pytest.raises(PurposeRequired) as refused:
        answering(rules, view(Clearance("department", "TAX", "INSPECTION")))
    assert refused.value.extensions == {"code": "PURPOSE_REQUIRED", "purpose": "STATISTICS"}
    assert "X-Purpose: STATISTICS" in refused.value.message
    with pytest.raises(Forbidden):
        answering(rules, view(Clearance("auditor", "", "STATISTICS")))
    # authorization off (benchmarks): exact
    assert not answering(rules, CallerView.unrestricted()).protected
