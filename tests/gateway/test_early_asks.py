"""Remote agencies asked before the query executes (schema.early_asks): only for a
one-enterprise query whose text already passed validation, only for an enterprise the
caller may see, never twice, and with the same answer as without."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from asgi_client import post_graphql
from graphql import parse

import schema.early_asks as early_asks
from conftest import ACTIONS, Demo
from gateway.app import AppOptions, create_app
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import open_runtime
from schema.access import Clearance
from schema.build import build_schema
from schema.page import ask_remote_early

DEPARTMENT = Clearance("department", "SAMR", "INSPECTION")
HEADERS = [(b"authorization", b"Bearer demo-department-key"), (b"x-purpose", b"INSPECTION")]
LISTS = ("judgmentDefaults { recordId caseNo } inspections { recordId result } "
         "penalties { recordId agency { code } } warning { level }")
ONE = "query One($c: String!) { enterprise(creditCode: $c) { name %s } }" % LISTS


def http_queries(demo: Demo) -> Counter[str]:
    """Keys the demo's HTTP agencies were asked for, per agency and record type (the
    change feed's ``since`` queries, running beside the test, ask for none)."""
    seen: Counter[str] = Counter()
    for name in ("court", "fire"):
        seen.update({f"{name}:{t}": n for t, n in demo.agency(name).state.stats.keys.items()})
    return seen


def codes_with_http_records(demo: Demo, count: int) -> list[str]:
    """Enterprises with records at the court or the fire service."""
    codes: list[str] = []
    for name in ("court", "fire"):
        tables = json.loads((demo.data_dir / f"{name}.json").read_text(encoding="utf-8"))
        for rows in tables.values():
            codes += [row["credit_code"] for row in rows if row.get("credit_code")]
    return list(dict.fromkeys(codes))[:count]


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Credit codes ``ask_before_execution`` asked the remote agencies about."""
    found: list[str] = []
    original = ask_remote_early

    def recording(context: Any, credit_code: str, selected: frozenset[str]) -> int:
        found.append(credit_code)
        return original(context, credit_code, selected)

    monkeypatch.setattr(early_asks, "ask_remote_early", recording)
    return found


@pytest.mark.parametrize(("document", "variables", "operation", "asks"), [
    (ONE, {"c": "SHOWCASE"}, None, True),
    ('{ enterprise(creditCode: "SHOWCASE") { name %s } }' % LISTS, None, None, True),
    ("query A { __typename } query B { enterprise(creditCode: $c) { %s } }" % LISTS,
     {"c": "SHOWCASE"}, "B", True),
    ("query A { __typename } query B { enterprise(creditCode: $c) { %s } }" % LISTS,
     {"c": "SHOWCASE"}, None, False),                                  # which operation?
    (ONE, {"c": "91110000000000000X"}, None, False),                   # not a credit code
    (ONE, {"c": 12}, None, False),                                     # not text
    (ONE, None, None, False),                                          # no variables
    (ONE, ["SHOWCASE"], None, False),                                  # not an object
    ("query($c: String!) { a: enterprise(creditCode: $c) { name } b: enterprise("
     "creditCode: $c) { name } }", {"c": "SHOWCASE"}, None, False),    # two root fields
    ("query($c: String!, $s: Boolean!) { enterprise(creditCode: $c) @skip(if: $s) "
     "{ %s } }" % LISTS, {"c": "SHOWCASE", "s": True}, None, False),   # may be skipped
    ('mutation { enterprise(creditCode: "SHOWCASE") { name } }', None, None, False),
])
async def test_which_operations_are_asked_for_early(
        demo: Demo, asked: list[str], document: str, variables: Any,
        operation: str | None, asks: bool) -> None:
    showcase = demo.showcase
    document = document.replace("SHOWCASE", showcase)
    if isinstance(variables, dict):
        variables = {k: showcase if v == "SHOWCASE" else v for k, v in variables.items()}
    runtime = open_runtime(demo.config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    try:
        await runtime.index.snapshot()
        before = http_queries(demo)
        context = runtime.new_context(DEPARTMENT)
        await early_asks.ask_before_execution(context, parse(document), operation, variables)
        await asyncio.sleep(0.2)
        sent = http_queries(demo) - before
    finally:
        await runtime.aclose()
    assert asked == ([showcase] if asks else [])
    assert (context.asked_early == {showcase}) is asks
    assert bool(sent) is asks  # the calls went out at once


async def test_a_hidden_enterprise_is_not_asked_about(demo: Demo) -> None:
    """The index decides, as in the resolver: an enterprise the caller may not see
    costs no agency call (the public role sees OPEN registry records only)."""
    runtime = open_runtime(demo.config, policies=PolicyStore(DEFAULT_POLICY_DIR))
    try:
        snapshot = await runtime.index.snapshot()
        public = runtime.new_context(Clearance("public"))
        hidden = [record.credit_code for record in snapshot.enterprises
                  if not public.view.sees(record)]
        assert hidden, "the demo has enterprises the public may not see"
        before = http_queries(demo)
        await early_asks.ask_before_execution(public, parse(ONE), None, {"c": hidden[0]})
        await asyncio.sleep(0.2)
        assert http_queries(demo) - before == Counter()
        assert public.asked_early == {hidden[0]}
    finally:
        await runtime.aclose()


async def call(app: Any, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    status, answer = await post_graphql(app, HEADERS, query, variables)
    assert status == 200
    return answer


async def test_through_the_gateway_asked_once_answered_the_same(
        demo: Demo, asked: list[str]) -> None:
    """The first request of a text is not asked for early (not yet validated); later
    ones are, ask each agency and type once, and answer as a schema without early asks
    does. A text that does not validate never is."""
    first, *others = codes_with_http_records(demo, 4)
    app = create_app(demo.config, AppOptions(freeze_heap_after_start=False,
                                             response_cache=False, access_log=False,
                                             rate_limits=False))
    plain = build_schema(actions=ACTIONS)  # the schema alone: no early asks
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        for code in [first, *others]:
            before = http_queries(demo)
            answer = await call(app, ONE, {"c": code})
            sent = http_queries(demo) - before
            assert "errors" not in answer, answer
            # each key once per agency and type: the enterprise's credit code and its
            # legal representative's person id
            assert sent and max(sent.values()) <= 2, sent
            expected = await plain.execute(ONE, {"c": code},
                                           context_value=runtime.new_context(DEPARTMENT))
            assert answer["data"] == expected.data
        assert asked == others
        invalid = ONE.replace("name", "name nope")
        for _ in range(2):
            answer = await call(app, invalid, {"c": others[0]})
            assert answer["errors"]
        assert asked == others
        # variables that are not an object: strawberry's answer, no early ask
        status, answer = await post_graphql(app, HEADERS, ONE, [others[0]])  # type: ignore[arg-type]
        assert status == 400 or answer.get("errors"), (status, answer)
        assert asked == others


async def test_asked_by_the_gate_before_the_view_is_entered(
        demo: Demo, asked: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """As deployed (access log and answer cache on): the agencies are asked before
    the view is entered, into the context the view then executes with (nothing asked
    twice); an answer from the answer cache asks nothing."""
    from gateway.auth_gate import GraphQLEndpoint

    asks_when_read: list[int] = []
    original = GraphQLEndpoint.__call__

    async def entering(self: GraphQLEndpoint, scope: Any, receive: Any, send: Any) -> None:
        asks_when_read.append(len(asked))
        await original(self, scope, receive, send)

    monkeypatch.setattr(GraphQLEndpoint, "__call__", entering)
    first, second = codes_with_http_records(demo, 2)
    app = create_app(demo.config, AppOptions(freeze_heap_after_start=False,
                                             rate_limits=False))
    async with app.router.lifespan_context(app):
        assert app.state.access_log is not None
        await call(app, ONE, {"c": first})  # validates the text: not asked early
        assert asked == [] and asks_when_read == [0]
        before = http_queries(demo)
        answer = await call(app, ONE, {"c": second})
        sent = http_queries(demo) - before
        assert asked == [second] and asks_when_read == [0, 1]
        assert sent and max(sent.values()) <= 2, sent  # the view asked nothing again
        expected = await build_schema(actions=ACTIONS).execute(
            ONE, {"c": second}, context_value=app.state.runtime.new_context(DEPARTMENT))
        assert answer["data"] == expected.data
        again = await call(app, ONE, {"c": second})  # from the answer cache
        assert again == answer and asked == [second] and asks_when_read == [0, 1]
