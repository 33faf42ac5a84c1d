"""Configuration errors name the file, the agency and the field."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError, load_config

GOOD = """
agencies:
  - code: SAMR
    name: 市场监督管理局
    kind: sql
    url: sqlite+aiosqlite:///data/samr.db
    provides: [enterprise, person, licence, penalty, anomaly, serious_violation, inspection]
    tables: {penalty: xzcf}
    columns: {penalty: {decision_no: wsh}}
    timeout_s: 2
    cache_ttl_s: 60
  - code: COURT
    name: 人民法院
    kind: http
    base_url: http://127.0.0.1:9001/api
    provides: [judgment_default]
  - code: EPB
    name: 生态环境局
    kind: csv
    path: data/epb
    provides: [penalty, licence]
principals:
  - id: tax-inspection-app
    key_sha256: "%s"
    role: department
    agency: SAMR
    purposes: [INSPECTION, CASE_HANDLING]
""" % ("ab" * 32)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.problems


def test_the_standard_example_loads_with_paths_resolved(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert [a.code for a in config.agencies] == ["SAMR", "COURT", "EPB"]
    assert config.registry.code == "SAMR"
    samr = config.agencies[0]
    assert samr.location == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'samr.db'}"
    assert samr.table_for("penalty") == "xzcf"
    assert samr.source_column("penalty", "decision_no") == "wsh"
    assert config.agencies[2].location == str(tmp_path / "data" / "epb")
    assert config.principals[0].purposes == ("INSPECTION", "CASE_HANDLING")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("kind: http", "kind: ftp", "agencies[1] (COURT): kind: must be one of sql, csv, http"),
        ("    base_url: http://127.0.0.1:9001/api\n", "",
         "agencies[1] (COURT): base_url: required for kind http"),
        ("provides: [judgment_default]", "provides: [judgement]",
         "agencies[1] (COURT): provides: unknown record type 'judgement'"),
        ("{penalty: {decision_no: wsh}}", "{penalty: {decision_number: wsh}}",
         "agencies[0] (SAMR): columns.penalty: 'decision_no' is not a column"[:45]),
        ("tables: {penalty: xzcf}", "tables: {court_case: xzcf}",
         "agencies[0] (SAMR): tables: 'court_case' is not in this agency's provides"),
        ("timeout_s: 2", "timeout_s: soon", "agencies[0] (SAMR): timeout_s: must be a number"),
        ("code: EPB", "code: COURT", "agency code COURT is used more than once"),
        ("provides: [penalty, licence]", "provides: [enterprise]",
         "exactly one agency must provide enterprise (the registry); found 2: SAMR, EPB"),
        ("role: department", "role: boss", "principals[0] (tax-inspection-app): role: must be"),
        ("purposes: [INSPECTION, CASE_HANDLING]", "purposes: [SNOOPING]",
         "principals[0] (tax-inspection-app): purposes: unknown purpose 'SNOOPING'"),
        ("agency: SAMR", "agency: MOON",
         "principals[0] (tax-inspection-app): agency: 'MOON' is not an agency"),
        ('key_sha256: "', 'key_sha256: "zz', "key_sha256: must be 64 lower-case hex"),
        ("    cache_ttl_s: 60\n", "    cache_ttl_s: 60\n    colour: red\n",
         "agencies[0] (SAMR): unknown field 'colour'"),
        ("role: department\n    agency: SAMR", "role: enterprise",
         "principals[0] (tax-inspection-app): credit_code: required for role enterprise"),
        ("role: department\n    agency: SAMR",
         "role: enterprise\n    credit_code: 91350100M000100Y4Z",
         "credit_code: '91350100M000100Y4Z' is not a valid unified social credit code"),
        ("role: department\n    agency: SAMR", "role: enterprise\n    agency: SAMR\n"
         "    credit_code: 91350100M000100Y43",
         "principals[0] (tax-inspection-app): agency: an enterprise principal belongs to no"),
        ("agency: SAMR", "agency: SAMR\n    credit_code: 91350100M000100Y43",
         "principals[0] (tax-inspection-app): credit_code: only for role enterprise"),
    ],
)
def test_each_problem_is_located(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert any(p.startswith("gateway.yaml: ") and expected in p for p in found), found


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("kind: http", "kind: ftp").replace("role: department", "role: boss")
    assert len(problems(tmp_path, text)) == 2


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "is not valid YAML" in problems(tmp_path, "agencies: [\n")[0]
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.yaml")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_check_config_command(tmp_path: Path) -> None:
    (tmp_path / "data" / "epb").mkdir(parents=True)  # the sources' files must exist
    with sqlite3.connect(tmp_path / "data" / "samr.db") as database:
        database.execute("CREATE TABLE xzcf (wsh TEXT)")
    good = run_cli("check-config", "--config", str(write(tmp_path, GOOD)))
    assert good.returncode == 0, good.stderr
    assert "OK - 3 agencies, 1 principals, registry SAMR" in good.stdout
    ftp = GOOD.replace("kind: http", "kind: ftp")
    bad = run_cli("check-config", "--config", str(write(tmp_path, ftp)))
    assert bad.returncode == 1
    assert "gateway.yaml: agencies[1] (COURT): kind: must be one of" in bad.stderr


def test_check_data_reports_bad_rows_by_agency_type_and_record(
    user_agencies: dict[str, Any],
) -> None:
    result = run_cli("check-data", "--config", str(user_agencies["config"]))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "REG enterprise: 3 records" in result.stdout
    assert "COURT judgment_default: skipped (http sources cannot be listed)" in result.stdout
    assert "problem: EPB penalty EPB-2: bad date in decided_on: '2026-02-30'" in result.stdout


def test_the_policies_key_says_where_the_access_policy_is_kept(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).policies.store == "files"  # the default
    config = load_config(write(tmp_path, GOOD + "policies:\n  store: database\n  poll_s: 5\n"))
    assert (config.policies.store, config.policies.poll_s) == ("database", 5.0)
    assert config.policies.in_database
    found = problems(tmp_path, GOOD + "policies:\n  store: redis\n  poll_s: 6\n  watch: yes\n")
    assert found == [
        "gateway.yaml: policies: unknown field 'watch' (known: store, poll_s)",
        "gateway.yaml: policies: store: must be files or database, got 'redis'",
        "gateway.yaml: policies: poll_s: must be a number of seconds > 0 and at most 5, "
        "got 6",
    ]
    assert problems(tmp_path, GOOD + "policies:\n  poll_s: true\n") == [
        "gateway.yaml: policies: poll_s: must be a number of seconds > 0 and at most 5, "
        "got True"]


def test_an_enterprise_principal_is_bound_to_its_credit_code(tmp_path: Path) -> None:
    text = GOOD.replace("role: department\n    agency: SAMR",
                        "role: enterprise\n    credit_code: 91350100M000100Y43")
    principal = load_config(write(tmp_path, text)).principals[0]
    assert (principal.role, principal.agency, principal.credit_code) == (
        "enterprise", None, "91350100M000100Y43")
