"""The gate's head start (``gateway.head_start``): a query about one enterprise has its
remote agencies asked before the GraphQL view runs - the same calls and the same answer
as without it, and no call at all for an enterprise the caller may not see, one that
does not exist, an invalid credit code or a query the view refuses."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import build_schema as sdl_schema

from conftest import ACME, ADMIN, ServerThread, _code
from gateway.app import AppOptions, create_app
from gateway.auth_gate import GraphQLEndpoint
from gateway.config import load_config
from gateway.graphql_payload import Payload
from gateway.head_start import HeadStart

HIDDEN = _code("91110102MA0000009")  # in the registry, conditionally open: not public
MISSING = _code("91110102MA0000008")  # not in the registry
QUERY = """query One($c: String!) { enterprise(creditCode: $c) { name
  judgmentDefaults { recordId } penalties { recordId } warning { level } } }"""
DEPARTMENT = {"Authorization": "Bearer test-reg-key", "X-Purpose": "INSPECTION"}
PUBLIC: dict[str, str] = {}


@pytest.fixture
def config(user_agencies: dict[str, Any]) -> Path:
    """The three agencies, the court without a record cache (every query asks it), and
    a registry enterprise the public may not see."""
    path: Path = user_agencies["config"]
    path.write_text(path.read_text(encoding="utf-8").replace("cache_ttl_s: 0.5",
                                                             "cache_ttl_s: 0"),
                    encoding="utf-8")
    with sqlite3.connect(user_agencies["dir"] / "registry.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(qyjbxx)")]
        row = dict(zip(columns, db.execute("SELECT * FROM qyjbxx").fetchone(), strict=True))
        row.update(record_id="E-HID", credit_code=HIDDEN, openness="有条件开放")
        db.execute(f"INSERT INTO qyjbxx ({', '.join(row)}) VALUES "
                   f"({', '.join('?' for _ in row)})", list(row.values()))
    return path


@pytest.fixture
def seen_at_view(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The COURT connector's calls so far, each time the GraphQL view makes a request's
    context (that is, when the view starts running the query)."""
    seen: list[int] = []
    original = GraphQLEndpoint.get_context

    async def recording(self: GraphQLEndpoint, request: Any, response: Any) -> Any:
        runtime = request.app.state.runtime
        seen.append(sum(runtime.sources.get("COURT").calls.values()))
        return await original(self, request, response)

    monkeypatch.setattr(GraphQLEndpoint, "get_context", recording)
    return seen


def gateway(config: Path, serve: Callable[..., ServerThread], *, head_start: bool,
            ) -> ServerThread:
    return serve(create_app(load_config(config), AppOptions(
        graphiql=False, portal=False, response_cache=False, access_log=False,
        rate_limits=False, head_start=head_start)))


def ask(server: ServerThread, code: str, headers: dict[str, str],
        query: str = QUERY) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", headers=headers, timeout=15,
                          json={"query": query, "variables": {"c": code}})
    body: dict[str, Any] = response.json()
    return body


def court_calls(server: ServerThread) -> int:
    app: Any = server.server.config.app
    runtime = app.state.runtime
    return sum(runtime.sources.get("COURT").calls.values())


def test_the_remote_agency_is_asked_before_the_view_runs(
        config: Path, serve: Callable[..., ServerThread], seen_at_view: list[int]) -> None:
    ahead = gateway(config, serve, head_start=True)
    body = ask(ahead, ACME, ADMIN)
    assert body["data"]["enterprise"]["judgmentDefaults"] == [{"recordId": "COURT-1"}]
    # ACME's records and its legal representative's (for the warning): two calls
    assert seen_at_view == [2] and court_calls(ahead) == 2
    seen_at_view.clear()
    behind = gateway(config, serve, head_start=False)
    assert ask(behind, ACME, ADMIN) == body
    assert seen_at_view == [0] and court_calls(behind) == 2


@pytest.mark.parametrize("headers", [ADMIN, DEPARTMENT, PUBLIC], ids=["admin", "department",
                                                                     "public"])
def test_the_same_answers_and_agency_queries_with_and_without_it(
        config: Path, serve: Callable[..., ServerThread], user_agencies: dict[str, Any],
        headers: dict[str, str]) -> None:
    court = user_agencies["court"].state.stats
    answers, queries = [], []
    for head_start in (True, False):
        server = gateway(config, serve, head_start=head_start)
        before = dict(court.queries)
        answers.append([ask(server, code, headers) for code in (ACME, HIDDEN, MISSING)])
        queries.append({k: v - before.get(k, 0) for k, v in court.queries.items()})
    assert answers[0] == answers[1]
    assert queries[0] == queries[1]


@pytest.mark.parametrize("case", ["hidden", "missing", "invalid code", "refused query"])
def test_nothing_is_asked_ahead_for_what_the_caller_will_not_get(
        config: Path, serve: Callable[..., ServerThread], user_agencies: dict[str, Any],
        seen_at_view: list[int], case: str) -> None:
    court = user_agencies["court"].state.stats
    server = gateway(config, serve, head_start=True)
    before = sum(court.queries.values())
    if case == "hidden":
        body = ask(server, HIDDEN, PUBLIC)
        assert body["data"] == {"enterprise": None}
    elif case == "missing":
        body = ask(server, MISSING, ADMIN)
        assert body["data"] == {"enterprise": None}
    elif case == "invalid code":
        body = ask(server, "91110102MA000000X", ADMIN)
        assert body["errors"][0]["extensions"]["code"] == "INVALID_CREDIT_CODE"
    else:  # a field the public schema does not have: refused by validation
        body = ask(server, ACME, PUBLIC, QUERY.replace("name", "name idNumberOfNobody"))
        assert body["errors"] and body.get("data") is None
    assert seen_at_view == [0]
    assert sum(court.queries.values()) == before


SDL = sdl_schema("""
type Query { enterprise(creditCode: String!): Enterprise  other: Int }
type Mutation { touch: Int }
type Enterprise { name: String  penalties: [Int]  warning: Int }
""")


@pytest.mark.parametrize(("query", "operation", "variables", "expected"), [
    ("query($c: String!) { enterprise(creditCode: $c) { name penalties } }", None,
     {"c": ACME.lower()}, (ACME, frozenset({"name", "penalties"}))),
    ('{ enterprise(creditCode: "%s") { ...F } } fragment F on Enterprise { warning }' % ACME,
     None, None, (ACME, frozenset({"warning"}))),
    ("query A { other } query B($c: String!) { e: enterprise(creditCode: $c) { name } }", "B",
     {"c": ACME}, (ACME, frozenset({"name"}))),
], ids=["variable, lower case", "literal, fragment", "named operation, alias"])
def test_a_plan_names_the_enterprise_and_its_selection(
        query: str, operation: str | None, variables: Any, expected: Any) -> None:
    assert HeadStart().enterprise(SDL, Payload(query, operation, variables)) == expected


@pytest.mark.parametrize(("query", "operation", "variables"), [
    ("query($c: String!) { enterprise(creditCode: $c) { name } other }", None, {"c": ACME}),
    ("query($c: String!, $s: Boolean!) { enterprise(creditCode: $c) @skip(if: $s) { name } }",
     None, {"c": ACME, "s": True}),
    ("mutation { touch }", None, None),
    ("query($c: String!) { enterprise(creditCode: $c) { nothing } }", None, {"c": ACME}),
    ("query($c: String!) { enterprise(creditCode: $c) { name }", None, {"c": ACME}),
    ("query($c: String!) { enterprise(creditCode: $c) { name } }", None, {"c": "X"}),
    ("query($c: String!) { enterprise(creditCode: $c) { name } }", None, {"c": 7}),
    ("query($c: String!) { enterprise(creditCode: $c) { name } }", None, ["not", "a", "map"]),
    ("query A { other } query B($c: String!) { enterprise(creditCode: $c) { name } }", None,
     {"c": ACME}),
    ("query A($c: String!) { enterprise(creditCode: $c) { name } }", "B", {"c": ACME}),
    ("query($c: String!) { enterprise(creditCode: $c) { name } }" + " " * 5000, None,
     {"c": ACME}),
], ids=["two root fields", "directive", "mutation", "invalid field", "syntax error",
        "invalid code", "not a string", "variables not an object", "which operation",
        "unknown operation", "too long"])
def test_no_plan_where_the_view_would_not_ask(query: str, operation: str | None,
                                             variables: Any) -> None:
    assert HeadStart().enterprise(SDL, Payload(query, operation, variables)) is None


def test_plans_are_kept_for_a_bounded_number_of_texts() -> None:
    head_start = HeadStart(maxsize=3)
    for n in range(10):
        query = "query($c: String!) { enterprise(creditCode: $c) { name } }" + " " * n
        assert head_start.enterprise(SDL, Payload(query, None, {"c": ACME})) is not None
    assert len(head_start._plans) == 3 and len(head_start._schemas) == 1
