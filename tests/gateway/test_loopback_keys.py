"""The demo's published keys work only from this machine, unless the gateway is started
with ``--demo-keys-anywhere``; other keys and the public role are not affected."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from conftest import Demo, ServerThread, h
from gateway.app import AppOptions, create_app
from gateway.config import PrincipalSpec
from gateway.loopback_keys import is_loopback

QUERY = {"query": "{ sources { code } }"}
DEMO_ADMIN = {"Authorization": "Bearer demo-admin-key"}
OWN_KEY = {"Authorization": "Bearer rgk_own-admin-key"}
REMOTE = "203.0.113.7"  # TEST-NET-3


def seen_from(app: ASGIApp, host: str) -> ASGIApp:
    """``app`` with every request's ASGI ``client`` set to ``host`` (as a proxy-headers
    middleware would)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": (host, 40000)}
        await app(scope, receive, send)

    return wrapped


def gateway(demo: Demo, serve: Callable[..., ServerThread], host: str,
            **options: Any) -> str:
    own = PrincipalSpec("own-admin", h("rgk_own-admin-key"), "admin", None, ("INSPECTION",))
    config = dataclasses.replace(demo.config, principals=(*demo.config.principals, own))
    app = create_app(config, AppOptions(access_log=False, rate_limits=False,
                                        freeze_heap_after_start=False, **options))
    return serve(seen_from(app, host)).url


@pytest.mark.parametrize(("client", "loopback"), [
    (("127.0.0.1", 1), True), (("127.8.9.10", 1), True), (("::1", 1), True),
    (("::ffff:127.0.0.1", 1), True), ((REMOTE, 1), False), (("10.0.0.2", 1), False),
    (("::ffff:10.0.0.2", 1), False), (("testclient", 1), False), (None, False),
])
def test_loopback_addresses(client: tuple[str, int] | None, loopback: bool) -> None:
    assert is_loopback(client) is loopback


def test_a_demo_key_from_another_machine_is_refused(
    demo: Demo, serve: Callable[..., ServerThread]
) -> None:
    url = gateway(demo, serve, REMOTE)
    refused = httpx.post(f"{url}/graphql", json=QUERY, headers=DEMO_ADMIN, timeout=10)
    assert refused.status_code == 403
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "DEMO_KEY_LOOPBACK_ONLY"
    assert "--demo-keys-anywhere" in error["message"]
    own = httpx.post(f"{url}/graphql", json=QUERY, headers=OWN_KEY, timeout=10)
    assert own.status_code == 200 and "errors" not in own.json(), own.text
    public = httpx.post(f"{url}/graphql", json=QUERY, timeout=10)
    assert public.status_code == 200 and "errors" not in public.json(), public.text


def test_a_demo_key_from_this_machine_is_accepted(
    demo: Demo, serve: Callable[..., ServerThread]
) -> None:
    url = gateway(demo, serve, "127.0.0.1")
    answer = httpx.post(f"{url}/graphql", json=QUERY, headers=DEMO_ADMIN, timeout=10)
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text


def test_demo_keys_anywhere_accepts_them_from_another_machine(
    demo: Demo, serve: Callable[..., ServerThread]
) -> None:
    url = gateway(demo, serve, REMOTE, demo_keys_anywhere=True)
    answer = httpx.post(f"{url}/graphql", json=QUERY, headers=DEMO_ADMIN, timeout=10)
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
