"""Objections (异议) and credit repairs (信用修复) through the real graph (issue 15 §2):
an upheld objection and an approved repair change warnings, grades and restriction
checks from their day (``asOf`` before it gives the old answer); the disputed flag in
warnings' evidence; nobody resolves an objection on another agency's record; an
enterprise objects only on its own records and learns nothing of records it may not
see; every step in the access log; another gateway on the same database follows.

Real gateways on loopback ports over the ``user_agencies`` sources (a SQL registry, a
CSV agency, an HTTP court) and a SQLite platform database. ACME's records: REG's
penalty SAMR-1 (MEDIUM, counted), COURT's judgment default COURT-1 (HIGH, in force),
EPB's penalty EPB-1 (CONDITIONAL: not for the public or an enterprise).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ACME, ADMIN, BETA, ServerThread, h
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.runtime import Runtime, open_runtime

ACME_KEY = {"Authorization": "Bearer test-acme-key"}
BETA_KEY = {"Authorization": "Bearer test-beta-key"}
REG = {"Authorization": "Bearer test-reg-key"}
EPB = {"Authorization": "Bearer test-epb-key"}
COURT = {"Authorization": "Bearer test-court-key"}
APPROVAL = {"Authorization": "Bearer test-approval-key", "X-Purpose": "HONOUR"}
AUDITOR = {"Authorization": "Bearer test-auditor-key", "X-Purpose": "AUDIT"}
DAY1 = dt.date(2026, 11, 20)
DAY2 = dt.date(2026, 11, 25)

FILE = """mutation($r: String!, $a: String!) { fileObjection(recordId: $r, agency: $a,
  reason: "the judgment was performed in full") { id status recordId agency filedAt } }"""
RESOLVE = """mutation($id: ID!, $d: ObjectionDecision!) { resolveObjection(id: $id,
  decision: $d, note: "checked with the court") { id status resolvedOn } }"""
REQUEST = """mutation($r: String!, $a: String!) { requestCreditRepair(recordId: $r,
  agency: $a, evidence: "fine paid, rectification accepted") { id status recordId agency
  requestedAt } }"""
DECIDE = """mutation($id: ID!, $d: CreditRepairDecision!) { resolveCreditRepair(id: $id,
  decision: $d) { id status decidedAt repairedOn } }"""
STATE = """query($c: String!, $d: Date) { enterprise(creditCode: $c) {
  judgmentDefaults(period: ALL) { recordId disputed withdrawnOn objection { status } }
  penalties(period: ALL) { recordId repairedOn }
  warning(asOf: $d) { level reasons { evidence { recordId disputed } } }
  creditGrade(asOf: $d) { grade } } }"""
CHECK = """query($c: String!, $d: Date) { restrictionCheck(creditCode: $c, action: HONOUR,
  asOf: $d) { decision grade warningLevel } }"""


def configure(user_agencies: dict[str, Any]) -> Path:
    """``user_agencies`` with enterprise keys for ACME and BETA, departments of EPB and
    COURT, an approval system and an auditor."""
    config: Path = user_agencies["config"]
    text = config.read_text(encoding="utf-8")
    config.write_text(text + f"""  - id: acme
    key_sha256: "{h('test-acme-key')}"
    role: enterprise
    credit_code: "{ACME}"
  - id: beta
    key_sha256: "{h('test-beta-key')}"
    role: enterprise
    credit_code: "{BETA}"
  - id: test-epb-department
    key_sha256: "{h('test-epb-key')}"
    role: department
    agency: EPB
  - id: test-court-department
    key_sha256: "{h('test-court-key')}"
    role: department
    agency: COURT
  - id: test-approval
    key_sha256: "{h('test-approval-key')}"
    role: approval
    purposes: [HONOUR]
  - id: test-auditor
    key_sha256: "{h('test-auditor-key')}"
    role: auditor
    purposes: [AUDIT]
""", encoding="utf-8")
    return config


def start(serve: Callable[..., ServerThread], config: Path,
          days: list[dt.date]) -> ServerThread:
    """A gateway whose today is ``days[0]`` (the test moves it)."""

    def runtime(*args: Any, **kwargs: Any) -> Runtime:
        made = open_runtime(*args, **kwargs)
        made.today = lambda: days[0]
        return made

    return serve(create_app(load_config(config), AppOptions(
        freeze_heap_after_start=False, runtime_factory=runtime)))


def ask(server: ServerThread, query: str, headers: dict[str, str] | None = None,
        **variables: Any) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", json={"query": query,
                                                         "variables": variables},
                          headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(server: ServerThread, query: str, headers: dict[str, str] | None = None,
         **variables: Any) -> Any:
    body = ask(server, query, headers, **variables)
    assert "errors" not in body, body
    return body["data"]


def code(server: ServerThread, query: str, headers: dict[str, str] | None = None,
         **variables: Any) -> str:
    body = ask(server, query, headers, **variables)
    assert body.get("errors"), body
    found: str = body["errors"][0]["extensions"]["code"]
    return found


def state(server: ServerThread, as_of: dt.date | None = None) -> tuple[str, ...]:
    """ACME's warning level and grade as REG's department sees them, and the HONOUR
    check's warning level and decision (from every agency's records), asOf ``as_of``."""
    day = None if as_of is None else as_of.isoformat()
    found = data(server, STATE, REG, c=ACME, d=day)["enterprise"]
    check = data(server, CHECK, APPROVAL, c=ACME, d=day)["restrictionCheck"]
    return (found["warning"]["level"], found["creditGrade"]["grade"], check["warningLevel"],
            check["decision"])


def test_an_upheld_objection_and_an_approved_repair_change_warnings_grades_and_checks_from_their_day(  # noqa: E501
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    days = [DAY1]
    server = start(serve, configure(user_agencies), days)
    before = state(server)
    assert before == ("RED", "C", "RED", "PROHIBITED")  # REG + COURT; a judgment default

    filed = data(server, FILE, ACME_KEY, r="COURT-1", a="COURT")["fileObjection"]
    assert filed["status"] == "FILED" and filed["agency"] == "COURT"
    # under review: flagged in the record and in the warning's evidence, still counted
    seen = data(server, STATE, ACME_KEY, c=ACME)["enterprise"]
    court = seen["judgmentDefaults"][0]
    assert court == {"recordId": "COURT-1", "disputed": True, "withdrawnOn": None,
                     "objection": {"status": "FILED"}}
    evidence = [e for r in seen["warning"]["reasons"] for e in r["evidence"]]
    assert {"recordId": "COURT-1", "disputed": True} in evidence
    assert {"recordId": "SAMR-1", "disputed": False} in evidence
    assert state(server) == before

    resolved = data(server, RESOLVE, COURT, id=filed["id"], d="UPHELD")["resolveObjection"]
    assert resolved["status"] == "UPHELD" and resolved["resolvedOn"] == DAY1.isoformat()
    court = data(server, STATE, ACME_KEY, c=ACME)["enterprise"]["judgmentDefaults"][0]
    assert court["withdrawnOn"] == DAY1.isoformat() and court["disputed"] is False
    # the check also counts COURT-2, a listing of ACME's legal representative: REG's
    # department objects to it (found among the registry's records by person), upheld
    other = data(server, FILE, REG, r="COURT-2", a="COURT")["fileObjection"]
    data(server, RESOLVE, COURT, id=other["id"], d="UPHELD")
    # from DAY1 the court's records are withdrawn: REG's penalty alone (YELLOW), still C
    assert state(server) == ("YELLOW", "C", "YELLOW", "PROHIBITED")

    days[0] = DAY2
    asked = data(server, REQUEST, ACME_KEY, r="SAMR-1", a="REG")["requestCreditRepair"]
    assert asked["status"] == "REQUESTED"
    decided = data(server, DECIDE, REG, id=asked["id"], d="APPROVED")["resolveCreditRepair"]
    assert decided["status"] == "APPROVED" and decided["repairedOn"] == DAY2.isoformat()
    assert state(server) == ("NONE", "A", "NONE", "ALLOWED")
    penalties = data(server, STATE, ACME_KEY, c=ACME)["enterprise"]["penalties"]
    assert {"recordId": "SAMR-1", "repairedOn": DAY2.isoformat()} in penalties
    # asOf before each day still gives the answer of that day
    assert state(server, DAY1 - dt.timedelta(days=1)) == before
    assert state(server, DAY1) == ("YELLOW", "C", "YELLOW", "PROHIBITED")
    assert state(server, DAY2 - dt.timedelta(days=1)) == ("YELLOW", "C", "YELLOW",
                                                        "PROHIBITED")
    assert state(server, DAY2) == ("NONE", "A", "NONE", "ALLOWED")

    # the enterprise sees its own objection and repair; another enterprise sees none
    mine = data(server, "{ objections { id status } creditRepairs { id status } }", ACME_KEY)
    assert mine == {"objections": [{"id": filed["id"], "status": "UPHELD"}],
                    "creditRepairs": [{"id": asked["id"], "status": "APPROVED"}]}
    assert data(server, "{ objections { id } creditRepairs { id } }", BETA_KEY) == {
        "objections": [], "creditRepairs": []}
    assert code(server, "{ objections { id } }") == "FORBIDDEN"  # the public

    # every step is in the access log, for auditors
    steps = audited_steps(server)
    workflow = [s for s in steps if s.startswith(("objection", "repair"))]
    assert workflow == ["objection file", "objection resolve", "repair request",
                        "repair resolve"]


def audited_steps(server: ServerThread) -> list[str]:
    query = """query($c: String!) { accessLog(filter: {creditCode: $c}, first: 200) {
      entries { operation principal outcome } } }"""
    deadline = time.monotonic() + 10
    while True:
        entries = data(server, query, AUDITOR, c=ACME)["accessLog"]["entries"]
        steps = [e["operation"] for e in entries if e["outcome"] == "ok"]
        if len([s for s in steps if s.startswith(("objection", "repair"))]) >= 4:
            return steps
        assert time.monotonic() < deadline, entries
        time.sleep(0.2)


def test_nobody_resolves_an_objection_on_another_agencys_record(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    server = start(serve, configure(user_agencies), [DAY1])
    # REG's department objects to COURT's record: it may read its objection ...
    filed = data(server, FILE, REG, r="COURT-1", a="COURT")["fileObjection"]
    # ... but only COURT (the owner) or an admin resolves it
    assert code(server, RESOLVE, REG, id=filed["id"], d="UPHELD") == "FORBIDDEN"
    # another agency's department does not even learn it exists
    assert code(server, RESOLVE, EPB, id=filed["id"], d="UPHELD") == "OBJECTION_NOT_FOUND"
    assert code(server, RESOLVE, EPB, id="999", d="UPHELD") == "OBJECTION_NOT_FOUND"
    # nor does the enterprise (a department's objection; the record might be hidden)
    assert code(server, RESOLVE, ACME_KEY, id=filed["id"], d="UPHELD") == (
        "OBJECTION_NOT_FOUND")
    repair = data(server, REQUEST, ACME_KEY, r="SAMR-1", a="REG")["requestCreditRepair"]
    assert code(server, DECIDE, COURT, id=repair["id"], d="APPROVED") == (
        "CREDIT_REPAIR_NOT_FOUND")
    assert code(server, DECIDE, ACME_KEY, id=repair["id"], d="APPROVED") == "FORBIDDEN"
    # nothing changed: still under review, still RED
    court = data(server, STATE, REG, c=ACME)["enterprise"]["judgmentDefaults"][0]
    assert court["objection"] == {"status": "FILED"} and court["disputed"] is True
    assert state(server)[0] == "RED"
    # the owner resolves it, once; an admin could have
    assert data(server, RESOLVE, COURT, id=filed["id"], d="REJECTED")[
        "resolveObjection"]["status"] == "REJECTED"
    assert code(server, RESOLVE, ADMIN, id=filed["id"], d="UPHELD") == "WORKFLOW_CONFLICT"
    assert state(server)[0] == "RED"  # a rejected objection leaves the record counting


def test_an_enterprise_objects_only_on_its_own_records_it_may_see(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    server = start(serve, configure(user_agencies), [DAY1])
    missing = ask(server, FILE, BETA_KEY, r="SAMR-1", a="REG")  # ACME's record
    assert missing["errors"][0]["extensions"]["code"] == "RECORD_NOT_FOUND"
    hidden = ask(server, FILE, ACME_KEY, r="EPB-1", a="EPB")  # CONDITIONAL: not for it
    unknown = ask(server, FILE, ACME_KEY, r="EPB-404", a="EPB")
    assert hidden["errors"][0]["extensions"]["code"] == "RECORD_NOT_FOUND"
    # a hidden record is refused exactly like one that does not exist
    assert (hidden["errors"][0]["message"].replace("EPB-1", "X")
            == unknown["errors"][0]["message"].replace("EPB-404", "X"))
    assert code(server, REQUEST, ACME_KEY, r="EPB-1", a="EPB") == "RECORD_NOT_FOUND"
    assert code(server, FILE, APPROVAL, r="SAMR-1", a="REG") == "FORBIDDEN"
    public = ask(server, FILE, None, r="SAMR-1", a="REG")  # the public schema: no mutations
    assert public["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # its own visible record: filed, once
    assert data(server, FILE, ACME_KEY, r="SAMR-1", a="REG")["fileObjection"]["status"] == (
        "FILED")
    assert code(server, FILE, ACME_KEY, r="SAMR-1", a="REG") == "WORKFLOW_CONFLICT"
    # a department's objection to a record the enterprise may not see stays unknown to it
    reg_inspecting = {**REG, "X-Purpose": "INSPECTION"}  # CONDITIONAL records for REG
    assert data(server, FILE, reg_inspecting, r="EPB-1", a="EPB")["fileObjection"][
        "status"] == "FILED"
    assert [o["recordId"] for o in data(server, "{ objections { recordId } }", ACME_KEY)[
        "objections"]] == ["SAMR-1"]
    # the public sees the objection's status on the record it may see, nothing else
    public_view = data(server, """query($c: String!) { enterprise(creditCode: $c) {
      penalties { recordId disputed objection { status } } } }""", c=ACME)
    assert sorted(public_view["enterprise"]["penalties"], key=lambda p: p["recordId"]) == [
        {"recordId": "SAMR-1", "disputed": True, "objection": {"status": "FILED"}},
        {"recordId": "SAMR-2", "disputed": False, "objection": None}]


def test_a_second_gateway_on_the_same_database_follows_within_seconds(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    config = configure(user_agencies)
    one, two = start(serve, config, [DAY1]), start(serve, config, [DAY1])
    assert state(two)[0] == "RED"  # and now in two's answer cache
    filed = data(one, FILE, ACME_KEY, r="COURT-1", a="COURT")
    data(one, RESOLVE, COURT, id=filed["fileObjection"]["id"], d="UPHELD")
    deadline = time.monotonic() + 5  # polled every second (no Redis here)
    while state(two)[0] != "YELLOW":
        assert time.monotonic() < deadline, "the second gateway did not follow"
        time.sleep(0.2)


def test_a_disputed_record_stops_counting_when_the_policy_says_so(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], tmp_path: Path,
) -> None:
    import shutil

    from policies import policy_dir

    folder = tmp_path / "policies"
    shutil.copytree(policy_dir(), folder)
    warnings = folder / "warnings.yaml"
    warnings.write_text(warnings.read_text(encoding="utf-8").replace(
        "disputed_records_count: true", "disputed_records_count: false"),
        encoding="utf-8")
    config = configure(user_agencies)

    def runtime(*args: Any, **kwargs: Any) -> Runtime:
        made = open_runtime(*args, **kwargs)
        made.today = lambda: DAY1
        return made

    server = serve(create_app(load_config(config), AppOptions(
        freeze_heap_after_start=False, runtime_factory=runtime, policy_dir=folder)))
    data(server, FILE, ACME_KEY, r="COURT-1", a="COURT")
    # under review it no longer counts (from the day it was filed), and asOf before does
    assert state(server)[:2] == ("YELLOW", "C")
    assert state(server, DAY1 - dt.timedelta(days=1))[:2] == ("RED", "C")


@pytest.mark.redis
@pytest.mark.postgres
def test_on_postgresql_with_redis_another_gateway_follows_within_a_second(
    postgres_schema: str,  # first: dropped after the gateways have stopped
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], redis_url: str,
    postgres_url: str,
) -> None:
    config = configure(user_agencies)
    config.write_text(config.read_text(encoding="utf-8") + f"""platform:
  database: {postgres_url}
  schema: {postgres_schema}
""", encoding="utf-8")

    def runtime(*args: Any, **kwargs: Any) -> Runtime:
        made = open_runtime(*args, **kwargs)
        made.today = lambda: DAY1
        return made

    one, two = (serve(create_app(load_config(config), AppOptions(
        freeze_heap_after_start=False, runtime_factory=runtime, redis_url=redis_url)))
        for _ in range(2))
    assert state(two)[0] == "RED"
    filed = data(one, FILE, ACME_KEY, r="COURT-1", a="COURT")["fileObjection"]
    assert data(two, RESOLVE, COURT, id=filed["id"], d="UPHELD")[  # read and resolved on two
        "resolveObjection"]["status"] == "UPHELD"
    started = time.monotonic()
    while state(one)[0] != "YELLOW":
        assert time.monotonic() - started <= 1.5, "the first gateway did not follow"
        time.sleep(0.05)


def test_the_demo_enterprise_key_is_bound_to_the_demo_showcase(
    demo_files: tuple[Path, str, str],
) -> None:
    from gateway.demo.principals import DEMO_ENTERPRISES, demo_principals

    assert DEMO_ENTERPRISES["demo-enterprise"][1] == demo_files[1]
    [enterprise] = [p for p in demo_principals() if p["role"] == "enterprise"]
    assert enterprise["credit_code"] == demo_files[1]


def test_registry_wide_filters_see_the_overlay(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    server = start(serve, configure(user_agencies), [DAY1])
    query = """query($l: WarningLevel!) { enterprises(filter: {warningLevel: $l}) {
      edges { node { creditCode } } } }"""

    def warned(level: str) -> list[str]:
        found = data(server, query, REG, l=level)["enterprises"]["edges"]
        return [edge["node"]["creditCode"] for edge in found]

    assert ACME in warned("RED")
    filed = data(server, FILE, ACME_KEY, r="COURT-1", a="COURT")["fileObjection"]
    data(server, RESOLVE, COURT, id=filed["id"], d="UPHELD")
    assert ACME not in warned("RED") and ACME in warned("YELLOW")
