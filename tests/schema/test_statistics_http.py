"""Statistics on a running gateway (real HTTP on loopback, SQLite platform database):
each question is an access-log entry with the caller's declared purpose, a refused one
too, and the public is answered protected figures."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from conftest import ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config

QUESTION = "{ statistics(groupBy: [DISTRICT]) { unit protected total cells { keys count } } }"


def configure(user_agencies: dict[str, Any]) -> Path:
    config: Path = user_agencies["config"]
    digest = hashlib.sha256(b"test-statistics-key").hexdigest()
    config.write_text(config.read_text(encoding="utf-8") + f"""  - id: test-reg-statistics
    key_sha256: "{digest}"
    role: department
    agency: REG
    purposes: [STATISTICS, INSPECTION]
""", encoding="utf-8")
    return config


def entries(config: Path, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(config.parent / "platform.db") as db:
            db.row_factory = sqlite3.Row
            try:
                rows = [dict(r) for r in db.execute("SELECT * FROM access_log ORDER BY id")]
            except sqlite3.OperationalError:
                rows = []
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_statistics_are_logged_with_the_declared_purpose(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
) -> None:
    config = configure(user_agencies)
    server = serve(create_app(load_config(config), AppOptions(freeze_heap_after_start=False)))

    def ask(purpose: str | None) -> dict[str, Any]:
        headers = {} if purpose is None else {
            "Authorization": "Bearer test-statistics-key", "X-Purpose": purpose}
        answer = httpx.post(f"{server.url}/graphql", json={"query": QUESTION},
                            headers=headers, timeout=30)
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        return body

    exact = ask("STATISTICS")
    assert "errors" not in exact
    assert exact["data"]["statistics"]["protected"] is False
    assert exact["data"]["statistics"]["total"] > 0
    refused = ask("INSPECTION")
    assert refused["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    public = ask(None)
    assert public["data"]["statistics"]["protected"] is True
    published = [c["count"] for c in public["data"]["statistics"]["cells"]]
    assert all(count is None or count >= 5 for count in published)
    rows = entries(config, 3)
    assert [(r["role"], r["purpose"]) for r in rows] == [
        ("department", "STATISTICS"), ("department", "INSPECTION"), ("public", "")]
    assert rows[0]["principal"] == "test-reg-statistics"
    assert [(r["outcome"], r["refusal_code"]) for r in rows] == [
        ("ok", ""), ("refused", "PURPOSE_REQUIRED"), ("ok", "")]
    assert len({r["query_hash"] for r in rows}) == 1 and rows[0]["query_hash"]
    server.stop()
