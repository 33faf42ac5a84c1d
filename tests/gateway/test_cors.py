"""Browsers on other origins: the ``cors:`` key, preflights, and the headers of answers."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import ServerThread
from gateway.app import AppOptions, create_app
from gateway.cli import main
from gateway.config import ConfigError, load_config, parse_config
from gateway.cors import CorsSettings

PORTAL = "https://portal.example.gov.cn"
QUERY = {"query": "{ sources { code } }"}


def _preflight(url: str, origin: str, method: str = "POST",
               headers: str = "content-type, authorization, x-purpose") -> httpx.Response:
    return httpx.options(f"{url}/graphql", headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers})


def _cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def _gateway(config_path: Path, serve: Callable[..., ServerThread],
             cors: dict[str, Any] | None) -> ServerThread:
    document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    document.pop("cors", None)
    if cors is not None:
        document["cors"] = cors
    config_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return serve(create_app(load_config(config_path), AppOptions(rate_limits=False)))


def test_without_the_key_no_cors_header_is_sent(user_agencies: dict[str, Any],
                                                serve: Callable[..., ServerThread]) -> None:
    gateway = _gateway(user_agencies["config"], serve, None)
    answer = httpx.post(f"{gateway.url}/graphql", json=QUERY, headers={"Origin": PORTAL})
    assert answer.status_code == 200 and _cors_headers(answer) == {}
    preflight = _preflight(gateway.url, PORTAL)
    assert preflight.status_code == 405 and _cors_headers(preflight) == {}


def test_an_allowed_origin_is_answered_and_may_read_the_request_id(
        user_agencies: dict[str, Any], serve: Callable[..., ServerThread]) -> None:
    gateway = _gateway(user_agencies["config"], serve,
                       {"allow_origins": [PORTAL], "max_age_s": 300})
    preflight = _preflight(gateway.url, PORTAL, headers="content-type, authorization, "
                                                        "x-purpose, x-request-id")
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == PORTAL
    methods = {m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "POST"}
    allowed = preflight.headers["access-control-allow-headers"].lower()
    for header in ("content-type", "authorization", "x-purpose", "x-request-id"):
        assert header in allowed
    assert preflight.headers["access-control-max-age"] == "300"
    answer = httpx.post(f"{gateway.url}/graphql", json=QUERY, headers={"Origin": PORTAL})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == PORTAL
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    assert answer.headers["x-request-id"]
    assert "origin" in answer.headers["vary"].lower()


@pytest.mark.parametrize(("origin", "method", "headers"), [
    ("https://evil.example.com", "POST", "content-type"),
    ("http://portal.example.gov.cn", "POST", "content-type"),  # another scheme
    (PORTAL, "DELETE", "content-type"),
    (PORTAL, "POST", "content-type, x-secret"),
])
def test_anything_else_gets_a_400_preflight_and_no_cors_header(
        user_agencies: dict[str, Any], serve: Callable[..., ServerThread],
        origin: str, method: str, headers: str) -> None:
    gateway = _gateway(user_agencies["config"], serve, {"allow_origins": [PORTAL]})
    preflight = _preflight(gateway.url, origin, method, headers)
    assert preflight.status_code == 400
    assert _cors_headers(preflight) == {}
    assert "cors" in preflight.text
    if origin != PORTAL:
        answer = httpx.post(f"{gateway.url}/graphql", json=QUERY, headers={"Origin": origin})
        assert answer.status_code == 200 and _cors_headers(answer) == {}


def test_a_port_wildcard_allows_every_port_of_that_host_only(
        user_agencies: dict[str, Any], serve: Callable[..., ServerThread]) -> None:
    gateway = _gateway(user_agencies["config"], serve, {"allow_origins": ["http://localhost:*"]})
    for origin in ("http://localhost:5173", "http://localhost"):
        assert _preflight(gateway.url, origin).status_code == 200, origin
    for origin in ("http://localhost.evil.com", "http://localhost:5173.evil.com",
                   "https://localhost:5173", "http://127.0.0.1:5173"):
        assert _preflight(gateway.url, origin).status_code == 400, origin


def test_preflights_are_not_logged_rate_limited_or_authenticated(
        user_agencies: dict[str, Any], serve: Callable[..., ServerThread]) -> None:
    config_path: Path = user_agencies["config"]
    document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    document["cors"] = {"allow_origins": [PORTAL]}
    config_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    server = serve(create_app(load_config(config_path)))  # rate limits and access log on
    for _ in range(70):  # the public's limit is 60 a minute: counted, some would be 429
        assert _preflight(server.url, PORTAL).status_code == 200
    assert httpx.post(f"{server.url}/graphql", json=QUERY,
                      headers={"Origin": PORTAL}).status_code == 200
    server.stop()  # the access log is written before the app stops
    with sqlite3.connect(config_path.parent / "platform.db") as db:
        (logged,) = db.execute("SELECT count(*) FROM access_log").fetchone()
    assert logged == 1


def test_the_demo_lets_pages_on_this_machine_call_it(demo: Any) -> None:
    assert set(demo.config.cors.allow_origins) == {"http://127.0.0.1:*", "http://localhost:*"}


@pytest.mark.parametrize(("cors", "problem"), [
    ("yes", "cors: must be a mapping"),
    ({"allow_origins": "https://a.gov.cn"}, "cors: allow_origins: must be a list"),
    ({"allow_origins": ["https://a.gov.cn/portal"]}, "allow_origins[0]: 'https://a.gov.cn/portal'"
                                                     " is not an origin"),
    ({"allow_origins": ["a.gov.cn"]}, "allow_origins[0]: 'a.gov.cn' is not an origin"),
    ({"allow_origins": [PORTAL + "/"]}, "is not an origin"),
    ({"max_age_s": -1}, "cors: max_age_s: must be whole seconds from 0 to 86400, got -1"),
    ({"max_age_s": "600"}, "max_age_s: must be whole seconds"),
    ({"origins": [PORTAL]}, "cors: unknown field 'origins' (known: allow_origins, max_age_s)"),
])
def test_configuration_problems_are_named(tmp_path: Path, cors: Any, problem: str) -> None:
    document = {"agencies": [{"code": "SAMR", "name": "市场监管", "kind": "csv", "path": "x",
                              "provides": ["enterprise"]}], "cors": cors}
    with pytest.raises(ConfigError) as raised:
        parse_config(document, tmp_path / "gateway.yaml")
    assert any(problem in p and p.startswith("gateway.yaml: cors") for p in
               raised.value.problems), raised.value.problems


def test_configuration_defaults_and_additions(tmp_path: Path) -> None:
    base = {"agencies": [{"code": "SAMR", "name": "市场监管", "kind": "csv", "path": "x",
                          "provides": ["enterprise"]}]}
    assert parse_config(base, tmp_path / "g.yaml").cors == CorsSettings((), 600)
    config = parse_config({**base, "cors": {"allow_origins": ["*", PORTAL]}}, tmp_path / "g.yaml")
    assert config.cors.allow_origins == ("*", PORTAL)
    added = dataclasses.replace(config, cors=config.cors.adding([PORTAL, "http://x.gov.cn:8080"]))
    assert added.cors.allow_origins == ("*", PORTAL, "http://x.gov.cn:8080")


def test_serve_refuses_a_cors_origin_that_is_not_one(
        user_agencies: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "--config", str(user_agencies["config"]),
                 "--cors-origin", PORTAL, "--cors-origin", "portal.example.gov.cn/app"])
    assert code == 2
    assert "--cors-origin: 'portal.example.gov.cn/app' is not an origin" in capsys.readouterr().err


async def test_answers_to_callers_without_origin_vary_as_starlettes_would() -> None:
    """A request without ``Origin`` takes a shorter way through the CORS middleware:
    its answers' headers are those Starlette's middleware gives, byte for byte, for
    every mix of ``Vary`` headers an answer may carry (2,000 generated)."""
    import random

    from starlette.middleware.cors import CORSMiddleware
    from starlette.types import Message, Receive, Scope, Send

    from gateway.cors import cors_middleware

    settings = CorsSettings(allow_origins=(PORTAL, "http://localhost:*"), max_age_s=600)
    ours_class, ours_options = cors_middleware(settings)[0].cls, cors_middleware(
        settings)[0].kwargs
    names = [b"vary", b"Vary", b"VARY", b"content-type", b"x-request-id", b"cache-control"]
    values = [b"Accept-Encoding", b"Authorization", b"Origin", b"*", b"a, b", b""]
    generator = random.Random(20261203)

    async def answered(middleware_class: Any, headers: list[tuple[bytes, bytes]]) -> Message:
        start: list[Message] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200,
                        "headers": list(headers)})
            await send({"type": "http.response.body", "body": b"{}"})

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            start.append(message)

        middleware = middleware_class(app, **ours_options)
        scope = {"type": "http", "method": "POST", "path": "/graphql",
                 "headers": [(b"host", b"gw"), (b"content-type", b"application/json")]}
        await middleware(scope, receive, send)
        assert start[1] == {"type": "http.response.body", "body": b"{}"}
        return start[0]

    class Starlettes(ours_class):  # type: ignore[misc,valid-type]
        __call__ = CORSMiddleware.__call__  # Starlette's own way

    for _ in range(2_000):
        headers = [(generator.choice(names), generator.choice(values))
                   for _ in range(generator.randrange(0, 6))]
        ours, theirs = await answered(ours_class, headers), await answered(Starlettes, headers)
        assert ours == theirs, headers
