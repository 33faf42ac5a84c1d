"""Records about a person alone (一处失信，处处受限): a court lists a legal representative
personally - a ``judgment_default`` with a ``person_id`` and no ``credit_code`` - and
the listing reaches every enterprise the person represents, whatever kind of source
the court is. Asked through the real HTTP gateway, over the GraphQL API only."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ACME, ADMIN, BETA, GAMMA, ServerThread, h, write_csv, write_sqlite
from gateway.app import create_app
from gateway.config import load_config

PERSON = "P-DEBTOR"  # legal representative of ACME and BETA
OTHER = "P-OTHER"  # legal representative of GAMMA
APPROVAL = {"Authorization": "Bearer test-approval-key", "X-Purpose": "LICENCE_APPROVAL"}


def _enterprise(code: str, name: str, person: str, person_name: str) -> dict[str, Any]:
    return {
        "record_id": f"E-{code[-4:]}", "credit_code": code, "openness": "OPEN",
        "risk_level": None, "name": name, "entity_type": "有限责任公司",
        "legal_rep_id": person, "legal_rep_name": person_name, "registered_capital": "100",
        "established_on": "2019-03-01", "status": "ACTIVE",
        "address": "北京市西城区金融大街1号", "district_code": code[2:8], "industry": "餐饮业",
        "registering_agency": "北京市西城区市场监督管理局",
    }


def _listing() -> dict[str, Any]:
    """The court's listing of PERSON alone: no enterprise, OPEN, HIGH, in force."""
    listed = dt.date.today() - dt.timedelta(days=30)
    return {
        "record_id": "COURT-P-1", "credit_code": None, "person_id": PERSON,
        "openness": "OPEN", "risk_level": "HIGH", "court": "北京市西城区人民法院",
        "case_no": "(2026)京0102执9号", "obligation": "支付货款", "performance": "全部未履行",
        "listed_on": listed.isoformat(), "removed_on": None,
    }


def _court_source(kind: str, folder: Path, serve: Callable[..., ServerThread]) -> str:
    """The court's entry of the configuration, its listing served from a ``kind`` source."""
    if kind == "sql":
        court = write_sqlite(folder / "court.db", {"judgment_default": [_listing()]})
        return f"kind: sql\n    url: sqlite+aiosqlite:///{court.name}"
    if kind == "csv":
        row = {k: "" if v is None else v for k, v in _listing().items()}
        write_csv(folder / "court" / "judgment_default.csv", [row])
        return "kind: csv\n    path: court"
    from gateway.demo.agency_service import create_agency_app

    server = serve(create_agency_app({"judgment_default": [_listing()]}))
    return f"kind: http\n    base_url: {server.url}"


def _configuration(kind: str, folder: Path, serve: Callable[..., ServerThread]) -> Path:
    write_sqlite(folder / "registry.db", {
        "enterprise": [
            _enterprise(ACME, "北京甲餐饮有限公司", PERSON, "张三"),
            _enterprise(BETA, "北京乙餐饮有限公司", PERSON, "张三"),
            _enterprise(GAMMA, "北京丙餐饮有限公司", OTHER, "李四"),
        ],
        "person": [
            {"record_id": "PR-1", "person_id": PERSON, "name": "张三", "id_number": "x",
             "openness": "OPEN", "risk_level": None},
            {"record_id": "PR-2", "person_id": OTHER, "name": "李四", "id_number": "y",
             "openness": "OPEN", "risk_level": None},
        ],
    })
    config = folder / "agencies.yaml"
    config.write_text(f"""
agencies:
  - code: REG
    name: 登记机关
    kind: sql
    url: sqlite+aiosqlite:///registry.db
    provides: [enterprise, person]
  - code: COURT
    name: 人民法院
    {_court_source(kind, folder, serve)}
    provides: [judgment_default]
principals:
  - id: test-admin
    key_sha256: "{h("test-admin-key")}"
    role: admin
  - id: test-licence-approval
    key_sha256: "{h("test-approval-key")}"
    role: approval
    purposes: [LICENCE_APPROVAL]
""", encoding="utf-8")
    return config


@pytest.fixture(params=["sql", "csv", "http"])
def court_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def gateway(court_kind: str, tmp_path: Path,
            serve: Callable[..., ServerThread]) -> ServerThread:
    return serve(create_app(load_config(_configuration(court_kind, tmp_path, serve))))


def post(server: ServerThread, query: str, variables: dict[str, Any],
         headers: dict[str, str]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables},
                          headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


ENTERPRISE = """query($c: String!) { enterprise(creditCode: $c) {
  warning { level reasons { rule level } } creditGrade { grade } } }"""


def test_a_listing_on_the_legal_representative_reaches_each_enterprise(
    gateway: ServerThread,
) -> None:
    for code in (ACME, BETA):
        enterprise = post(gateway, ENTERPRISE, {"c": code}, ADMIN)["enterprise"]
        reasons = {r["rule"]: r["level"] for r in enterprise["warning"]["reasons"]}
        assert reasons.get("LEGAL_REPRESENTATIVE") == "ORANGE", (code, enterprise)  # HIGH risk
        assert enterprise["warning"]["level"] == "ORANGE"
        assert enterprise["creditGrade"]["grade"] == "C", code  # a judgment default in force


def test_an_enterprise_the_person_does_not_represent_is_untouched(
    gateway: ServerThread,
) -> None:
    enterprise = post(gateway, ENTERPRISE, {"c": GAMMA}, ADMIN)["enterprise"]
    assert enterprise["warning"] == {"level": "NONE", "reasons": []}
    assert enterprise["creditGrade"]["grade"] == "A"


def test_the_person_lists_their_own_judgment_default(gateway: ServerThread) -> None:
    query = """query($p: String!) { person(personId: $p) {
      judgmentDefaults { recordId personId } enterprises { creditCode } } }"""
    person = post(gateway, query, {"p": PERSON}, ADMIN)["person"]
    assert person["judgmentDefaults"] == [{"recordId": "COURT-P-1", "personId": PERSON}]
    assert sorted(e["creditCode"] for e in person["enterprises"]) == sorted([ACME, BETA])


def test_licence_applications_of_the_persons_enterprises_are_restricted(
    gateway: ServerThread,
) -> None:
    query = """query($c: String!) { restrictionCheck(creditCode: $c,
      action: LICENCE_APPLICATION) { decision grade reasons { rule } } }"""
    for code in (ACME, BETA):
        check = post(gateway, query, {"c": code}, APPROVAL)["restrictionCheck"]
        assert check["decision"] in ("RESTRICTED", "PROHIBITED"), (code, check)
        assert check["grade"] == "C"
        assert "GRADE_C" in {r["rule"] for r in check["reasons"]}
    other = post(gateway, query, {"c": GAMMA}, APPROVAL)["restrictionCheck"]
    assert other["decision"] == "ALLOWED" and other["grade"] == "A"


@pytest.mark.parametrize("kind", ["sql", "csv"])
def test_check_data_does_not_report_a_listing_on_a_person(
    kind: str, tmp_path: Path, serve: Callable[..., ServerThread]
) -> None:
    config = _configuration(kind, tmp_path, serve)
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "check-data", "--config",
                             str(config)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "COURT judgment_default: 1 records" in result.stdout
    assert "problem:" not in result.stdout
