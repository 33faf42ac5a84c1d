"""Logs (issue 13, point 10): one JSON access line per request, the request id taken
or made and echoed on every answer and kept in the access log, text lines for humans,
and nothing a caller must keep secret in any line."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conftest import ACME, ADMIN, ServerThread, free_port
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.graphql_payload import Payload, operation_of
from gateway.logs import JsonFormatter, TextFormatter, current_request_id, request_id
from gateway.metrics import GatewayMetrics
from gateway.observation import ObservedRequests
from gateway.policy_files import DEFAULT_POLICY_DIR

DEPARTMENT = {"Authorization": "Bearer test-reg-key", "X-Purpose": "INSPECTION"}
ONE = 'query One { enterprise(creditCode: "%s") { name penalties { recordId } } }' % ACME


class Lines:
    """JSON lines the gateway's loggers wrote while a test ran."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._stream.getvalue().splitlines()]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.all() if line["logger"] == "gateway.access"]

    def text(self) -> str:
        return self._stream.getvalue()


@pytest.fixture
def lines() -> Iterator[Lines]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("gateway", "connectors")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield Lines(stream)
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def small_limits(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    (folder / "rate_limits.yaml").write_text("""roles:
  public:     {requests: 2, window_s: 60}
  department: {requests: 600, window_s: 60}
  approval:   {requests: 600, window_s: 60}
  auditor:    {requests: 600, window_s: 60}
  admin:      {requests: 600, window_s: 60}
""", encoding="utf-8")
    return folder


async def _broken(request: Request) -> Response:
    raise RuntimeError("a bug at 10.1.2.3:5432")


def post(server: ServerThread, body: Any, headers: dict[str, str] | None = None,
         ) -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", json=body, headers=headers or {}, timeout=30)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def access_log_ids(config: Path) -> list[str]:
    with sqlite3.connect(config.parent / "platform.db") as db:
        return [row[0] for row in db.execute("SELECT request_id FROM access_log ORDER BY id")]


def test_every_answer_carries_its_request_id_and_leaves_one_access_line(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], tmp_path: Path,
    lines: Lines,
) -> None:
    config = user_agencies["config"]
    server = serve(create_app(load_config(config), AppOptions(
        freeze_heap_after_start=False, policy_dir=small_limits(tmp_path),
        max_body_bytes=2000, extra_routes=[Route("/broken", _broken)])))
    answers = {
        "ok": post(server, {"query": ONE}, {"X-Request-Id": "caller-chosen.id:1"}),
        "department": post(server, {"query": ONE}, DEPARTMENT),
        "401": post(server, {"query": ONE}, {"Authorization": "Bearer wrong"}),
        "413": post(server, {"query": "{ sources { code } }", "variables": {"x": "y" * 3000}}),
        "invalid": post(server, {"query": "{ noSuchField }"}),
        "429": post(server, {"query": ONE}),  # the public's third request in the window
        "readyz": httpx.get(f"{server.url}/readyz", timeout=10),
        "healthz": httpx.get(f"{server.url}/healthz", timeout=10),
        "metrics": httpx.get(f"{server.url}/metrics", timeout=10),
        "404": httpx.get(f"{server.url}/nowhere", timeout=10),
        "500": httpx.get(f"{server.url}/broken", timeout=10),
    }
    assert [a.status_code for a in answers.values()] == [
        200, 200, 401, 413, 200, 429, 200, 200, 200, 404, 500]
    ids = {name: answer.headers.get("x-request-id") for name, answer in answers.items()}
    assert ids["ok"] == "caller-chosen.id:1"
    made = [rid for name, rid in ids.items() if name != "ok"]
    assert all(rid is not None and len(rid) == 32 for rid in made)
    assert len(set(made)) == len(made)  # one per request
    # a failure inside the gateway: a clear error, its details only in the log
    broken = answers["500"].json()["errors"][0]
    assert broken["extensions"]["code"] == "INTERNAL_ERROR"
    assert "10.1.2.3" not in answers["500"].text and "Traceback" not in answers["500"].text

    wait_for(lambda: len(lines.access()) == len(answers))
    access = lines.access()
    assert [line["request_id"] for line in access] == list(ids.values())
    assert [line["outcome"] for line in access] == [
        "ok", "ok", "UNAUTHENTICATED", "REQUEST_TOO_LARGE",
        access[4]["outcome"], "RATE_LIMITED", "ok", "ok", "ok", "HTTP_404", "INTERNAL_ERROR"]
    assert access[4]["outcome"] not in ("ok", "partial")  # a validation failure's code
    first = access[0]
    assert set(first) == {"time", "level", "logger", "message", "request_id", "principal",
                          "role", "operation", "method", "path", "status", "latency_ms",
                          "outcome"}
    assert first["time"].endswith("Z") and len(first["time"]) == len("2026-12-02T05:35:29.123Z")
    assert (first["level"], first["method"], first["path"], first["status"]) == (
        "INFO", "POST", "/graphql", 200)
    assert (first["principal"], first["role"], first["operation"]) == ("-", "public", "One")
    assert first["message"].startswith("POST /graphql 200 ")
    assert isinstance(first["latency_ms"], float) and first["latency_ms"] > 0
    assert (access[1]["principal"], access[1]["role"]) == ("test-reg-department", "department")
    assert access[6]["path"] == "/readyz" and access[6]["operation"] == "-"
    # the failure's traceback is logged, with the request's id
    failure = next(line for line in lines.all() if line["message"] == "the request failed")
    assert failure["request_id"] == ids["500"] and "RuntimeError" in failure["exception"]

    # the access log (留痕) keeps each GraphQL request under the id its answer carried
    wait_for(lambda: len(access_log_ids(config)) >= 5)
    kept = access_log_ids(config)
    assert ids["ok"] in kept and ids["department"] in kept and ids["401"] in kept
    assert ids["429"] in kept and ids["readyz"] not in kept


@pytest.mark.parametrize("given", [
    "x" * 129,            # too long
    "two words",          # a space
    "line\nbreak",        # a control character
    "名字",               # not ASCII
    "",
])
def test_an_unusable_request_id_is_replaced(given: str) -> None:
    made = request_id(given)
    assert made != given and len(made) == 32 and int(made, 16) >= 0


def test_a_usable_request_id_is_kept() -> None:
    assert request_id("a" * 128) == "a" * 128
    assert request_id("trace-4bf92f35/77;x=\"1\"") == "trace-4bf92f35/77;x=\"1\""
    assert request_id(None) != request_id(None)


def test_the_operation_is_named_as_the_caller_named_it_or_by_its_first_operation() -> None:
    assert operation_of(Payload("query A { a } query B { b }", "B")) == "B"
    assert operation_of(Payload("query A { a }")) == "A"
    assert operation_of(Payload("  # comment\n, mutation  Save { a }")) == "Save"
    assert operation_of(Payload("{ a }")) == "query"
    assert operation_of(Payload("query($x: Int) { a }")) == "query"
    assert operation_of(Payload("query A { a }", "not a name")) == "A"
    assert operation_of(Payload(None)) == "-"
    assert operation_of(Payload("#" * 100_000 + "x")) == "-"  # no backtracking


async def test_a_request_left_before_its_answer_is_logged_as_cancelled(lines: Lines) -> None:
    async def gone(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # the caller disconnected: the app returns without answering

    async def disconnect() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def nowhere(message: Any) -> None:
        raise AssertionError("nothing is sent")

    metrics = GatewayMetrics()
    observed = ObservedRequests(gone, metrics=metrics, tracing=None)
    await observed({"type": "http", "method": "POST", "path": "/graphql", "query_string": b"",
                    "headers": [(b"x-request-id", b"left-early")]}, disconnect, nowhere)
    (line,) = lines.access()
    assert (line["request_id"], line["status"], line["outcome"]) == ("left-early", 0, "cancelled")
    text = metrics.render("", [], None)[0].decode()
    assert 'gateway_requests_total{operation="-",outcome="cancelled"} 1.0' in text


def _record(**extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("gateway.access", logging.INFO, __file__, 1,
                               "POST %s %d", ("/graphql", 200), None)
    record.__dict__.update(extra)
    return record


def test_json_and_text_lines_carry_the_same_fields() -> None:
    record = _record(request_id="r-1", principal="tax app", operation="One", status=200,
                     latency_ms=1.5, outcome="ok")
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "POST /graphql 200" and line["logger"] == "gateway.access"
    assert (line["request_id"], line["principal"], line["status"]) == ("r-1", "tax app", 200)
    text = TextFormatter().format(record)
    assert text.endswith(" INFO gateway.access: POST /graphql 200 request_id=r-1 "
                         'principal="tax app" operation=One status=200 latency_ms=1.5 '
                         "outcome=ok")
    assert text[:24].endswith("Z")


def test_a_line_logged_while_a_request_is_served_carries_its_id() -> None:
    token = current_request_id.set("r-2")
    try:
        line = json.loads(JsonFormatter().format(logging.LogRecord(
            "connectors", logging.WARNING, __file__, 1, "agency slow", (), None)))
    finally:
        current_request_id.reset(token)
    assert line["request_id"] == "r-2"
    outside = json.loads(JsonFormatter().format(_record()))
    assert "request_id" not in outside


def test_no_key_query_text_variable_or_record_value_is_logged(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], lines: Lines,
) -> None:
    server = serve(create_app(load_config(user_agencies["config"]),
                              AppOptions(freeze_heap_after_start=False)))
    query = """query Lookup($c: String!) { enterprise(creditCode: $c) {
        name legalRepresentative { name } penalties { recordId decisionNo } } }"""
    answer = post(server, {"query": query, "variables": {"c": ACME}}, ADMIN)
    assert "北京甲餐饮有限公司" in answer.text  # the answer holds the values...
    by_get = httpx.get(f"{server.url}/graphql", params={"query": ONE}, headers=DEPARTMENT,
                       timeout=30)
    assert by_get.status_code == 200
    wait_for(lambda: len(lines.access()) == 2)
    logged = lines.text()
    assert [line["operation"] for line in lines.access()] == ["Lookup", "One"]
    assert lines.access()[1]["path"] == "/graphql"  # the query string is not logged
    for secret in ("test-admin-key", "test-reg-key", ACME, "北京甲餐饮有限公司", "张三",
                   "西市监罚", "legalRepresentative", "creditCode"):
        assert secret not in logged, secret


def _serve_command(config: Path, log_format: str) -> tuple[list[str], str]:
    """``gateway serve`` in a subprocess: its stderr lines after one request."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
         "--port", str(port), "--log-format", log_format],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "gateway serve exited"
            assert time.monotonic() < deadline, "gateway serve did not start"
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": ONE},
                            headers={"X-Request-Id": "from-the-test"}, timeout=30)
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    return err.splitlines(), answer.headers["x-request-id"]


def test_gateway_serve_logs_json_lines_by_default_uvicorn_included(
    user_agencies: dict[str, Any],
) -> None:
    err, rid = _serve_command(user_agencies["config"], "json")
    parsed = [json.loads(line) for line in err if line.startswith("{")]
    plain = [line for line in err if line.strip() and not line.startswith("{")]
    assert all(line.startswith(("GraphiQL: ", "Portal (公示查询): ")) for line in plain), plain
    loggers = {line["logger"] for line in parsed}
    assert {"gateway", "gateway.access", "uvicorn.error"} <= loggers
    access = [line for line in parsed if line["logger"] == "gateway.access"]
    assert {a["path"] for a in access} == {"/healthz", "/graphql"}  # the probes, the query
    assert [(a["request_id"], a["operation"], a["outcome"]) for a in access
            if a["path"] == "/graphql"] == [("from-the-test", "One", "ok")]
    assert rid == "from-the-test"


def test_gateway_serve_logs_text_for_humans(user_agencies: dict[str, Any]) -> None:
    err, _ = _serve_command(user_agencies["config"], "text")
    access = [line for line in err if " gateway.access: POST " in line]
    assert len(access) == 1
    assert " INFO gateway.access: POST /graphql 200 " in access[0]
    assert "request_id=from-the-test" in access[0] and "operation=One" in access[0]
    assert any(" INFO uvicorn.error: Application startup complete." in line for line in err)
    assert not any(line.startswith("{") for line in err)
