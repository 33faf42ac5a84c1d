"""The gateway with ``GATEWAY_REDIS_URL``: source records shared in a real Redis, and
queries that keep succeeding when Redis stops, comes back, or was never there."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from conftest import ACME, ADMIN, BETA, RedisServer, ServerThread, free_port
from gateway.app import AppOptions, create_app
from gateway.config import load_config

QUERY = """query($c: String!) { enterprise(creditCode: $c) {
  name penalties(period: ALL) { recordId agency { code } }
  licences(period: ALL) { recordId } judgmentDefaults(period: ALL) { recordId } } }"""


def long_lived(user_agencies: dict[str, Any]) -> Path:
    """The user configuration with the court's records cached for a minute (not 0.5 s)."""
    path: Path = user_agencies["config"]
    path.write_text(path.read_text(encoding="utf-8").replace("cache_ttl_s: 0.5", "cache_ttl_s: 60"),
                    encoding="utf-8")
    return path


def gateway(config: Path, serve: Callable[..., ServerThread], redis_url: str) -> ServerThread:
    # the answer cache off: these tests are about the record cache under it
    return serve(create_app(load_config(config), AppOptions(redis_url=redis_url,
                                                            response_cache=False)))


def ask(server: ServerThread, code: str = ACME) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", json={"query": QUERY, "variables": {"c": code}},
                          headers=ADMIN, timeout=15)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def runtime_of(server: ServerThread) -> Any:
    app: Any = server.server.config.app
    return app.state.runtime


def source_calls(server: ServerThread) -> Counter[str]:
    """Connector calls of this gateway so far, per agency and record type."""
    runtime = runtime_of(server)
    return Counter({f"{connector.code}:{kind}": n for connector in runtime.sources.all()
                    for kind, n in connector.calls.items()})


def cache_keys(server: RedisServer) -> list[bytes]:
    with server.sync_client() as client:
        return list(client.scan_iter(match="rg:records:*", count=1000))


def test_a_second_gateway_is_answered_from_redis_without_calling_any_agency(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], private_redis: RedisServer
) -> None:
    config = long_lived(user_agencies)
    first = gateway(config, serve, private_redis.url)
    before = source_calls(first)
    expected = ask(first)
    assert source_calls(first) - before  # the first gateway called the agencies
    assert cache_keys(private_redis)  # and stored what they said in Redis

    second = gateway(config, serve, private_redis.url)  # another process, empty memory
    court_queries = sum(user_agencies["court"].state.stats.queries.values())
    before = source_calls(second)
    assert ask(second) == expected
    assert source_calls(second) - before == Counter()  # every record came from Redis
    assert sum(user_agencies["court"].state.stats.queries.values()) == court_queries


def test_redis_stopped_mid_run_keeps_queries_succeeding_and_is_used_again_when_back(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture,
) -> None:
    server = gateway(long_lived(user_agencies), serve, private_redis.url)
    expected = ask(server)
    private_redis.kill()
    with caplog.at_level(logging.WARNING, logger="gateway.redis_cache"):
        for _ in range(3):
            assert ask(server) == expected  # answered, from the agencies and memory
    warnings = [r for r in caplog.records if r.name == "gateway.redis_cache"]
    assert len(warnings) == 1 and "in-process" in warnings[0].getMessage()

    private_redis.start()  # the same port, empty
    cache = runtime_of(server).cache
    deadline = time.monotonic() + 10
    while not cache.available:  # tried again at most every second, by the next query
        assert time.monotonic() < deadline, "the gateway did not go back to Redis"
        time.sleep(0.3)
        assert ask(server) == expected  # what memory got during the outage still serves
    ask(server, BETA)  # records not cached anywhere yet now go to Redis
    assert any(key.endswith(BETA.encode()) for key in cache_keys(private_redis))


def test_an_unreachable_redis_never_fails_a_query(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread]
) -> None:
    server = gateway(user_agencies["config"], serve, f"redis://127.0.0.1:{free_port()}/0")
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
    body = ask(server)
    assert body["data"]["enterprise"]["name"] == "北京甲餐饮有限公司"
    before = source_calls(server)
    assert ask(server) == body
    # the in-process fallback still caches (the court's 0.5 s lifetime aside)
    assert not {k for k in source_calls(server) - before if not k.startswith("COURT")}


def test_a_malformed_redis_url_stops_the_start_with_a_clear_error(
    user_agencies: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="GATEWAY_REDIS_URL"):
        create_app(load_config(user_agencies["config"]), AppOptions(redis_url="localhost:6379"))
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(user_agencies["config"]),
         "--port", str(free_port())],
        env={**os.environ, "GATEWAY_REDIS_URL": "redis://:s3cret@127.0.0.1:notaport/0"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "GATEWAY_REDIS_URL" in result.stderr and "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_shared_redis_on_the_machine_is_used_when_configured(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], redis_url: str
) -> None:
    """The machine's Redis (127.0.0.1:6379), as ``GATEWAY_REDIS_URL`` would give it."""
    url = urlsplit(redis_url)._replace(path="/15").geturl()  # a database of its own
    server = gateway(long_lived(user_agencies), serve, url)
    ask(server)
    with redis.Redis.from_url(url) as client:
        stored = list(client.scan_iter(match=f"rg:records:*:{ACME}", count=1000))
        assert stored
        client.delete(*client.scan_iter(match="rg:records:*", count=1000))
