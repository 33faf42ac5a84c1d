"""The access log on a running gateway: every request leaves an entry in one valid
chain, auditors read it, anyone who may see an enterprise learns who viewed it, and
the gateway fails closed when the log cannot be written."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from conftest import ACME, ADMIN, ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.platform_store.audit import verify
from gateway.platform_store.store import open_store

AUDITOR = {"Authorization": "Bearer test-auditor-key", "X-Purpose": "AUDIT"}
DEPARTMENT = {"Authorization": "Bearer test-reg-key", "X-Purpose": "INSPECTION"}
ONE = '{ enterprise(creditCode: "%s") { name penalties { recordId } } }' % ACME


def configure(user_agencies: dict[str, Any], fail_after_s: float = 5.0) -> Path:
    import hashlib

    config: Path = user_agencies["config"]
    text = config.read_text(encoding="utf-8")
    digest = hashlib.sha256(b"test-auditor-key").hexdigest()
    text += f"""  - id: test-auditor
    key_sha256: "{digest}"
    role: auditor
    purposes: [AUDIT]
platform:
  audit_fail_after_s: {fail_after_s}
"""
    config.write_text(text, encoding="utf-8")
    return config


def post(server: ServerThread, query: str, headers: dict[str, str] | None = None,
         ) -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", json={"query": query}, headers=headers or {},
                      timeout=30)


def entries(config: Path) -> list[dict[str, Any]]:
    """The access log's rows; none while the gateway is still migrating its database
    (migrations run beside the first requests)."""
    with sqlite3.connect(config.parent / "platform.db") as db:
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("SELECT * FROM access_log ORDER BY id")]
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def intact(config: Path) -> tuple[bool, int]:
    async def run() -> tuple[bool, int]:
        store = open_store(load_config(config).platform)
        try:
            verdict = await verify(store)
        finally:
            await store.aclose()
        return verdict.intact, verdict.count

    return asyncio.run(run())


def test_every_request_leaves_an_entry_and_auditors_read_them(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    config = configure(user_agencies)
    server = serve(create_app(load_config(config), AppOptions(freeze_heap_after_start=False)))
    assert post(server, ONE).status_code == 200                       # public
    assert post(server, ONE, DEPARTMENT).status_code == 200           # department
    assert post(server, ONE, DEPARTMENT).status_code == 200           # the cached answer
    assert post(server, ONE, {"Authorization": "Bearer nope"}).status_code == 401
    refused = post(server, ONE, {**ADMIN, "X-Purpose": "NOT_A_PURPOSE"})
    assert refused.status_code == 403
    assert "x-request-id" in refused.headers
    wait_for(lambda: len(entries(config)) >= 5)
    rows = entries(config)
    assert [r["outcome"] for r in rows] == ["ok", "ok", "ok", "401", "403"]
    assert [r["role"] for r in rows] == ["public", "department", "department", "", "admin"]
    assert rows[1]["principal"] == "test-reg-department" and rows[1]["purpose"] == "INSPECTION"
    assert ACME in rows[0]["credit_codes"] and ACME in rows[2]["credit_codes"]  # cached too
    assert rows[4]["refusal_code"] == "PURPOSE_NOT_ALLOWED"
    assert rows[0]["query_hash"] and rows[0]["client"] == "127.0.0.1"

    log = post(server, """{ accessLog(filter: {creditCode: "%s"}, first: 10) {
        totalCount entries { principal role purpose creditCodes fields outcome } } }""" % ACME,
               AUDITOR).json()
    assert log["data"]["accessLog"]["totalCount"] == 3
    assert log["data"]["accessLog"]["entries"][1]["fields"]
    forbidden = post(server, "{ accessLog { totalCount } }", DEPARTMENT).json()
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    public = post(server, "{ accessLog { totalCount } }").json()
    assert "Cannot query field 'accessLog'" in public["errors"][0]["message"]
    viewed = post(server, '{ whoViewed(creditCode: "%s") { agency purpose requests } }'
                  % ACME).json()
    assert viewed["data"]["whoViewed"] == [
        {"agency": "REG", "purpose": "INSPECTION", "requests": 2}]
    today = dt.datetime.now(dt.UTC).date()
    alerts = post(server, """{ accessAlerts(since: "%s", until: "%s") {
        kind principal detail } }""" % (today - dt.timedelta(days=1),
                                        today + dt.timedelta(days=1)), AUDITOR).json()
    assert {"REFUSED"} <= {a["kind"] for a in alerts["data"]["accessAlerts"]}
    by_default = post(server, "{ accessAlerts { kind principal detail } }", AUDITOR).json()
    # the seven days up to today: what the explicit window found (and the auditor's own
    # requests' alerts since, e.g. OFF_HOURS, written meanwhile)
    seen = [json.dumps(a, sort_keys=True) for a in by_default["data"]["accessAlerts"]]
    assert all(json.dumps(a, sort_keys=True) in seen for a in alerts["data"]["accessAlerts"])
    before = post(server, '{ accessAlerts(until: "%s") { kind } }'
                  % (today - dt.timedelta(days=1)), AUDITOR).json()
    assert before["data"]["accessAlerts"] == []  # the seven days before yesterday's end
    server.stop()
    assert intact(config) == (True, len(entries(config)))


def test_the_gateway_fails_closed_while_the_log_cannot_be_written(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    config = configure(user_agencies, fail_after_s=0.5)
    server = serve(create_app(load_config(config), AppOptions(
        freeze_heap_after_start=False, response_cache=False)))
    assert post(server, ONE, DEPARTMENT).status_code == 200
    wait_for(lambda: len(entries(config)) == 1)
    blocker = sqlite3.connect(config.parent / "platform.db", timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        post(server, ONE)  # an entry that cannot be written now
        time.sleep(1.2)
        refused = post(server, ONE, DEPARTMENT)
        assert refused.status_code == 503
        assert refused.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
        assert post(server, ONE).status_code == 200  # the public is still served
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["accessLog"]["healthy"] is False
    finally:
        blocker.rollback()
        blocker.close()
    wait_for(lambda: post(server, ONE, DEPARTMENT).status_code == 200)
    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
    server.stop()
    rows = entries(config)
    assert "AUDIT_UNAVAILABLE" in [r["refusal_code"] for r in rows]  # nothing was lost
    assert intact(config) == (True, len(rows))


def test_sigterm_writes_every_entry_before_the_process_ends(
    user_agencies: dict[str, Any],
) -> None:
    """``gateway serve`` stopped with SIGTERM under load loses no entry: the chain holds
    one entry per request answered, intact."""
    import os
    import signal
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from conftest import free_port

    config = configure(user_agencies)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--port",
         str(port), "--no-graphiql", "--no-response-cache", "--no-rate-limits",
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        wait_for(lambda: _answers(url), timeout=60)

        def ask(_: int) -> int:
            return httpx.post(url, json={"query": ONE}, headers=DEPARTMENT,
                              timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(ask, range(200)))
        assert statuses.count(200) == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
    rows = entries(config)
    answered = [r for r in rows if r["role"] == "department"]
    assert len(answered) == 200
    assert intact(config) == (True, len(rows))


def _answers(url: str) -> bool:
    try:
        return httpx.post(url, json={"query": "{ sources { code } }"}, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_text_that_is_not_unicode_is_refused_and_logged(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    """A lone UTF-16 surrogate is valid JSON but not text: it can be neither hashed for
    the access log nor repeated in an answer. Wherever a request carries one - the query,
    the operation name, a variable; as an escape or in its UTF-8 form; in a POST body or
    a GET's variables - it is refused with a 400 that says so, and the refusal is in the
    log like any other; a surrogate pair (an emoji as two escapes) is text."""
    config = configure(user_agencies)
    server = serve(create_app(load_config(config), AppOptions(freeze_heap_after_start=False)))
    query = "query One($c: String!) { enterprise(creditCode: $c) { name } }"
    bodies = [
        b'{"query": "query One($c: String!) { enterprise(creditCode: $c) { name } }",'
        b' "variables": {"c": "\\ud800"}}',
        b'{"query": "{ __typename }", "operationName": "\\uDFFF"}',
        b'{"query": "{ __typename \\ud83d }"}',
        b'{"query": "{ __typename }", "variables": {"x": ["a", {"y": "\\udc00z"}]}}',
        b'{"query": "{ __typename }", "variables": {"c": "' + b"\xed\xa0\x80\"}}",
    ]
    for body in bodies:
        answer = httpx.post(f"{server.url}/graphql", content=body, timeout=30,
                            headers={**DEPARTMENT, "Content-Type": "application/json"})
        assert answer.status_code == 400, (body, answer.text)
        error = answer.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert "lone UTF-16 surrogate" in error["message"]
    got = httpx.get(f"{server.url}/graphql", timeout=30, headers=DEPARTMENT, params={
        "query": query, "variables": '{"c": "\\ud800"}'})
    assert got.status_code == 400 and "lone UTF-16 surrogate" in got.text
    paired = httpx.post(f"{server.url}/graphql", timeout=30, content=(
        b'{"query": "{ __typename }", "variables": {"c": "\\ud83d\\ude00"}}'),
        headers={**DEPARTMENT, "Content-Type": "application/json"})
    assert paired.status_code == 200 and paired.json() == {"data": {"__typename": "Query"}}
    wait_for(lambda: len(entries(config)) >= len(bodies) + 2)
    rows = entries(config)
    assert [(r["outcome"], r["refusal_code"]) for r in rows] == (
        [("refused", "BAD_REQUEST")] * (len(bodies) + 1) + [("ok", "")])
    assert all(r["principal"] == "test-reg-department" for r in rows)
    server.stop()
    assert intact(config) == (True, len(rows))
