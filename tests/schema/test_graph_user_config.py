"""A user's own agencies (SQLite, CSV folder, HTTP service, with renames) are served
with no code change, through the real HTTP gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import ACME, ADMIN, BETA, GAMMA, ServerThread
from gateway.app import create_app
from gateway.config import load_config

ENTERPRISE_QUERY = """
query One($code: String!) {
  enterprise(creditCode: $code) {
    creditCode name status districtCode registeredCapital establishedOn
    agency { code name } openness
    legalRepresentative { personId name enterprises { creditCode } }
    penalties(period: ALL) {
      recordId agency { code } openness riskLevel decisionNo penaltyType amount decidedOn
    }
    licences(period: ALL) { recordId agency { code } licenceNo status validFrom }
    judgmentDefaults(period: ALL) { recordId agency { code } caseNo performance }
    anomalies(period: ALL) { recordId } seriousViolations(period: ALL) { recordId }
    inspections(period: ALL) { recordId }
  }
}
"""


def post(server: ServerThread, query: str, variables: dict[str, Any] | None = None,
         **headers: str) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql",
                          json={"query": query, "variables": variables or {}},
                          headers={**ADMIN, **headers}, timeout=10)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def gateway(user_agencies: dict[str, Any], serve: Callable[..., ServerThread]) -> ServerThread:
    return serve(create_app(load_config(user_agencies["config"])))


def test_enterprise_gathers_records_from_all_three_source_kinds(gateway: ServerThread) -> None:
    body = post(gateway, ENTERPRISE_QUERY, {"code": ACME})
    assert "errors" not in body
    enterprise = body["data"]["enterprise"]
    assert enterprise["name"] == "北京甲餐饮有限公司"  # renamed column qymc -> name
    assert enterprise["agency"] == {"code": "REG", "name": "登记机关"}
    assert enterprise["registeredCapital"] == 100.0
    assert enterprise["establishedOn"] == "2019-03-01"
    penalties = enterprise["penalties"]
    assert [p["recordId"] for p in penalties] == ["SAMR-2", "SAMR-1", "EPB-1"]  # newest first
    assert penalties[1]["decisionNo"] == "西市监罚〔2026〕1号"  # renamed column wsh
    epb = penalties[2]
    assert epb["openness"] == "CONDITIONAL"  # 有条件开放
    assert epb["riskLevel"] == "HIGH"  # 高
    assert epb["amount"] == 200000.0
    assert enterprise["licences"] == [
        {"recordId": "EPB-L1", "agency": {"code": "EPB"}, "licenceNo": "91110102PW001",
         "status": "VALID", "validFrom": "2024-01-01"}
    ]
    assert enterprise["judgmentDefaults"][0]["caseNo"] == "(2025)京0102执1号"
    assert enterprise["anomalies"] == [] and enterprise["inspections"] == []
    person = enterprise["legalRepresentative"]
    assert person["name"] == "张三"
    assert sorted(e["creditCode"] for e in person["enterprises"]) == sorted([ACME, BETA])


def test_bad_rows_keep_the_request_alive(gateway: ServerThread) -> None:
    query = ('{ enterprise(creditCode: "%s") { '
             'penalties(period: ALL) { recordId amount decidedOn } } }')
    body = post(gateway, query % BETA)
    assert "errors" not in body
    # EPB-2 has an impossible date (2026-02-30): the record is kept, the date is null.
    assert body["data"]["enterprise"]["penalties"] == [
        {"recordId": "EPB-2", "amount": 1000.0, "decidedOn": None}
    ]


def test_person_has_their_own_records_and_enterprises(gateway: ServerThread) -> None:
    body = post(gateway, """{ person(personId: "P1") {
        name penalties(period: ALL) { recordId } judgmentDefaults(period: ALL) { recordId caseNo }
        enterprises { creditCode } } }""")
    person = body["data"]["person"]
    assert person["penalties"] == [{"recordId": "SAMR-2"}]
    assert person["judgmentDefaults"] == [{"recordId": "COURT-2", "caseNo": "(2025)京0102执2号"}]
    assert post(gateway, '{ person(personId: "nobody") { name } }')["data"] == {"person": None}


@pytest.mark.parametrize(
    "code", ["91350100M000100Y4Z", "123", "91110102MA0000001X", "not a code at all"]
)
def test_invalid_credit_codes_are_refused(gateway: ServerThread, code: str) -> None:
    body = post(gateway, "query($c: String!) { enterprise(creditCode: $c) { name } }", {"c": code})
    assert body["data"] == {"enterprise": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_CREDIT_CODE"
    assert "GB 32100-2015" in error["message"]


def test_unknown_valid_code_is_null_not_error(gateway: ServerThread) -> None:
    body = post(gateway, '{ enterprise(creditCode: "914403001922038216") { name } }')
    assert body == {"data": {"enterprise": None}}


def test_enterprises_filter_and_pages(gateway: ServerThread) -> None:
    query = """query($f: EnterpriseFilter, $first: Int, $after: String) {
      enterprises(filter: $f, first: $first, after: $after) {
        totalCount edges { cursor node { creditCode } }
        pageInfo { hasNextPage endCursor } } }"""
    everything = post(gateway, query, {"first": 2})["data"]["enterprises"]
    assert everything["totalCount"] == 3
    assert [e["node"]["creditCode"] for e in everything["edges"]] == sorted([ACME, BETA, GAMMA])[:2]
    assert everything["pageInfo"]["hasNextPage"] is True
    rest = post(gateway, query, {"first": 2, "after": everything["pageInfo"]["endCursor"]})
    page = rest["data"]["enterprises"]
    assert [e["node"]["creditCode"] for e in page["edges"]] == sorted([ACME, BETA, GAMMA])[2:]
    assert page["pageInfo"]["hasNextPage"] is False

    def codes(condition: dict[str, Any]) -> list[str]:
        data = post(gateway, query, {"f": condition, "first": 10})["data"]["enterprises"]
        assert data["totalCount"] == len(data["edges"])
        return sorted(e["node"]["creditCode"] for e in data["edges"])

    assert codes({"nameContains": "科技"}) == [BETA]
    assert codes({"districtCode": "110105"}) == [GAMMA]
    assert codes({"districtCode": "1101"}) == sorted([ACME, BETA, GAMMA])
    assert codes({"status": "REVOKED"}) == [GAMMA]
    assert codes({"industry": "餐饮业", "status": "ACTIVE"}) == sorted([ACME, BETA])
    assert codes({"hasRecordsFrom": "COURT"}) == sorted([ACME, GAMMA])
    assert codes({"hasRecordsFrom": "EPB"}) == sorted([ACME, BETA])
    assert codes({"hasRecordsFrom": "EPB", "nameContains": "甲"}) == [ACME]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ('first: 0', "'first' must be between 1 and 1000"),
        ('first: 5000', "'first' must be between 1 and 1000"),
        ('after: "garbage"', "'after' is not a cursor"),
        ('filter: {hasRecordsFrom: "NOPE"}', "unknown agency 'NOPE'"),
    ],
)
def test_bad_listing_arguments_are_clear(gateway: ServerThread, arguments: str,
                                         fragment: str) -> None:
    body = post(gateway, "{ enterprises(%s) { totalCount } }" % arguments)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert fragment in error["message"]


def test_sources_lists_each_agency(gateway: ServerThread) -> None:
    body = post(gateway, "{ sources { code name kind recordTypes available } }")
    assert body["data"]["sources"] == [
        {"code": "REG", "name": "登记机关", "kind": "sql",
         "recordTypes": ["enterprise", "person", "penalty"], "available": True},
        {"code": "EPB", "name": "生态环境局", "kind": "csv",
         "recordTypes": ["penalty", "licence"], "available": True},
        {"code": "COURT", "name": "人民法院", "kind": "http",
         "recordTypes": ["judgment_default"], "available": True},
    ]


def test_malformed_queries_get_clear_errors_without_internals(gateway: ServerThread) -> None:
    for query in ["{ enterprise(creditCode: ", "{ nosuchfield }", "{ enterprise { name } }"]:
        body = post(gateway, query)
        assert body["errors"], query
        text = str(body)
        assert "Traceback" not in text and "sqlite" not in text.lower()


def test_readyz_answers_once_ready(gateway: ServerThread) -> None:
    response = httpx.get(f"{gateway.url}/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["accessLog"]["writable"] is True and body["accessLog"]["healthy"] is True
