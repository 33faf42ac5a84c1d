"""Query limits and masked errors as a caller meets them over HTTP: a clear code, no
internals, and the limits set on the command line or in ``AppOptions``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import ADMIN, ServerThread, free_port
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from schema.limits import QueryLimits

LIMITS = QueryLimits(max_depth=4, max_aliases=2, max_tokens=60, max_cost=500)


@pytest.fixture
def gateway(user_agencies: dict[str, Any], serve: Callable[..., ServerThread]) -> ServerThread:
    return serve(create_app(load_config(user_agencies["config"]),
                            AppOptions(limits=LIMITS, max_body_bytes=4096)))


def post(server: ServerThread, query: str, **variables: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables},
                      headers=ADMIN, timeout=15)


def error_codes(response: httpx.Response) -> list[str]:
    body = response.json()
    assert "data" not in body or body["data"] is None, body  # nothing was resolved
    return [e["extensions"]["code"] for e in body["errors"]]


PAGE = "query($n: Int!) { enterprises(first: $n) { edges { node { name status industry } } } }"


@pytest.mark.parametrize(("query", "variables", "code", "says"), [
    ('{ person(personId: "P1") { enterprises { legalRepresentative { enterprises { name } } } } }',
     {}, "QUERY_TOO_DEEP", "5"),
    ("{ a: sources { code } b: sources { code } c: sources { code } }", {},
     "TOO_MANY_ALIASES", "3"),
    ("{ sources { code " + "name " * 60 + "} }", {}, "QUERY_TOO_LARGE", "60"),
    (PAGE, {"n": 1000}, "QUERY_TOO_COSTLY", "500"),
    # JSON 1000.0 is the Int 1000 once graphql-core coerces it: the same cost
    (PAGE, {"n": 1000.0}, "QUERY_TOO_COSTLY", "500"),
])
def test_each_limit_answers_with_its_code(
    gateway: ServerThread, query: str, variables: dict[str, Any], code: str, says: str
) -> None:
    response = post(gateway, query, **variables)
    assert response.status_code == 200
    assert error_codes(response) == [code]
    assert says in response.json()["errors"][0]["message"]


def test_first_is_capped(gateway: ServerThread) -> None:
    body = post(gateway, "{ enterprises(first: 1001) { totalCount } }").json()
    assert body["errors"][0]["extensions"]["code"] in {"BAD_USER_INPUT", "QUERY_TOO_COSTLY"}
    body = post(gateway, "{ enterprises(first: 0) { totalCount } }").json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_body_over_the_limit_is_refused_before_parsing(gateway: ServerThread) -> None:
    response = post(gateway, "{ sources { code } }", padding="x" * 5000)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


def test_within_the_limits_the_answer_is_whole(gateway: ServerThread) -> None:
    body = post(gateway, "{ a: sources { code } b: sources { code } }").json()
    assert "errors" not in body and len(body["data"]["a"]) == 3


def test_unexpected_errors_are_masked(
    gateway: ServerThread, user_agencies: dict[str, Any]
) -> None:
    """A registry that breaks underneath the gateway: the caller gets a message and a
    code, never the SQL, the file path or a trace."""
    registry = user_agencies["dir"] / "registry.db"
    registry.write_bytes(b"this is not a database" * 100)
    response = post(gateway, '{ person(personId: "P9") { name } }')
    text = response.text
    for secret in ("Traceback", "sqlite", "SELECT", str(user_agencies["dir"]), "127.0.0.1"):
        assert secret.lower() not in text.lower(), text
    assert response.json()["errors"]


def test_limits_come_from_the_command_line(user_agencies: dict[str, Any]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(user_agencies["config"]),
         "--port", str(free_port()), "--max-depth", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "max_depth must be at least 1" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("query", "variables", "says"), [
    ("query($c: String!) { enterprise(creditCode: $c) { name } }", {"c": 123},
     "String cannot represent a non string value"),
    ('query($d: Date!) { restrictionCheck(creditCode: "91110102U7JM5YDH5H", '
     'action: LICENCE_APPLICATION, asOf: $d) { decision } }', {"d": "2026-13-01"},
     "2026-13-01"),
    # not costed from the raw value (2**31 would count as a full page, over max_cost)
    (PAGE, {"n": 2**31}, "Int cannot represent non 32-bit signed integer value"),
    (PAGE, {"n": 1000.5}, "Int cannot represent non-integer value: 1000.5"),
    (PAGE, {"n": "1000"}, "Int cannot represent non-integer value: '1000'"),
])
def test_bad_variables_get_a_clear_error_not_a_masked_one(
    gateway: ServerThread, query: str, variables: dict[str, Any], says: str
) -> None:
    body = post(gateway, query, **variables).json()
    (error,) = body["errors"]
    assert says in error["message"] and "Internal error" not in error["message"]
