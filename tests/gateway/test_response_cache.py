"""The answer cache (``gateway.response_cache``) over a real gateway: repeated queries
are answered without the agencies, never across clearances or policy versions, never
with an incomplete answer, never past the data's freshness."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ACME, ADMIN, ServerThread
from gateway.app import AppOptions, create_app
from gateway.cli import _parser
from gateway.config import load_config
from gateway.policy_files import DEFAULT_POLICY_DIR
from gateway.response_cache import ENTRY_OVERHEAD, ResponseCache
from schema.access import Clearance

QUERY = """query($c: String!) { enterprise(creditCode: $c) {
  name penalties(period: ALL) { recordId agency { code } } } }"""
PUBLIC: dict[str, str] = {}


def long_lived(user_agencies: dict[str, Any]) -> Path:
    path: Path = user_agencies["config"]
    path.write_text(path.read_text(encoding="utf-8").replace("cache_ttl_s: 0.5", "cache_ttl_s: 60"),
                    encoding="utf-8")
    return path


def ask(server: ServerThread, headers: dict[str, str]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", json={"query": QUERY, "variables": {"c": ACME}},
                          headers=headers, timeout=15)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def runtime_of(server: ServerThread) -> Any:
    app: Any = server.server.config.app
    return app.state.runtime


def calls(server: ServerThread) -> int:
    return sum(sum(c.calls.values()) for c in runtime_of(server).sources.all())


def penalties(body: dict[str, Any]) -> set[str]:
    return {p["recordId"] for p in body["data"]["enterprise"]["penalties"]}


def test_a_repeated_query_is_answered_without_the_agencies(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    server = serve(create_app(load_config(long_lived(user_agencies))))
    first = ask(server, ADMIN)
    before = calls(server)
    for _ in range(3):
        assert ask(server, ADMIN) == first
    assert calls(server) == before


def test_answers_never_cross_clearances(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    """Admin's answer holds a conditionally open penalty (EPB-1); the public, asking
    the same bytes after it, gets its own answer without it."""
    server = serve(create_app(load_config(long_lived(user_agencies))))
    admin = ask(server, ADMIN)
    assert "EPB-1" in penalties(admin)
    public = ask(server, PUBLIC)
    assert "EPB-1" not in penalties(public) and "EPB-1" not in str(public)
    assert ask(server, PUBLIC) == public  # and each is kept for its own clearance
    assert ask(server, ADMIN) == admin


def test_a_changed_policy_is_not_answered_from_the_old_one(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, policies)
    server = serve(create_app(load_config(long_lived(user_agencies)),
                              AppOptions(policy_dir=policies)))
    ask(server, ADMIN)
    before = calls(server)
    ask(server, ADMIN)
    assert calls(server) == before  # kept
    answers: ResponseCache = server.server.config.app.state.answers  # type: ignore[union-attr]
    hits, misses = answers.hits, answers.misses
    time.sleep(1.1)  # the policy store looks at its files at most once a second
    csv = policies / "policy.csv"
    csv.write_text(csv.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    time.sleep(0.05)
    ask(server, ADMIN)
    assert runtime_of(server).policy_version() > 1
    assert (answers.hits, answers.misses) == (hits, misses + 1)  # made again, new policy


def test_incomplete_answers_are_not_kept(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    server = serve(create_app(load_config(user_agencies["config"])))
    control = user_agencies["court"].state.control
    control.mode = "error_500"
    query = """query($c: String!) { enterprise(creditCode: $c) {
      judgmentDefaults(period: ALL) { recordId } } }"""
    failed = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": {"c": ACME}},
                        headers=ADMIN, timeout=15).json()
    assert failed["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    control.mode = "ok"
    whole = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": {"c": ACME}},
                       headers=ADMIN, timeout=15).json()
    assert "errors" not in whole
    assert whole["data"]["enterprise"]["judgmentDefaults"] == [{"recordId": "COURT-1"}]


def test_answers_live_no_longer_than_the_freshest_agency_allows(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    """The court's records live 0.5 s: so does an answer, even one without them."""
    server = serve(create_app(load_config(user_agencies["config"])))
    answers: ResponseCache = server.server.config.app.state.answers  # type: ignore[union-attr]
    ask(server, ADMIN)
    ask(server, ADMIN)
    assert answers.hits == 1
    time.sleep(0.6)
    ask(server, ADMIN)
    assert answers.hits == 1 and answers.misses == 2


DAY = dt.date(2026, 11, 24)
HEADERS = ((b"content-length", b"1000"), (b"content-type", b"application/json"))


def key_of(n: int) -> Any:
    return ResponseCache.key(Clearance("public"), 1, DAY, f'{{"query":"{{ q{n} }}"}}'.encode())


def counted(key: Any, body: bytes) -> int:
    """An entry's bytes as documented: key, body and headers, plus the fixed overhead."""
    role, agency, purpose, credit_code, _, _, day, request = key
    return (len(role) + len(agency) + len(purpose) + len(credit_code) + len(day)
            + len(request) + len(body)
            + sum(len(name) + len(value) for name, value in HEADERS) + ENTRY_OVERHEAD)


def test_many_distinct_answers_never_exceed_the_byte_bound() -> None:
    bound = 64 * 1024
    cache = ResponseCache(max_bytes=bound)
    rng = random.Random(11)
    bodies = [b"x" * rng.randint(1000, 5000) for _ in range(2000)]
    for n, body in enumerate(bodies):
        cache.put(key_of(n), HEADERS, body, 60)
        assert cache.bytes <= bound
    kept = [n for n in range(len(bodies)) if cache.get(key_of(n)) is not None]
    assert len(cache) == len(kept) and kept[-1] == len(bodies) - 1  # the newest are kept
    assert cache.bytes == sum(counted(key_of(n), bodies[n]) for n in kept)
    assert cache.bytes > bound - counted(key_of(0), b"x" * 5000)  # the bound is used


def test_the_least_recently_used_answer_goes_first() -> None:
    body = b"x" * 1000
    cache = ResponseCache(max_bytes=3 * counted(key_of(0), body))
    for n in range(3):
        cache.put(key_of(n), HEADERS, body, 60)
    assert cache.get(key_of(0)) is not None  # 0 used: 1 is now the least recently used
    cache.put(key_of(3), HEADERS, body, 60)
    assert [cache.get(key_of(n)) is not None for n in range(4)] == [True, False, True, True]
    assert len(cache) == 3 and cache.bytes == 3 * counted(key_of(0), body)


def test_expired_answers_are_swept_without_being_asked_again() -> None:
    now = [0.0]
    cache = ResponseCache(max_bytes=1 << 20, clock=lambda: now[0])
    for n in range(100):
        cache.put(key_of(n), HEADERS, b"answer", 5 if n % 2 else 50)
    assert len(cache) == 100
    now[0] = 6.0
    cache.put(key_of(100), HEADERS, b"answer", 5)  # another query: the 5 s ones are gone
    assert len(cache) == 51
    assert cache.bytes == sum(counted(key_of(n), b"answer") for n in range(0, 101, 2))
    now[0] = 60.0
    assert cache.sweep() == 51  # also swept on every get; ``sweep`` for an idle gateway
    assert len(cache) == 0 and cache.bytes == 0


def test_answers_too_large_or_without_a_lifetime_are_not_kept() -> None:
    now = [0.0]
    cache = ResponseCache(max_bytes=1 << 20, max_answer_bytes=10, clock=lambda: now[0])
    cache.put(key_of(0), HEADERS, b"x" * 11, 5)
    cache.put(key_of(1), HEADERS, b"x", 0)
    assert len(cache) == 0 and cache.bytes == 0
    tiny = ResponseCache(max_bytes=counted(key_of(2), b"x") - 1)
    tiny.put(key_of(2), HEADERS, b"x", 5)  # larger than the whole bound
    assert len(tiny) == 0
    cache.put(key_of(2), HEADERS, b"x", 5)
    assert cache.get(key_of(2)) is not None
    now[0] = 5.0
    assert cache.get(key_of(2)) is None and cache.bytes == 0  # expired


def test_the_bound_is_an_option(user_agencies: dict[str, Any]) -> None:
    app: Any = create_app(load_config(user_agencies["config"]),
                          AppOptions(response_cache_bytes=3 << 20))
    assert app.state.answers.max_bytes == 3 << 20
    assert create_app(load_config(user_agencies["config"])).state.answers.max_bytes == 64 << 20
    args = _parser().parse_args(["serve", "--response-cache-mb", "8"])
    assert args.response_cache_mb == 8
    with pytest.raises(ValueError, match="positive"):
        ResponseCache(max_bytes=0)


CALLERS = {
    "admin": ADMIN,
    "department with purpose": {"Authorization": "Bearer test-reg-key",
                                "X-Purpose": "INSPECTION"},
    "department without purpose": {"Authorization": "Bearer test-reg-key"},
    "public": PUBLIC,
}
QUERIES = [
    QUERY,
    """query($c: String!) { enterprise(creditCode: $c) { name licences { recordId content }
      penalties(period: ALL) { recordId personId amount content } warning { level } } }""",
    """query($c: String!) { enterprises(first: 10, filter: {hasRecordsFrom: "EPB"}) {
      totalCount edges { node { creditCode } } } e: enterprise(creditCode: $c) { name } }""",
]


def test_every_caller_gets_what_it_would_get_without_the_cache(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    """Each query asked by every caller in turn, twice round: the cached gateway's
    answers equal the uncached gateway's, byte for byte in content."""
    config = load_config(long_lived(user_agencies))
    cached = serve(create_app(config))
    plain = serve(create_app(config, AppOptions(response_cache=False)))

    def post(server: ServerThread, query: str, headers: dict[str, str]) -> Any:
        return httpx.post(f"{server.url}/graphql",
                          json={"query": query, "variables": {"c": ACME}},
                          headers=headers, timeout=15).json()

    complete = 0
    for round_number in range(2):
        for query in QUERIES:
            for name, headers in CALLERS.items():
                answer = post(cached, query, headers)
                assert answer == post(plain, query, headers), name
                complete += round_number == 0 and "errors" not in answer
    answers: ResponseCache = cached.server.config.app.state.answers  # type: ignore[union-attr]
    assert complete >= len(QUERIES) * len(CALLERS) - 2  # the public may not ask for some
    assert answers.hits == complete  # the second round: every complete answer kept


def test_answers_that_report_their_moment_are_never_reused(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    server = serve(create_app(load_config(long_lived(user_agencies))))
    answers: ResponseCache = server.server.config.app.state.answers  # type: ignore[union-attr]
    for query in ("{ sources { code available } }",
                  """{ restrictionCheck(creditCode: "%s", action: HONOUR) {
                       decision sources { agency { code } freshness } } }""" % ACME):
        for _ in range(2):
            body = httpx.post(f"{server.url}/graphql", json={"query": query}, headers=ADMIN,
                              timeout=15).json()
            assert "errors" not in body, body
    assert answers.hits == 0 and len(answers) == 0


# --- every request passes the same checks, cached or not (issue 11, finding 7) --------

BODY = json.dumps({"query": QUERY, "variables": {"c": ACME}}).encode()
JSON_TYPE = {"content-type": "application/json"}


@pytest.mark.parametrize(("content", "headers"), [
    pytest.param(BODY, {"content-type": "text/plain"}, id="text/plain"),
    pytest.param(BODY, {}, id="no content type"),
    pytest.param(BODY, {"content-type": "APPLICATION/JSON"}, id="upper-case JSON type"),
    pytest.param(BODY, {"content-type": "application/x-www-form-urlencoded"}, id="form"),
    pytest.param(BODY[:-1], JSON_TYPE, id="not JSON"),
    pytest.param(b"[" + BODY + b"]", JSON_TYPE, id="a batch"),
    pytest.param(json.dumps({"query": 1}).encode(), JSON_TYPE, id="query not a string"),
])
def test_a_cached_answer_passes_the_same_request_checks(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
    content: bytes, headers: dict[str, str],
) -> None:
    """With the answer to ``BODY`` kept, a request the GraphQL view refuses is refused
    in the same words as by a gateway without the cache, never answered from it."""
    config = load_config(long_lived(user_agencies))
    cached = serve(create_app(config))
    plain = serve(create_app(config, AppOptions(response_cache=False)))
    answers: ResponseCache = cached.server.config.app.state.answers  # type: ignore[union-attr]
    for _ in range(2):
        primed = httpx.post(f"{cached.url}/graphql", content=BODY,
                            headers={**ADMIN, **JSON_TYPE}, timeout=15)
        assert primed.status_code == 200 and "errors" not in primed.json()
    assert answers.hits == 1  # kept and answered from the cache

    def send(server: ServerThread) -> httpx.Response:
        return httpx.post(f"{server.url}/graphql", content=content,
                          headers={**ADMIN, **headers}, timeout=15)

    refused, expected = send(cached), send(plain)
    assert expected.status_code in (400, 415)  # 415: not sent as application/json
    assert (refused.status_code, refused.text) == (expected.status_code, expected.text)
    assert answers.hits == 1


def test_a_json_body_with_a_charset_is_still_answered_from_the_cache(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    """The view reads ``application/json; charset=utf-8`` as JSON: so does the cache."""
    server = serve(create_app(load_config(long_lived(user_agencies))))
    answers: ResponseCache = server.server.config.app.state.answers  # type: ignore[union-attr]
    first = httpx.post(f"{server.url}/graphql", content=BODY,
                       headers={**ADMIN, **JSON_TYPE}, timeout=15)
    again = httpx.post(f"{server.url}/graphql", content=BODY, timeout=15,
                       headers={**ADMIN, "content-type": "application/json; charset=utf-8"})
    assert (again.status_code, again.json()) == (200, first.json())
    assert answers.hits == 1
