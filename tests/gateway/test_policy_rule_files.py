"""The rule files kept in the platform database (policies.store: database):
``gateway policy show|set-file``, the checks that refuse a bad file (nothing changes),
the history and access log, and the new rules in force on every gateway: warning
thresholds, the restriction catalogue (the ``RestrictionAction`` enum of both schemas),
rate limits."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_policy_changes import post, start, version

from conftest import ACME, ADMIN, ServerThread, in_database
from gateway.cli import main
from policies import policy_dir

CLI = f"cli:{getpass.getuser()}"
AUDITOR = {"Authorization": "Bearer test-auditor-key", "X-Purpose": "AUDIT"}
WARNING = '{ enterprise(creditCode: "%s") { warning { level } } }' % ACME
ACTIONS = '{ __type(name: "RestrictionAction") { enumValues { name } } }'
NEW_ACTION = """
  PILOT_SUBSIDY:
    name: 试点补贴 (pilot subsidy)
    rules:
      - {warning: ORANGE, decision: PROHIBITED, measure: "橙色预警不予补贴 (none if orange)"}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def set_file(capsys: pytest.CaptureFixture[str], config: Path, name: str, text: str,
             *extra: str) -> tuple[int, str, str]:
    edited = config.parent / f"edited-{name}"
    edited.write_text(text, encoding="utf-8")
    return run(capsys, "policy", "set-file", name, str(edited), "--config", str(config),
               *extra)


def shown(capsys: pytest.CaptureFixture[str], config: Path, name: str) -> str:
    code, out, err = run(capsys, "policy", "show", name, "--config", str(config))
    assert code == 0, err
    return out


def warning_level(server: ServerThread) -> str:
    body = post(server, WARNING, ADMIN).json()
    level: str = body["data"]["enterprise"]["warning"]["level"]
    return level


def actions(server: ServerThread, headers: dict[str, str] | None = None) -> set[str]:
    found = post(server, ACTIONS, headers).json()["data"]["__type"]
    return {value["name"] for value in found["enumValues"]}


def within(bound_s: float, arrived: Callable[[], bool], what: str) -> None:
    started = time.monotonic()
    while not arrived():
        assert time.monotonic() - started <= bound_s, f"{what}: not within {bound_s} s"
        time.sleep(0.05)


def logged(config: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(config.parent / "platform.db") as db:
        return db.execute("SELECT principal, operation, outcome, refusal_code FROM access_log "
                          "WHERE principal = ? ORDER BY id", (CLI,)).fetchall()


@pytest.mark.redis
def test_rules_set_on_the_command_line_apply_on_every_gateway_within_a_second(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = in_database(user_agencies, poll_s=5)  # only the notification is this fast
    a, b = start(serve, config, redis_url), start(serve, config, redis_url)
    assert warning_level(b) == "RED"  # HIGH records from two agencies
    assert "PILOT_SUBSIDY" not in actions(b, ADMIN)

    warnings = shown(capsys, config, "warnings.yaml")
    assert warnings == (policy_dir() / "warnings.yaml").read_text(encoding="utf-8")
    stricter = warnings.replace("min_agencies: 2", "min_agencies: 3")
    assert stricter != warnings
    code, out, _ = set_file(capsys, config, "warnings.yaml", stricter, "--redis-url", redis_url,
                            "--reason", "red from three agencies")
    assert code == 0 and "policy version 2" in out
    within(1.0, lambda: warning_level(b) == "ORANGE", "the new warning threshold on b")
    assert warning_level(a) == "ORANGE"

    restrictions = shown(capsys, config, "restrictions.yaml") + NEW_ACTION
    assert set_file(capsys, config, "restrictions.yaml", restrictions,
                    "--redis-url", redis_url)[0] == 0
    within(1.0, lambda: "PILOT_SUBSIDY" in actions(b, ADMIN), "the new action on b")
    assert "PILOT_SUBSIDY" in actions(b)  # the public schema's enum too
    check = ('{ restrictionCheck(creditCode: "%s", action: PILOT_SUBSIDY) '
             "{ action decision warningLevel } }" % ACME)
    for server in (a, b):
        answer = post(server, check, ADMIN).json()
        assert answer == {"data": {"restrictionCheck": {
            "action": "PILOT_SUBSIDY", "decision": "PROHIBITED", "warningLevel": "ORANGE"}}}
    assert version(a) == version(b) == 3


def test_a_gateway_starts_with_the_rules_of_the_database_not_of_its_folder(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = in_database(user_agencies)
    restrictions = shown(capsys, config, "restrictions.yaml") + NEW_ACTION  # seeds the database
    assert set_file(capsys, config, "restrictions.yaml", restrictions)[0] == 0
    server = start(serve, config)
    assert "PILOT_SUBSIDY" in actions(server, ADMIN) and version(server) == 2


@pytest.mark.parametrize(("name", "edit", "says"), [
    ("warnings.yaml", lambda text: text.replace("min_agencies: 2", "min_agencies: 1"),
     "warnings.yaml (platform database): cross_agency.red.min_agencies: must be a whole "
     "number >= 2, got 1"),
    ("restrictions.yaml", lambda text: text + "\n  broken: [\n",
     "restrictions.yaml (platform database): is not valid YAML"),
    ("restrictions.yaml", lambda text: text.replace("HONOUR:", "HONOURS:"),
     "restrictions.yaml (platform database): actions.HONOUR: missing (required action)"),
    ("rate_limits.yaml", lambda text: text.replace("{requests: 60,", "{requests: 0,"),
     "rate_limits.yaml (platform database): roles.public.requests: must be a whole number "
     "from 1 to"),
    ("audit.yaml", lambda text: text + "\nvolume: [1, 2]\n",
     "refused, volume and office_hours must be mappings"),
    ("model.conf", lambda text: text.replace("[matchers]", "[matches]"),
     "model.conf (platform database) / policy rules (platform database): Casbin cannot use"),
    ("grades.yaml", lambda text: text, "grades.yaml: this text is in force already"),
    ("nothing.yaml", lambda text: text, "nothing.yaml: not a document of the policy"),
    ("policy.csv", lambda text: text, "use set-field-class, add-rule, remove-rule"),
])
def test_a_file_the_checks_refuse_exits_1_and_changes_nothing(
    user_agencies: dict[str, Any], capsys: pytest.CaptureFixture[str], name: str,
    edit: Callable[[str], str], says: str,
) -> None:
    config = in_database(user_agencies)
    seeded = {n: shown(capsys, config, n) for n in ("warnings.yaml", "restrictions.yaml")}
    before = (policy_dir() / name).read_text(encoding="utf-8") if name != "nothing.yaml" else ""
    code, _, err = set_file(capsys, config, name, edit(before))
    assert code == 1
    assert err.startswith("POLICY_CHANGE_REFUSED: ") and says in err
    _, out, _ = run(capsys, "policy", "history", "--config", str(config))
    assert len(out.splitlines()) == 2  # the header and the seed
    assert {n: shown(capsys, config, n) for n in seeded} == seeded
    assert logged(config) == [(CLI, "policy set-file", "refused", "POLICY_CHANGE_REFUSED")]


def test_set_file_keeps_digests_in_the_history_and_an_access_log_entry(
    user_agencies: dict[str, Any], capsys: pytest.CaptureFixture[str],
) -> None:
    config = in_database(user_agencies)
    before = shown(capsys, config, "warnings.yaml")
    after = before.replace("min_agencies: 2", "min_agencies: 3")
    assert set_file(capsys, config, "warnings.yaml", after, "--reason", "stricter red")[0] == 0
    assert shown(capsys, config, "warnings.yaml") == after
    _, out, _ = run(capsys, "policy", "history", "--config", str(config))
    line = out.splitlines()[2]
    assert line.split()[0] == "2" and CLI in line
    assert line.endswith(", +1 -1 lines  stricter red")
    assert "warnings.yaml: sha256 " in line and f"({len(before.encode())} bytes) -> " in line
    with sqlite3.connect(config.parent / "platform.db") as db:
        change = json.loads(db.execute("SELECT change FROM policy_versions "
                                       "WHERE version = 2").fetchone()[0])
    assert change["kind"] == "set-file" and change["name"] == "warnings.yaml"
    assert change["after"]["bytes"] == len(after.encode()) and len(change["after"]["sha256"]) == 64
    assert "min_agencies" not in json.dumps(change)  # digests, not the texts
    assert logged(config) == [(CLI, "policy set-file", "ok", "")]
    code, out, _ = run(capsys, "audit", "verify", "--config", str(config))
    assert code == 0, out


def test_new_rate_limits_apply_on_a_running_gateway(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = in_database(user_agencies, poll_s=1)  # no Redis: seen by polling
    server = start(serve, config)
    limits = shown(capsys, config, "rate_limits.yaml")
    fewer = limits.replace("public:     {requests: 60,", "public:     {requests: 3,")
    assert fewer != limits and set_file(capsys, config, "rate_limits.yaml", fewer)[0] == 0
    within(5.0, lambda: version(server) == 2, "version 2 by polling")
    statuses = [httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"},
                           timeout=10).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"}, timeout=10)
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "3 requests per 60 s" in refused.json()["errors"][0]["message"]


def test_new_audit_alert_rules_apply_on_a_running_gateway(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config: Path = user_agencies["config"]
    config.write_text(config.read_text(encoding="utf-8") + f"""  - id: test-auditor
    key_sha256: "{hashlib.sha256(b'test-auditor-key').hexdigest()}"
    role: auditor
    purposes: [AUDIT]
""", encoding="utf-8")
    in_database(user_agencies, poll_s=1)  # no Redis: seen by polling
    server = start(serve, config)
    forbidden = post(server, 'mutation { setFieldClass(type: "Enterprise", field: "address", '
                     "openness: OPEN) { openness } }", {"Authorization": "Bearer test-epb-key"})
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    today = dt.datetime.now(dt.UTC).date()
    alerts = '{ accessAlerts(since: "%s", until: "%s") { kind detail } }' % (
        today - dt.timedelta(days=1), today + dt.timedelta(days=1))

    def refused() -> list[str]:
        found = post(server, alerts, AUDITOR).json()["data"]["accessAlerts"]
        return [a["detail"] for a in found if a["kind"] == "REFUSED"]

    within(5.0, lambda: "refused: refused FORBIDDEN" in refused(), "the entry, flagged")
    rules = shown(capsys, config, "audit.yaml")
    quiet = rules.replace('outcomes: ["401", "403"]', "outcomes: []").replace(
        "codes: [FILTER_NOT_ALLOWED, FORBIDDEN, PURPOSE_NOT_ALLOWED, UNAUTHENTICATED]",
        "codes: []")
    assert quiet.count("[]") == 2 and set_file(capsys, config, "audit.yaml", quiet)[0] == 0
    within(5.0, lambda: version(server) == 2, "version 2 by polling")
    assert refused() == []


def test_rule_files_new_in_a_gateway_version_are_added_to_a_seeded_database(
    user_agencies: dict[str, Any], capsys: pytest.CaptureFixture[str],
) -> None:
    """A database seeded by an earlier version lacks the rule files added since: the next
    start adds them as a version of their own (the documents it holds stay), and they
    can then be changed like the others."""
    config = in_database(user_agencies)
    warnings = shown(capsys, config, "warnings.yaml")  # seeds the database
    with sqlite3.connect(config.parent / "platform.db") as db:  # as an earlier version left it
        db.execute("DELETE FROM policy_documents WHERE name IN "
                   "('inspections.yaml', 'statistics.yaml')")
        db.execute("UPDATE policy_documents SET text = text || '# kept' "
                   "WHERE name = 'warnings.yaml'")
    assert shown(capsys, config, "inspections.yaml") == (
        policy_dir() / "inspections.yaml").read_text(encoding="utf-8")
    assert shown(capsys, config, "warnings.yaml") == warnings + "# kept"  # never replaced
    _, out, _ = run(capsys, "policy", "history", "--config", str(config))
    line = out.splitlines()[2]
    assert line.split()[0] == "2"
    assert "added inspections.yaml, statistics.yaml from " in line
    inspections = shown(capsys, config, "inspections.yaml")
    code, _, err = set_file(capsys, config, "inspections.yaml", inspections + "\n# reviewed\n")
    assert code == 0, err
    _, out, _ = run(capsys, "policy", "history", "--config", str(config))
    assert len(out.splitlines()) == 4  # header, seed, the added files, the change
