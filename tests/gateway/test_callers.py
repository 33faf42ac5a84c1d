"""Callers: API keys, roles and purposes, over real HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import ACME, ServerThread
from gateway.app import create_app
from gateway.config import load_config

QUERY = '{ enterprise(creditCode: "%s") { name penalties(period: ALL) { recordId } } }' % ACME


@pytest.fixture
def gateway(user_agencies: dict[str, Any], serve: Callable[..., ServerThread]) -> ServerThread:
    return serve(create_app(load_config(user_agencies["config"])))


def call(server: ServerThread, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", json={"query": QUERY}, headers=headers, timeout=10)


def penalties(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [p["recordId"] for p in response.json()["data"]["enterprise"]["penalties"]]


def test_no_header_is_the_public_role(gateway: ServerThread) -> None:
    assert penalties(call(gateway)) == ["SAMR-2", "SAMR-1"]  # EPB-1 is CONDITIONAL


@pytest.mark.parametrize(
    "authorization",
    ["Bearer wrong-key", "Bearer", "Basic dGVzdDp0ZXN0", "test-admin-key",
     "Bearer test-admin-key extra"],
)
def test_unknown_or_malformed_keys_are_refused_never_public(
    gateway: ServerThread, authorization: str
) -> None:
    response = call(gateway, Authorization=authorization)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in response.json()


def test_a_purpose_the_principal_may_not_declare_is_refused(gateway: ServerThread) -> None:
    response = call(gateway, Authorization="Bearer test-reg-key", **{"X-Purpose": "PROCUREMENT"})
    assert response.status_code == 403
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "PURPOSE_NOT_ALLOWED"
    assert "allowed: INSPECTION" in error["message"]
    public = call(gateway, **{"X-Purpose": "INSPECTION"})
    assert public.status_code == 403


def test_a_declared_purpose_opens_conditional_records(gateway: ServerThread) -> None:
    without = penalties(call(gateway, Authorization="Bearer test-reg-key"))
    assert without == ["SAMR-2", "SAMR-1"]
    with_purpose = penalties(call(gateway, Authorization="Bearer test-reg-key",
                                  **{"X-Purpose": "INSPECTION"}))
    assert with_purpose == ["SAMR-2", "SAMR-1", "EPB-1"]


def test_graphiql_page_is_served_to_the_public(gateway: ServerThread) -> None:
    page = httpx.get(f"{gateway.url}/graphql", headers={"accept": "text/html"}, timeout=5)
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_keys_new_makes_a_working_principal(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", "new", "--role", "department",
         "--agency", "EPB", "--purposes", "CASE_HANDLING", "--id", "epb-app"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    key = re.search(r"^\s+(rgk_\S+)$", result.stdout, re.MULTILINE)
    assert key is not None
    entry = yaml.safe_load(result.stdout.split("configuration:\n", 1)[1])[0]
    assert entry["id"] == "epb-app" and entry["role"] == "department"
    config: Path = user_agencies["config"]
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["principals"].append(entry)
    config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    server = serve(create_app(load_config(config)))
    # EPB sees its own CONDITIONAL penalty without declaring a purpose
    assert penalties(call(server, Authorization=f"Bearer {key.group(1)}")) == [
        "SAMR-2", "SAMR-1", "EPB-1"
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--role", "department"], "--agency is required"),
     (["--role", "public"], "needs no key"),
     (["--role", "admin", "--purposes", "SPYING"], "unknown purpose 'SPYING'"),
     (["--role", "enterprise"], "--credit-code is required for role enterprise"),
     (["--role", "admin", "--credit-code", "91350100M000100Y43"], "and only for it"),
     (["--role", "enterprise", "--credit-code", "91350100M000100Y4Z"],
      "--credit-code '91350100M000100Y4Z'")],
)
def test_keys_new_refuses_bad_requests(arguments: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "keys", "new", *arguments],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert message in result.stderr


def test_keys_new_binds_an_enterprise_key_to_its_credit_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", "new", "--role", "enterprise",
         "--credit-code", "91350100M000100Y43", "--id", "acme"],
        capture_output=True, text=True, timeout=60, check=True)
    entry = yaml.safe_load(result.stdout.split("configuration:\n", 1)[1])[0]
    assert (entry["role"], entry["credit_code"]) == ("enterprise", "91350100M000100Y43")


def test_answers_never_cross_clearances_on_one_gateway(gateway: ServerThread) -> None:
    """Caches (parser, validation, decisions, registry index) are shared by the gateway;
    what a caller gets depends only on its own clearance, whoever asked before."""
    query = ('{ enterprise(creditCode: "%s") { penalties(period: ALL) { recordId } '
             'judgmentDefaults(period: ALL) { recordId } } '
             'enterprises(filter: {hasRecordsFrom: "EPB"}) { totalCount } }' % ACME)

    def ask(**headers: str) -> Any:
        response = httpx.post(f"{gateway.url}/graphql", json={"query": query},
                              headers=headers, timeout=10)
        return response.json()

    public_first = ask()
    admin = ask(Authorization="Bearer test-admin-key")
    department = ask(Authorization="Bearer test-reg-key", **{"X-Purpose": "INSPECTION"})
    assert ask() == public_first
    assert ask(Authorization="Bearer test-admin-key") == admin
    assert admin != public_first
    assert "EPB-1" in str(admin) and "EPB-1" in str(department)
    assert "EPB-1" not in str(public_first)


def test_oversized_request_bodies_are_refused(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    from gateway.app import AppOptions

    server = serve(create_app(load_config(user_agencies["config"]),
                              AppOptions(max_body_bytes=2048)))
    padding = "x" * 4096
    response = httpx.post(f"{server.url}/graphql",
                          json={"query": QUERY, "variables": {"pad": padding}}, timeout=10)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert penalties(httpx.post(f"{server.url}/graphql", json={"query": QUERY}, timeout=10))
