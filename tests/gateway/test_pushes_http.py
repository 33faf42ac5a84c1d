"""Push and claim (双告知) through the graph, on a real server: a department lists and
claims its agency's items, the supervisor sees what escalated, nobody else sees or
claims them - and an item whose enterprise the caller may not see is absent and
unclaimable exactly like one that does not exist."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ACME, ServerThread, _code, h
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.events import Registered
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.store import open_store
from gateway.push_jobs import PushJobs
from gateway.push_store import list_items
from schema.licensing import load_licensing

POLICIES = Path(__file__).resolve().parents[2] / "policies"
HIDDEN = _code("91110102MA0000009")  # a CONDITIONAL registry record (有条件开放)
NOW = dt.datetime.now(dt.UTC)
EPB = {"Authorization": "Bearer test-epb-key"}
EPB_INSPECTING = {**EPB, "X-Purpose": "INSPECTION"}
SUPERVISOR = {"Authorization": "Bearer test-epb-supervisor-key", "X-Purpose": "INSPECTION"}
REG = {"Authorization": "Bearer test-reg-key", "X-Purpose": "INSPECTION"}
ADMIN = {"Authorization": "Bearer test-admin-key"}
LIST = """query Pushed($status: PushStatus) { pushedRegistrations(status: $status) {
  id creditCode agency licences status dueAt claimedBy escalatedAt
  enterprise { name businessScope } } }"""
CLAIM = """mutation Claim($id: ID!) { claimRegistration(id: $id) {
  id status claimedBy claimedAt } }"""
PRINCIPALS = f"""  - id: test-epb-department
    key_sha256: "{h('test-epb-key')}"
    role: department
    agency: EPB
    purposes: [INSPECTION]
  - id: test-epb-supervisor
    key_sha256: "{h('test-epb-supervisor-key')}"
    role: supervisor
    agency: EPB
    purposes: [INSPECTION]
"""


@pytest.fixture
def folder(user_agencies: dict[str, Any]) -> Path:
    """``user_agencies`` with an EPB department and supervisor and HIDDEN, an enterprise
    whose registry record is CONDITIONAL."""
    with sqlite3.connect(user_agencies["dir"] / "registry.db") as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM qyjbxx WHERE credit_code = ?", (ACME,)).fetchone())
        row.update(record_id="E-HIDDEN", credit_code=HIDDEN, qymc="北京隐化工有限公司",
                   openness="有条件开放")
        db.execute(f"INSERT INTO qyjbxx ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                   list(row.values()))
    path: Path = user_agencies["config"]
    path.write_text(path.read_text(encoding="utf-8") + PRINCIPALS, encoding="utf-8")
    return Path(user_agencies["dir"])


@pytest.fixture
def server(folder: Path, serve: Callable[..., ServerThread]) -> ServerThread:
    return serve(create_app(load_config(folder / "agencies.yaml"),
                            AppOptions(freeze_heap_after_start=False)))


def leader_step(folder: Path, step: Callable[[PushJobs], Any],
                now: dt.datetime = NOW) -> Any:
    """Run ``step`` as the cluster's leader would, on the server's platform database."""
    async def run() -> Any:
        store = open_store(PlatformSettings(f"sqlite+aiosqlite:///{folder / 'platform.db'}"))
        try:
            jobs = PushJobs(store, lambda: load_licensing(POLICIES), ("REG", "EPB", "COURT"),
                            log=None, leads=lambda: True, clock=lambda: now)
            return await step(jobs)
        finally:
            await store.aclose()
    return asyncio.run(run())


def push(folder: Path, code: str) -> None:
    event = Registered(code, "-", "110102", "化学原料和化学制品制造业", "涂料制造；化工产品销售",
                       dt.date(2026, 11, 30), NOW)
    leader_step(folder, lambda jobs: jobs.push(event))


def ask(server: ServerThread, query: str, headers: dict[str, str],
        **variables: Any) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", headers=headers, timeout=30,
                          json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def items(server: ServerThread, headers: dict[str, str], **variables: Any) -> list[Any]:
    body = ask(server, LIST, headers, **variables)
    assert "errors" not in body, body["errors"]
    found: list[Any] = body["data"]["pushedRegistrations"]
    return found


def code_of(body: dict[str, Any]) -> str:
    found: str = body["errors"][0]["extensions"]["code"]
    return found


def claims_logged(folder: Path, at_least: int) -> list[tuple[str, str, str]]:
    deadline = time.monotonic() + 5
    while True:
        with sqlite3.connect(folder / "platform.db") as db:
            rows = db.execute("SELECT principal, credit_codes, refusal_code FROM access_log "
                              "WHERE operation = 'push claim' ORDER BY id").fetchall()
        if len(rows) >= at_least or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_a_department_claims_its_agencys_registrations_and_the_supervisor_gets_the_rest(
        folder: Path, server: ServerThread) -> None:
    push(folder, ACME)
    push(folder, HIDDEN)
    # a department of EPB with a purpose sees both, with the enterprise through its view
    both = items(server, EPB_INSPECTING)
    assert [(i["creditCode"], i["agency"], i["status"]) for i in both] == [
        (ACME, "EPB", "PUSHED"), (HIDDEN, "EPB", "PUSHED")]
    assert both[0]["licences"] == ["排污许可 (pollutant discharge)"]
    assert both[0]["enterprise"]["name"] == "北京甲餐饮有限公司"
    acme_id, hidden_id = both[0]["id"], both[1]["id"]
    # ... the supervisor nothing yet (nothing escalated), another agency nothing at all
    assert items(server, SUPERVISOR) == []
    assert items(server, REG) == []
    assert code_of(ask(server, CLAIM, REG, id=acme_id)) == "PUSH_NOT_FOUND"
    # the department claims ACME's item; a second claim is refused, naming who was first
    claimed = ask(server, CLAIM, EPB_INSPECTING, id=acme_id)["data"]["claimRegistration"]
    assert (claimed["status"], claimed["claimedBy"]) == ("CLAIMED", "test-epb-department")
    again = ask(server, CLAIM, EPB_INSPECTING, id=acme_id)
    assert code_of(again) == "PUSH_ALREADY_CLAIMED"
    assert "test-epb-department" in again["errors"][0]["message"]
    assert [i["creditCode"] for i in items(server, EPB_INSPECTING, status="PUSHED")] == [HIDDEN]
    # five days on, the leader escalates what nobody claimed: the supervisor sees it
    escalated = leader_step(folder, lambda jobs: jobs.escalate(),
                            NOW + dt.timedelta(days=5, seconds=1))
    assert [row.credit_code for row in escalated] == [HIDDEN]
    seen = items(server, SUPERVISOR)
    assert [(i["creditCode"], i["status"]) for i in seen] == [(HIDDEN, "ESCALATED")]
    assert seen[0]["escalatedAt"] is not None
    assert code_of(ask(server, CLAIM, SUPERVISOR, id=acme_id)) == "PUSH_NOT_FOUND"
    late = ask(server, CLAIM, SUPERVISOR, id=hidden_id)["data"]["claimRegistration"]
    assert (late["status"], late["claimedBy"]) == ("CLAIMED", "test-epb-supervisor")
    # every claim, refused or not, is in the access log
    assert claims_logged(folder, 3) == [
        ("test-epb-department", f'["{ACME}"]', ""),
        ("test-epb-department", f'["{ACME}"]', "PUSH_ALREADY_CLAIMED"),
        ("test-epb-supervisor", f'["{HIDDEN}"]', "")]


def test_an_item_of_an_enterprise_the_caller_may_not_see_is_absent_and_unclaimable(
        folder: Path, server: ServerThread) -> None:
    push(folder, HIDDEN)
    hidden_id = str(leader_step(
        folder, lambda jobs: list_items(jobs._store, "EPB", None, False, 10))[0].id)
    # without a purpose the CONDITIONAL registry record is not the department's to see:
    # the item is absent, and claiming it answers as for an id that does not exist
    assert items(server, EPB) == []
    hidden = ask(server, CLAIM, EPB, id=hidden_id)
    missing = ask(server, CLAIM, EPB, id="999999")
    assert code_of(hidden) == code_of(missing) == "PUSH_NOT_FOUND"
    assert hidden["errors"][0]["message"].replace(hidden_id, "N") == \
        missing["errors"][0]["message"].replace("999999", "N")
    assert HIDDEN not in str(hidden)
    # the public's schema has no such field; admins see every item
    assert code_of(ask(server, LIST, {})) == "GRAPHQL_VALIDATION_FAILED"
    assert [i["creditCode"] for i in items(server, ADMIN)] == [HIDDEN]
