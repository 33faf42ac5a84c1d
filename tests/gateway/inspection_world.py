"""What the inspection tests share: ``user_agencies`` with an inspector roster, two more
enterprises, an EPB department and an auditor; the queries; helpers to ask and to read
the access log."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from conftest import ACME, BETA, ServerThread, h
from connectors.credit_code import with_check_char
from gateway.app import AppOptions, create_app
from gateway.config import load_config

REG = {"Authorization": "Bearer test-reg-key", "X-Purpose": "INSPECTION"}
EPB = {"Authorization": "Bearer test-epb-key"}
AUDITOR = {"Authorization": "Bearer test-auditor-key", "X-Purpose": "AUDIT"}
PUBLIC: dict[str, str] = {}
DELTA = with_check_char("91110102MA0000004")
EPSILON = with_check_char("91110102MA0000005")

ROSTER = f"""  - id: test-epb-department
    key_sha256: "{h('test-epb-key')}"
    role: department
    agency: EPB
  - id: test-auditor
    key_sha256: "{h('test-auditor-key')}"
    role: auditor
    purposes: [AUDIT]
inspectors:
  - {{id: R1, name: 王磊, agency: REG, unit: 北京市东城区市场监督管理局}}
  - {{id: R2, name: 李娜, agency: REG, unit: 北京市朝阳区市场监督管理局}}
  - {{id: R3, name: 张伟, agency: REG, unit: 北京市西城区市场监督管理局}}
  - {{id: R4, name: 刘洋, agency: REG, unit: 北京市海淀区市场监督管理局, avoid: [{ACME}]}}
  - {{id: E1, name: 陈静, agency: EPB, unit: 生态环境局执法支队}}
"""

CREATE = """mutation Create($input: InspectionPlanInput!) {
  createInspectionPlan(input: $input) { id name agency agencies count status } }"""
DRAW = """mutation Draw($plan: ID!, $seed: String!, $reason: String) {
  drawInspection(planId: $plan, seed: $seed, reason: $reason) {
    planId seed drawnAt digest redraws reason overCount shortCount
    items { enterprise { creditCode name } inspectors { id agency unit } mandatory } } }"""
PUBLISH = """mutation Publish($plan: ID!) { publishInspectionPlan(planId: $plan) { status } }"""
PLAN = """query Plan($plan: ID!) { inspectionPlan(id: $plan) {
  id name status draw { seed digest items { enterprise { creditCode name } } } } }"""
PLANS = "{ inspectionPlans { id status } }"
RESULT = """mutation Result($plan: ID!, $code: String!, $risk: RiskLevel) {
  recordInspectionResult(planId: $plan, creditCode: $code, resultCode: "02",
                         result: "未按规定公示应当公示的信息", riskLevel: $risk) {
    agency recordId resultCode riskLevel openness } }"""
GRADE = """query Grade($code: String!) { enterprise(creditCode: $code) {
  creditGrade { grade } warning { level }
  inspections { recordId result resultCode agency { code } } } }"""


def inspections_config(user_agencies: dict[str, Any]) -> Path:
    """``user_agencies`` with an EPB department, an auditor, an inspector roster, and two
    active enterprises without any record (grade A): DELTA, and EPSILON, whose registry
    record is not open (暂不开放)."""
    with sqlite3.connect(user_agencies["dir"] / "registry.db") as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM qyjbxx WHERE credit_code = ?", (BETA,)).fetchone())
        for code, name, openness in ((DELTA, "北京丁咨询有限公司", "完全开放"),
                                     (EPSILON, "北京戊咨询有限公司", "暂不开放")):
            row.update(record_id=f"E-{code[-4:]}", credit_code=code, qymc=name,
                       legal_rep_id="P9", legal_rep_name="王五", openness=openness)
            db.execute(f"INSERT INTO qyjbxx ({', '.join(row)}) "
                       f"VALUES ({', '.join('?' * len(row))})", list(row.values()))
    path: Path = user_agencies["config"]
    path.write_text(path.read_text(encoding="utf-8") + ROSTER, encoding="utf-8")
    return path


def start(config: Path, serve: Callable[..., ServerThread]) -> ServerThread:
    return serve(create_app(load_config(config), AppOptions(freeze_heap_after_start=False)))


def ask(server: ServerThread, query: str, headers: dict[str, str],
        **variables: Any) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", headers=headers, timeout=30,
                          json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(server: ServerThread, query: str, headers: dict[str, str], **variables: Any) -> Any:
    body = ask(server, query, headers, **variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def code(body: dict[str, Any]) -> str:
    found: str = body["errors"][0]["extensions"]["code"]
    return found


def plan(server: ServerThread, headers: dict[str, str] = REG, **changes: Any) -> str:
    spec = {"name": "2026年第四季度抽查", "agency": "REG", "count": 2,
            "items": ["登记事项", "公示信息"], **changes}
    made: dict[str, Any] = data(server, CREATE, headers, input=spec)["createInspectionPlan"]
    return str(made["id"])


def log_entries(folder: Path, operation: str, at_least: int = 1,
                wait_s: float = 5.0) -> list[dict[str, Any]]:
    """The access log's entries of ``operation``, once there are ``at_least`` (the
    writer appends in batches)."""
    deadline = time.monotonic() + wait_s
    while True:
        with sqlite3.connect(folder / "platform.db") as db:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute(
                "SELECT * FROM access_log WHERE operation = ? ORDER BY id", (operation,))]
        if len(rows) >= at_least or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)
