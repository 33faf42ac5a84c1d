"""``gateway policy set-field-class|add-rule|remove-rule|history``: one checked version
per change, the history table, an access-log entry per command (the chain verifies),
refusals that change nothing, and a running gateway told at once over Redis."""

from __future__ import annotations

import getpass
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ACME, ServerThread, in_database
from gateway.app import AppOptions, create_app
from gateway.cli import main
from gateway.config import load_config

RULE = "p, auditor, ^STATISTICS$, Penalty.*, CONDITIONAL, *, allow"
CLI = f"cli:{getpass.getuser()}"



def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def logged(config: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(config.parent / "platform.db") as db:
        return db.execute("SELECT principal, operation, outcome, refusal_code FROM access_log "
                          "ORDER BY id").fetchall()


def test_set_field_class_is_a_version_in_the_history_and_the_access_log(
    user_agencies: dict[str, Any], capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(in_database(user_agencies, poll_s=5))
    code, out, _ = run(capsys, "policy", "set-field-class", "Penalty", "amount", "CONDITIONAL",
                       "--config", config, "--reason", "amounts under review")
    assert code == 0 and "policy version 2" in out
    code, out, _ = run(capsys, "policy", "history", "--config", config)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["version", "when", "(UTC)", "who", "what", "why"]
    assert lines[1].split()[0] == "1" and "seeded from" in lines[1]
    assert lines[2].split()[0] == "2" and CLI in lines[2]
    # columns are padded to the widest cell, which depends on the seeding row's path
    assert re.split(r"\s{2,}", lines[2])[-2:] == [
        "Penalty.amount: OPEN -> CONDITIONAL", "amounts under review"]
    assert logged(Path(config)) == [(CLI, "policy set-field-class", "ok", "")]
    code, out, _ = run(capsys, "audit", "verify", "--config", config)
    assert code == 0, out


def test_a_rule_is_added_then_removed(
    user_agencies: dict[str, Any], capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(in_database(user_agencies, poll_s=5))
    assert run(capsys, "policy", "add-rule", "--config", config, RULE)[0] == 0
    # the words of the line, unquoted but for the * (as a shell passes them)
    assert run(capsys, "policy", "remove-rule", "--config", config, *RULE.split())[0] == 0
    _, out, _ = run(capsys, "policy", "history", "--config", config)
    assert f"added {RULE}" in out and f"removed {RULE}" in out
    assert [operation for _, operation, _, _ in logged(Path(config))] == [
        "policy add-rule", "policy remove-rule"]


@pytest.mark.parametrize(("args", "says"), [
    (("set-field-class", "Penalty", "nickname", "OPEN"), "Penalty.nickname: no such field"),
    (("set-field-class", "Enterprise", "creditCode", "NOT_OPEN"), "must be OPEN"),
    (("set-field-class", "Penalty", "amount", "SECRET"), "class must be one of"),
    (("add-rule", "p, inspector, *, *, OPEN, *, allow"), "unknown role 'inspector'"),
    (("remove-rule", RULE), "no rule p, auditor"),
])
def test_a_refused_change_exits_1_and_changes_nothing(
    user_agencies: dict[str, Any], capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
    says: str,
) -> None:
    config = in_database(user_agencies, poll_s=5)
    command, *rest = args
    code, _, err = run(capsys, "policy", command, "--config", str(config), *rest)
    assert code == 1
    assert err.startswith("POLICY_CHANGE_REFUSED: ") and says in err
    _, out, _ = run(capsys, "policy", "history", "--config", str(config))
    assert len(out.splitlines()) == 2  # the header and the seed
    assert logged(config) == [(CLI, f"policy {command}", "refused", "POLICY_CHANGE_REFUSED")]


def test_with_the_policy_in_files_the_commands_say_where_to_change_it(
    user_agencies: dict[str, Any], capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "policy", "set-field-class", "Penalty", "amount", "OPEN",
                       "--config", str(user_agencies["config"]))
    assert code == 2 and err.startswith("POLICY_STORE_READ_ONLY: ")
    assert "policies.store: database" in err


@pytest.mark.redis
def test_a_running_gateway_applies_a_command_line_change_within_a_second(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = in_database(user_agencies, poll_s=5)  # only the notification is this fast
    server = serve(create_app(load_config(config), AppOptions(
        freeze_heap_after_start=False, redis_url=redis_url)))
    query = {"query": '{ enterprise(creditCode: "%s") { address } }' % ACME}
    headers = {"Authorization": "Bearer test-epb-key"}

    def address() -> Any:
        response = httpx.post(f"{server.url}/graphql", json=query, headers=headers, timeout=10)
        return response.json()["data"]["enterprise"]["address"]

    assert address()
    code, _, _ = run(capsys, "policy", "set-field-class", "Enterprise", "address", "NOT_OPEN",
                     "--config", str(config), "--redis-url", redis_url)
    assert code == 0
    started = time.monotonic()
    while address() is not None:
        assert time.monotonic() - started <= 1.0, "not applied within a second"
        time.sleep(0.05)
