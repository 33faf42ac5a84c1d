"""A failing agency costs only its own records: the others still arrive, with one
error naming the failed agency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import ACME, ADMIN, ServerThread
from gateway.app import create_app
from gateway.config import load_config

QUERY = """query($c: String!) { enterprise(creditCode: $c) {
  name penalties(period: ALL) { recordId agency { code } }
  judgmentDefaults(period: ALL) { recordId } } }"""


def ask(server: ServerThread, query: str = QUERY) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": {"c": ACME}},
                          headers=ADMIN, timeout=15)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def gateway(user_agencies: dict[str, Any], serve: Callable[..., ServerThread]) -> ServerThread:
    return serve(create_app(load_config(user_agencies["config"])))


@pytest.mark.parametrize("mode", ["error_500", "garbage", "hang", "close"])
def test_http_agency_failure_is_partial_not_fatal(
    user_agencies: dict[str, Any], gateway: ServerThread, mode: str
) -> None:
    user_agencies["court"].state.control.mode = mode
    body = ask(gateway)
    enterprise = body["data"]["enterprise"]
    assert enterprise["name"] == "北京甲餐饮有限公司"
    assert {p["agency"]["code"] for p in enterprise["penalties"]} == {"REG", "EPB"}
    assert enterprise["judgmentDefaults"] == []
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "SOURCE_UNAVAILABLE", "agency": "COURT"}
    assert error["message"].startswith("Agency COURT (人民法院) is unavailable")
    assert error["path"] == ["enterprise", "judgmentDefaults"]
    assert "127.0.0.1" not in str(body)


def test_stopped_http_agency(user_agencies: dict[str, Any], gateway: ServerThread) -> None:
    user_agencies["court_server"].stop()
    body = ask(gateway)
    assert body["data"]["enterprise"]["name"] == "北京甲餐饮有限公司"
    assert [e["extensions"]["agency"] for e in body["errors"]] == ["COURT"]
    assert "127.0.0.1" not in str(body)
    sources = ask(gateway, "{ sources { code available } }")["data"]["sources"]
    assert {s["code"]: s["available"] for s in sources} == {
        "REG": True, "EPB": True, "COURT": False
    }


def test_missing_csv_folder_and_table(user_agencies: dict[str, Any], gateway: ServerThread) -> None:
    folder = user_agencies["dir"] / "epb"
    (folder / "penalty.csv").rename(folder / "moved.csv")
    body = ask(gateway)
    assert {p["agency"]["code"] for p in body["data"]["enterprise"]["penalties"]} == {"REG"}
    (error,) = body["errors"]
    assert error["extensions"]["agency"] == "EPB"
    assert str(folder) not in error["message"]


def test_per_key_failure_from_an_http_agency(
    user_agencies: dict[str, Any], gateway: ServerThread
) -> None:
    """The agency answers for some keys and reports others as failed."""
    user_agencies["court"].state.control.failing_keys = {ACME}
    body = ask(gateway, """query($c: String!) {
      a: enterprise(creditCode: $c) { judgmentDefaults(period: ALL) { recordId } }
      b: person(personId: "P1") { judgmentDefaults(period: ALL) { recordId } } }""")
    assert body["data"]["a"]["judgmentDefaults"] == []
    assert body["data"]["b"]["judgmentDefaults"] == [{"recordId": "COURT-2"}]
    (error,) = body["errors"]
    assert error["extensions"]["agency"] == "COURT"
    assert error["path"] == ["a", "judgmentDefaults"]


def test_a_failed_agency_is_answered_from_a_stale_copy_and_the_answer_says_so(
    user_agencies: dict[str, Any], gateway: ServerThread
) -> None:
    import time

    first = ask(gateway)
    assert first["data"]["enterprise"]["judgmentDefaults"] == [{"recordId": "COURT-1"}]
    user_agencies["court"].state.control.mode = "error_500"
    time.sleep(0.6)  # past the court's 0.5 s cache lifetime, within its stale limit
    body = ask(gateway)
    assert body["data"]["enterprise"]["judgmentDefaults"] == [{"recordId": "COURT-1"}]
    assert "errors" not in body
    (stale,) = body["extensions"]["stale"]
    assert stale["agency"] == "COURT" and stale["ageSeconds"] >= 0.5
