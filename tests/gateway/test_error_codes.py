"""Error codes as a caller meets them over HTTP: parse and validation errors carry
``extensions.code`` (GET and POST, public and department schemas, with or without
the answer cache), and a request the view cannot read gets a JSON error with a code
and a 4xx status instead of plain text, and is still in the access log."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ACME, ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.response_cache import ResponseCache

PUBLIC: dict[str, str] = {}
DEPARTMENT = {"Authorization": "Bearer test-reg-key", "X-Purpose": "INSPECTION"}
CALLERS = [pytest.param(PUBLIC, id="public"), pytest.param(DEPARTMENT, id="department")]
JSON_TYPE = {"content-type": "application/json"}
MARKER = "NEVER-ECHOED-6f1c"  # in bad input; must not come back in a message


@pytest.fixture
def gateways(user_agencies: dict[str, Any],
             serve: Callable[..., ServerThread]) -> tuple[ServerThread, ServerThread]:
    """(with the answer cache, without it), on the same configuration."""
    config = load_config(user_agencies["config"])
    return (serve(create_app(config, AppOptions(freeze_heap_after_start=False))),
            serve(create_app(config, AppOptions(freeze_heap_after_start=False,
                                                response_cache=False))))


def answers_of(server: ServerThread) -> ResponseCache:
    app: Any = server.server.config.app
    cache: ResponseCache = app.state.answers
    return cache


def ask(server: ServerThread, method: str, query: str, headers: dict[str, str],
        variables: dict[str, Any] | None = None) -> httpx.Response:
    url = f"{server.url}/graphql"
    if method == "GET":
        params = {"query": query}
        if variables is not None:
            params["variables"] = json.dumps(variables)
        return httpx.get(url, params=params, headers=headers, timeout=15)
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return httpx.post(url, json=body, headers=headers, timeout=15)


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body.get("data") is None, body
    (error,) = body["errors"]
    assert isinstance(error, dict)
    return error


CHECK = 'restrictionCheck(creditCode: "%s", action: %%s) { decision }' % ACME


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("query", "variables", "code", "says"), [
    pytest.param("{ sources { code }", None, "GRAPHQL_PARSE_FAILED", "Syntax Error",
                 id="parse error"),
    pytest.param("{ sources { noSuchField } }", None, "GRAPHQL_VALIDATION_FAILED",
                 "Cannot query field 'noSuchField'", id="unknown field"),
    pytest.param("{ enterprise(creditCode: 1) { name } }", None, "GRAPHQL_VALIDATION_FAILED",
                 "String cannot represent a non string value", id="wrong argument type"),
    pytest.param("query { enterprise(creditCode: $c) { name } }", None,
                 "GRAPHQL_VALIDATION_FAILED", "Variable '$c' is not defined",
                 id="undeclared variable"),
    pytest.param("{ %s }" % (CHECK % "PARTY"), None, "GRAPHQL_VALIDATION_FAILED",
                 "Value 'PARTY' does not exist in 'RestrictionAction' enum",
                 id="unknown action"),
    pytest.param("{ %s }" % (CHECK % '"HONOUR"'), None, "GRAPHQL_VALIDATION_FAILED",
                 "Enum 'RestrictionAction' cannot represent non-enum value",
                 id="action as a string"),
    pytest.param("query($a: RestrictionAction!) { %s }" % (CHECK % "$a"), {"a": "PARTY"},
                 "BAD_USER_INPUT", "Value 'PARTY' does not exist in 'RestrictionAction' enum",
                 id="unknown action in a variable"),
    pytest.param("query($c: String!) { enterprise(creditCode: $c) { name } }", {},
                 "BAD_USER_INPUT", "Variable '$c'", id="missing variable value"),
])
def test_query_errors_carry_their_code_cached_or_not(
    gateways: tuple[ServerThread, ServerThread], caller: dict[str, str], method: str,
    query: str, variables: dict[str, Any] | None, code: str, says: str,
) -> None:
    cached, plain = gateways
    answers = [ask(cached, method, query, caller, variables) for _ in range(2)]
    expected = ask(plain, method, query, caller, variables)
    error = only_error(expected)
    assert error["extensions"]["code"] == code
    assert says in error["message"], error["message"]
    assert expected.status_code == 200  # GraphQL over HTTP, application/json: 200
    for answer in answers:
        assert (answer.status_code, answer.json()) == (200, expected.json())
    assert len(answers_of(cached)) == 0 and answers_of(cached).hits == 0


def test_a_known_action_passes_validation(gateways: tuple[ServerThread, ServerThread]) -> None:
    """The enum value is accepted: the department gets the resolver's FORBIDDEN, not a
    validation error (restriction decisions need an approval clearance)."""
    error = only_error(ask(gateways[0], "POST", "{ %s }" % (CHECK % "HONOUR"), DEPARTMENT))
    assert error["extensions"]["code"] == "FORBIDDEN"


def test_the_limits_keep_their_own_codes(gateways: tuple[ServerThread, ServerThread]) -> None:
    deep = '{ person(personId: "P1") { enterprises { legalRepresentative { enterprises { ' \
           'legalRepresentative { enterprises { legalRepresentative { enterprises { ' \
           'legalRepresentative { enterprises { legalRepresentative { enterprises { name ' \
           '} } } } } } } } } } } } }'
    error = only_error(ask(gateways[0], "POST", deep, DEPARTMENT))
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"


def post_raw(server: ServerThread, content: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", content=content, headers=headers, timeout=15)


NOT_JSON = b'{"query": "{ sources { code } }", ' + MARKER.encode() * 200 + b"}"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("content", "headers", "status", "code", "says"), [
    pytest.param(NOT_JSON, JSON_TYPE, 400, "BAD_REQUEST",
                 "The request body is not valid JSON: Expecting property name enclosed in "
                 "double quotes (line 1, column 35).", id="not JSON"),
    pytest.param(b"\xff\xfe{", JSON_TYPE, 400, "BAD_REQUEST",
                 "The request body is not valid JSON", id="not UTF-8"),
    pytest.param(b"[" * 100_000, JSON_TYPE, 400, "BAD_REQUEST", "nested too deeply",
                 id="nested too deeply"),
    pytest.param(json.dumps([{"query": "{ sources { code } }"}]).encode(), JSON_TYPE, 400,
                 "BAD_REQUEST", "batches are not supported", id="a batch"),
    pytest.param(b'"{ sources { code } }"', JSON_TYPE, 400, "BAD_REQUEST",
                 "The request body must be a JSON object", id="a JSON string"),
    pytest.param(b"null", JSON_TYPE, 400, "BAD_REQUEST",
                 "The request body must be a JSON object", id="null"),
    pytest.param(b'{"variables": {}}', JSON_TYPE, 400, "BAD_REQUEST",
                 'The request body has no query', id="no query"),
    pytest.param(b'{"query": 1}', JSON_TYPE, 400, "BAD_REQUEST",
                 'The request body has no query', id="query not a string"),
    pytest.param(b'{"query": "{ sources { code } }", "variables": [1]}', JSON_TYPE, 400,
                 "BAD_REQUEST", "`variables` must be an object", id="variables a list"),
    pytest.param(b'{"query": "{ sources { code } }"}', {"content-type": "text/plain"}, 415,
                 "UNSUPPORTED_MEDIA_TYPE", "application/json (the request's was "
                 "'text/plain')", id="text/plain"),
    pytest.param(b'{"query": "{ sources { code } }"}', {}, 415, "UNSUPPORTED_MEDIA_TYPE",
                 "(the request's was none)", id="no content type"),
    pytest.param(b"query=%7B%20sources%20%7B%20code%20%7D%20%7D",
                 {"content-type": "application/x-www-form-urlencoded"}, 415,
                 "UNSUPPORTED_MEDIA_TYPE", "Send the GraphQL request as JSON", id="a form"),
])
def test_a_request_the_view_cannot_read_gets_a_json_error(
    gateways: tuple[ServerThread, ServerThread], caller: dict[str, str], content: bytes,
    headers: dict[str, str], status: int, code: str, says: str,
) -> None:
    cached, plain = gateways
    expected = post_raw(plain, content, {**caller, **headers})
    assert expected.status_code == status
    assert expected.headers["content-type"] == "application/json"
    error = only_error(expected)
    assert error["extensions"] == {"code": code}
    assert says in error["message"], error["message"]
    assert MARKER not in expected.text and len(expected.content) < 400
    for _ in range(2):
        answer = post_raw(cached, content, {**caller, **headers})
        assert (answer.status_code, answer.content) == (status, expected.content)
    assert len(answers_of(cached)) == 0


@pytest.mark.parametrize(("params", "says"), [
    ({"query": "{ sources { code } }", "variables": "{" + MARKER},
     "The variables parameter is not valid JSON"),
    ({"query": "{ sources { code } }", "extensions": "[" + MARKER},
     "The extensions parameter is not valid JSON"),
    ({"query": "{ sources { code } }", "variables": "[" * 5000},
     "The variables parameter is not accepted: its JSON is nested too deeply"),
    ({"query": "{ sources { code } }", "variables": "[1]"}, "`variables` must be an object"),
    ({"query": "{ sources { code } }", "operationName": "Nope"}, "Unknown operation named"),
])
def test_a_get_the_view_cannot_read_gets_a_json_error(
    gateways: tuple[ServerThread, ServerThread], params: dict[str, str], says: str
) -> None:
    response = httpx.get(f"{gateways[0].url}/graphql", params=params, timeout=15)
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert says in error["message"] and MARKER not in error["message"], error["message"]


def test_without_graphiql_a_get_without_a_query_is_a_json_404(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    server = serve(create_app(load_config(user_agencies["config"]),
                              AppOptions(graphiql=False, freeze_heap_after_start=False)))
    response = httpx.get(f"{server.url}/graphql", headers={"accept": "text/html"}, timeout=15)
    assert response.status_code == 404
    assert only_error(response)["extensions"] == {"code": "NOT_FOUND"}


def refusals(config: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(config.parent / "platform.db") as db:
            return list(db.execute("SELECT outcome, refusal_code FROM access_log ORDER BY id"))
    except sqlite3.OperationalError:  # not migrated yet
        return []


def test_refused_requests_are_in_the_access_log(
    user_agencies: dict[str, Any], gateways: tuple[ServerThread, ServerThread]
) -> None:
    cached = gateways[0]
    post_raw(cached, NOT_JSON, {**DEPARTMENT, **JSON_TYPE})
    post_raw(cached, b'{"query": "{ sources { code } }"}',
             {**DEPARTMENT, "content-type": "text/plain"})
    ask(cached, "POST", "{ sources { code }", DEPARTMENT)
    ask(cached, "GET", "{ %s }" % (CHECK % "PARTY"), PUBLIC)
    wanted = [("refused", "BAD_REQUEST"), ("refused", "UNSUPPORTED_MEDIA_TYPE"),
              ("refused", "GRAPHQL_PARSE_FAILED"), ("refused", "GRAPHQL_VALIDATION_FAILED")]
    deadline = time.monotonic() + 10
    while refusals(user_agencies["config"])[-4:] != wanted:  # written in batches
        assert time.monotonic() < deadline, refusals(user_agencies["config"])
        time.sleep(0.05)
