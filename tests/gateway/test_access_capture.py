"""What the access log keeps of a request: its facts, what it returned, its outcome."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest

from conftest import ACTIONS, Demo
from gateway.access_capture import Summary, entry_for, outcome_of, request_facts, summary_of
from gateway.callers import PUBLIC, Caller
from gateway.graphql_payload import read_payload
from gateway.platform_store.entry import text_hash
from gateway.policy_files import DEFAULT_POLICY_DIR, PolicyStore
from gateway.runtime import Runtime, open_runtime
from schema.access import Clearance
from schema.build import build_schema

POLICY = PolicyStore(DEFAULT_POLICY_DIR)
FULL = build_schema(actions=ACTIONS)


@pytest.fixture
async def runtime(demo: Demo) -> AsyncIterator[Runtime]:
    runtime = open_runtime(demo.config, policies=POLICY)
    runtime.today = lambda: dt.date(2026, 11, 1)
    yield runtime
    await runtime.aclose()


def test_request_facts_hash_the_query_and_canonical_variables() -> None:
    body = json.dumps({"query": "{ sources { code } }", "operationName": "S",
                       "variables": {"b": 1, "a": [2]}}).encode()
    facts = request_facts("10.0.0.9", "abc-123", read_payload(body))
    assert facts.query_hash == text_hash("{ sources { code } }")
    assert facts.variables_hash == text_hash('{"a":[2],"b":1}')
    assert (facts.operation, facts.request_id, facts.client) == ("S", "abc-123", "10.0.0.9")
    odd = request_facts("x", "id", read_payload(b"not json"))
    assert (odd.query_hash, odd.variables_hash, odd.operation) == ("", "", "")
    by_get = request_facts("x", "id", read_payload(b"", b"query=%7B+a+%7D&variables=%7B%7D"))
    assert (by_get.query_hash, by_get.variables_hash) == (text_hash("{ a }"), text_hash("{}"))


@pytest.mark.parametrize(("status", "answer", "expected"), [
    (200, b'{"data":{"a":1}}', ("ok", "")),
    (200, b'{"data":{"a":1},"errors":[{"extensions":{"code":"SOURCE_UNAVAILABLE"}}]}',
     ("partial", "SOURCE_UNAVAILABLE")),
    (200, b'{"data":null,"errors":[{"extensions":{"code":"QUERY_TOO_COSTLY"}}]}',
     ("refused", "QUERY_TOO_COSTLY")),
    (401, b'{"errors":[{"extensions":{"code":"UNAUTHENTICATED"}}]}', ("401", "UNAUTHENTICATED")),
    (403, b'{"errors":[{"extensions":{"code":"PURPOSE_NOT_ALLOWED"}}]}',
     ("403", "PURPOSE_NOT_ALLOWED")),
    (429, b'{"errors":[{"extensions":{"code":"RATE_LIMITED"}}]}', ("429", "RATE_LIMITED")),
    (400, b"Unsupported content type", ("refused", "HTTP_400")),
])
def test_outcomes(status: int, answer: bytes, expected: tuple[str, str]) -> None:
    assert outcome_of(status, answer) == expected


async def test_a_summary_names_what_the_answer_returned(runtime: Runtime, demo: Demo) -> None:
    context = runtime.new_context(Clearance("department", "SAMR", "INSPECTION"))
    result = await FULL.execute("""query($c: String!) { enterprise(creditCode: $c) { name
        penalties(period: ALL) { recordId personId } judgmentDefaults(period: ALL) { recordId }
        warning { reasons { evidence { recordId } } } } }""", {"c": demo.showcase},
                                context_value=context)
    assert result.errors is None
    summary = summary_of(context)
    assert demo.showcase in summary.credit_codes
    assert {"Query.enterprise", "Enterprise.penalties"} <= set(summary.fields)
    assert set(summary.fields["Enterprise.penalties"]) <= {"OPEN", "CONDITIONAL", "NOT_OPEN"}
    entry = entry_for(request_facts("127.0.0.1", "id", read_payload(b"{}")),
                      Caller("samr-app", context.view.clearance), 200, b'{"data":{}}',
                      summary, 12.5)
    assert (entry.principal, entry.role, entry.agency, entry.purpose, entry.outcome) == (
        "samr-app", "department", "SAMR", "INSPECTION", "ok")
    again = entry_for(request_facts("127.0.0.1", "id-2", read_payload(b"{}"), at=entry.at),
                      Caller("samr-app", context.view.clearance), 200, b'{"data":{}}',
                      summary, 12.5)
    # the request id differs (each request has its own), so the content does too
    assert again.request_id != entry.request_id
    assert again.content_hash() != entry.content_hash()
    assert entry.content_hash() == entry.content_hash()


async def test_a_summary_keeps_the_decisions_given(runtime: Runtime, demo: Demo) -> None:
    context = runtime.new_context(Clearance("approval", "", "LICENCE_APPROVAL"))
    result = await FULL.execute("""query($c: String!) { restrictionCheck(creditCode: $c,
        action: LICENCE_APPLICATION) { decision } }""", {"c": demo.showcase},
                                context_value=context)
    assert result.errors is None and result.data is not None
    summary = summary_of(context)
    assert summary.decisions == ({"creditCode": demo.showcase, "action": "LICENCE_APPLICATION",
                                  "decision": result.data["restrictionCheck"]["decision"]},)
    assert summary.credit_codes == (demo.showcase,)


def test_a_refused_caller_is_logged_without_a_principal() -> None:
    entry = entry_for(request_facts("127.0.0.1", "id", read_payload(b"")), None, 401,
                      b'{"errors":[{"extensions":{"code":"UNAUTHENTICATED"}}]}',
                      Summary(), 0.2)
    assert (entry.principal, entry.role, entry.outcome) == ("", "", "401")
    public = entry_for(request_facts("127.0.0.1", "id", read_payload(b"")), PUBLIC, 200,
                       b'{"data":{}}', Summary(), 0.2)
    assert (public.principal, public.role) == ("", "public")



def test_the_hashed_content_holds_every_field_of_an_entry() -> None:
    import dataclasses

    from gateway.platform_store.entry import AccessEntry

    entry = entry_for(request_facts("127.0.0.1", "id", read_payload(b"{}")), PUBLIC, 200,
                      b"{}", Summary(), 1.0)
    assert set(json.loads(entry.content())) == {f.name for f in dataclasses.fields(AccessEntry)}
