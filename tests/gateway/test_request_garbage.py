"""A request leaves no reference cycle: what it made is freed by reference counting
when its answer has gone, not by the garbage collector's passes (gateway.heap: with
cycles, full passes cost a quarter of the CPU under load).

The app is driven in this process through its ASGI interface (no server, no client
library between), and every object the collector finds unreachable afterwards is
counted - every kind of request: a department's and the public's enterprise with every
list, warning, grade and restriction check, a page, an unknown and a malformed credit
code, a query that does not parse, one that does not validate, a refused key, and an
agency failing."""

from __future__ import annotations

import asyncio
import collections
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from asgi_client import post_graphql
from graphql.language import Token

from conftest import ACME, BETA, GAMMA
from gateway.app import AppOptions, create_app
from gateway.config import load_config

DEPARTMENT = [(b"authorization", b"Bearer test-reg-key"), (b"x-purpose", b"INSPECTION")]
ADMIN = [(b"authorization", b"Bearer test-admin-key")]
LISTS = """licences { recordId licenceNo status openness }
  penalties { recordId decisionNo amount decidedOn agency { code } }
  judgmentDefaults { recordId caseNo performance }
  warning { level reasons { rule level agencies { code } } }
  creditGrade { grade }"""
ENTERPRISE = "query($c: String!) { enterprise(creditCode: $c) { creditCode name %s } }" % LISTS
PAGE = "{ enterprises(first: 10) { totalCount edges { node { creditCode %s } } } }" % LISTS
RESTRICTIONS = ('{ restrictionCheck(creditCode: "%s", action: "GOVERNMENT_PROCUREMENT") '
                '{ restricted } }')

# (headers, query, variables, expected status)
REQUESTS: list[tuple[list[tuple[bytes, bytes]], str, dict[str, Any], int]] = [
    (DEPARTMENT, ENTERPRISE, {"c": ACME}, 200),
    (DEPARTMENT, ENTERPRISE, {"c": GAMMA}, 200),
    ([], ENTERPRISE.replace("creditGrade { grade }", ""), {"c": BETA}, 200),
    (DEPARTMENT, PAGE, {}, 200),
    (DEPARTMENT, ENTERPRISE, {"c": "91110000000000000X"}, 200),   # unknown enterprise
    (DEPARTMENT, ENTERPRISE, {"c": "not-a-credit-code"}, 200),    # an error in the answer
    (DEPARTMENT, "{ enterprise(creditCode: ", {}, 200),            # does not parse
    (DEPARTMENT, "{ enterprise { nope } }", {}, 200),              # does not validate
    ([(b"authorization", b"Bearer wrong")], ENTERPRISE, {"c": ACME}, 401),
    (ADMIN, RESTRICTIONS % ACME, {}, 200),
]


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The collector paused (it would free cycles before they are counted)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


# what a request makes: the gateway's own objects and its libraries', and the frames,
# tracebacks, coroutines and futures of its code. Left out: graphql-core's lexer
# tokens (a doubly linked list by design, made when a new query text is parsed, not
# when a parsed one - strawberry's parser cache - is run) and whatever else shares
# the process (sockets of closed connections, the test's agency server).
_OURS = ("schema", "gateway", "connectors", "graphql", "strawberry", "starlette",
         "aiodataloader")
_RUNTIME = ("frame", "traceback", "coroutine", "Future", "Task")


def _of_a_request(thing: object) -> bool:
    kind = type(thing)
    if isinstance(thing, Token):
        return False
    return kind.__module__.split(".")[0] in _OURS or kind.__name__ in _RUNTIME


def cyclic_garbage() -> collections.Counter[str]:
    """What a request made that the collector finds unreachable now, by type; then
    everything unreachable is freed."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = collections.Counter(type(thing).__qualname__ for thing in gc.garbage
                                if _of_a_request(thing))
    gc.set_debug(0)
    gc.garbage.clear()
    gc.collect()
    return found


def test_requests_of_every_kind_leave_no_reference_cycle(
        user_agencies: dict[str, Any], collector_off: None) -> None:
    app = create_app(load_config(user_agencies["config"]),
                     AppOptions(freeze_heap_after_start=False, response_cache=False))
    court = user_agencies["court"].state.control

    async def court_failing() -> tuple[int, dict[str, Any]]:
        court.mode = "error_500"
        await asyncio.sleep(0.6)  # past the court's cache_ttl_s
        try:
            return await post_graphql(app, DEPARTMENT, ENTERPRISE, {"c": GAMMA})
        finally:
            court.mode = "ok"

    async def run() -> dict[str, collections.Counter[str]]:
        found: dict[str, collections.Counter[str]] = {}
        async with app.router.lifespan_context(app):
            for headers, query, variables, _ in REQUESTS:  # first use builds what lasts
                await post_graphql(app, headers, query, variables)
            await court_failing()
            await asyncio.sleep(0.5)  # the access log's writer catches up
            cyclic_garbage()
            for number, (headers, query, variables, status) in enumerate(REQUESTS):
                answered, body = await post_graphql(app, headers, query, variables)
                assert answered == status, body
                await asyncio.sleep(0.2)  # its access-log entry written
                found[f"{number}: {query[:40]} {variables}"] = cyclic_garbage()
            answered, body = await court_failing()
            # answered from the court's stale copy (stale_if_error_s), and reported
            assert answered == 200 and body["extensions"]["stale"], body
            await asyncio.sleep(0.2)
            found["the court failing"] = cyclic_garbage()
        return found

    assert {kind: garbage for kind, garbage in asyncio.run(run()).items() if garbage} == {}
