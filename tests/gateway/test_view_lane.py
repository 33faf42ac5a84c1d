"""A POST the gate has parsed is answered without strawberry's request handling
(``gateway.graphql_view``): the same status, headers and bytes as strawberry's view
gives, for every kind of body - valid queries, errors in the text, the variables or
the operation, refusals, mutations, the public schema - and strawberry's view still
answers whatever the lane does not take."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgi_client import post_body

from conftest import Demo
from gateway.app import AppOptions, create_app
from gateway.graphql_view import GraphQLView

DEPARTMENT = [(b"authorization", b"Bearer demo-department-key"), (b"x-purpose", b"INSPECTION")]
ADMIN = [(b"authorization", b"Bearer demo-admin-key")]
PUBLIC: list[tuple[bytes, bytes]] = []
LISTS = ("licences { recordId licenceNo } penalties { recordId amount agency { code } } "
         "judgmentDefaults { caseNo } warning { level reasons { rule } } "
         "creditGrade { grade }")


def bodies(code: str) -> list[object]:
    """Bodies of every kind, as JSON values (a ``bytes`` value is sent as it is)."""
    one = "query One($c: String!) { enterprise(creditCode: $c) { name %s } }" % LISTS
    return [
        {"query": one, "variables": {"c": code}},
        {"query": one, "variables": {"c": code}, "operationName": "One"},
        {"query": one, "variables": {"c": code}, "extensions": {"trace": True}},
        {"query": one, "variables": {"c": "91110000000000000X"}},      # not a credit code
        {"query": one, "variables": {}},                               # missing variable
        {"query": one, "variables": {"c": 12}},                        # wrong type
        {"query": one},                                                 # no variables
        {"query": one, "variables": None, "extensions": None, "operationName": None},
        {"query": one, "variables": {"c": code}, "operationName": "Other"},
        {"query": "query A { __typename } query B { __typename }"},   # which operation?
        {"query": "query A { __typename } query B { __typename }", "operationName": "B"},
        {"query": "{ enterprise(creditCode: \"%s\") { name nope } }" % code},  # invalid
        {"query": "{ enterprise(creditCode: "},                        # syntax error
        {"query": ""},
        {"query": "   # only a comment"},
        {"query": "{ __typename }"},
        {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(300)) + " }"},  # aliases
        {"query": "mutation { setFieldClass(type: \"Licence\", field: \"licenceNo\", "
                  "openness: FULLY_OPEN) { type } }"},
        {"query": "subscription { __typename }"},
        {"query": "{ enterprises(first: 3) { totalCount edges { node { name %s } } } }"
                  % LISTS},
        # not taken by the lane: strawberry's view answers (and refuses) these
        {"query": one, "variables": [code]},
        {"query": one, "variables": {"c": code}, "extensions": "x"},
        {"query": one, "variables": {"c": code}, "operationName": 5},
        {"query": None},
        {"variables": {"c": code}},
        [{"query": "{ __typename }"}],
        b'{"query": "{ __typename }"',
        b'"text"',
    ]


async def post(app: Any, headers: list[tuple[bytes, bytes]], body: bytes
               ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The answer, without its request id (new for each request)."""
    status, answer_headers, answer = await post_body(app, headers, body)
    return status, [(n, v) for n, v in answer_headers if n != b"x-request-id"], answer


@pytest.mark.parametrize("caller", [pytest.param(DEPARTMENT, id="department"),
                                    pytest.param(ADMIN, id="admin"),
                                    pytest.param(PUBLIC, id="public")])
async def test_the_lane_answers_as_strawberrys_view(
        demo: Demo, caller: list[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = demo.showcase
    app = create_app(demo.config, AppOptions(freeze_heap_after_start=False,
                                             response_cache=False, rate_limits=False))
    through_strawberry: list[int] = []
    original_run = GraphQLView.run

    async def run(self: GraphQLView, *args: Any, **kwargs: Any) -> Any:
        through_strawberry.append(1)
        return await original_run(self, *args, **kwargs)

    monkeypatch.setattr(GraphQLView, "run", run)
    lane = GraphQLView._executes_as_sent
    sent = [body if isinstance(body, bytes) else json.dumps(body).encode()
            for body in bodies(code)]
    async with app.router.lifespan_context(app):
        for body in [*sent, *sent]:  # twice: the second time from the memos
            del through_strawberry[:]
            with monkeypatch.context() as patch:
                patch.setattr(GraphQLView, "_executes_as_sent", lambda self, body: False)
                expected = await post(app, caller, body)
            assert len(through_strawberry) == 1
            del through_strawberry[:]
            assert await post(app, caller, body) == expected, body[:200]
            taken = not through_strawberry
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("query"), str):
                # what the lane takes: every body strawberry executes as sent
                assert taken is all(isinstance(parsed.get(k), t) for k, t in (
                    ("variables", dict | None), ("extensions", dict | None),
                    ("operationName", str | None))), body[:200]
            else:
                assert not taken, body[:200]
        assert GraphQLView._executes_as_sent is lane
