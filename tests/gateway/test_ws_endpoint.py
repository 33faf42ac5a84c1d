"""The websocket's gate (``gateway.ws_endpoint``) on a running gateway: who may
connect (a key in connection_init or the upgrade headers; 4401/4403 with only the
code; pages of allowed origins), and what it may do there (subscriptions only; the
public schema's)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from change_district import (
    PAYLOADS,
    REGISTRATIONS,
    WARNINGS,
    District,
    code,
    logged,
    start,
    subscribed,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from ws_client import PROTOCOL, Subscriber

from conftest import ServerThread


@pytest.fixture
def district(tmp_path: Path) -> District:
    found = District(tmp_path)
    found.register(code(1), "北京甲科技有限公司")
    found.register(code(2), "北京乙科技有限公司", district="110105")
    return found


@pytest.mark.parametrize(("payload", "headers", "closed"), [
    ({"Authorization": "Bearer not-a-key"}, {}, (4401, "UNAUTHENTICATED")),
    ({"authorization": "Basic c3ViOnB3"}, {}, (4401, "UNAUTHENTICATED")),
    ({}, {"Authorization": "Bearer not-a-key"}, (4401, "UNAUTHENTICATED")),
    ({"Authorization": "Bearer sub-samr-key", "X-Purpose": "AUDIT"}, {},
     (4403, "PURPOSE_NOT_ALLOWED")),
    ({"X-Purpose": "INSPECTION"}, {}, (4403, "PURPOSE_NOT_ALLOWED")),
])
async def test_a_refused_key_is_closed_with_the_protocols_code_and_nothing_else(
        district: District, serve: Callable[..., ServerThread], payload: dict[str, str],
        headers: dict[str, str], closed: tuple[int, str]) -> None:
    server = start(district, serve)
    subscriber = await Subscriber.open(server.url, payload, headers)
    with pytest.raises(ConnectionClosed) as error:
        # no ack, no message: nothing about the key or the gateway before the close
        await asyncio.wait_for(subscriber.socket.recv(), 5)
    assert error.value.rcvd is not None
    assert (error.value.rcvd.code, error.value.rcvd.reason) == closed
    # and the refusal is in the access log, like a 401/403 over HTTP
    refused = await logged(district, lambda row: row["operation"] == "subscribe")
    assert [row["outcome"] for row in refused] == [str(closed[0] - 4000)]


async def test_a_key_in_the_upgrade_headers_is_accepted(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    subscriber = await Subscriber.open(server.url, {}, {"Authorization": "Bearer sub-fda-key",
                                                        "X-Purpose": "INSPECTION"})
    try:
        await subscriber.ack()
    finally:
        await subscriber.aclose()


async def test_subscribing_before_connection_init_is_closed_4401(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    url = server.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": WARNINGS}}))
        with pytest.raises(ConnectionClosed) as error:
            await asyncio.wait_for(socket.recv(), 5)
        assert error.value.rcvd is not None and error.value.rcvd.code == 4401


async def test_only_subscriptions_are_served_on_the_websocket(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    subscriber = await Subscriber.open(server.url, PAYLOADS["admin"])
    try:
        await subscriber.ack()
        await subscriber.subscribe('{ enterprise(creditCode: "%s") { name } }' % code(1))
        message = await subscriber.receive(5)
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "SUBSCRIPTIONS_ONLY"
        # registrations are for an agency's departments
        await subscriber.subscribe(REGISTRATIONS, id="2")
        message = await subscriber.receive(5)
        assert message["type"] == "next"
        assert message["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    finally:
        await subscriber.aclose()


async def test_the_public_schema_has_no_registrations(
        district: District, serve: Callable[..., ServerThread]) -> None:
    server = start(district, serve)
    subscriber = await subscribed(server, "public", REGISTRATIONS)
    try:
        message = await subscriber.receive(5)
        assert message["type"] == "error"
        assert "registrations" in message["payload"][0]["message"]
    finally:
        await subscriber.aclose()
    async with httpx.AsyncClient() as client:
        introspect = (await client.post(f"{server.url}/graphql", timeout=10, json={
            "query": "{ __schema { subscriptionType { fields { name } } } }"})).json()
    assert introspect["data"]["__schema"]["subscriptionType"]["fields"] == [
        {"name": "warningChanges"}]


async def test_a_page_of_another_origin_may_not_open_the_websocket(
        district: District, serve: Callable[..., ServerThread]) -> None:
    """A browser sends its page's origin: another site's page is refused at the
    handshake (403) unless the CORS settings allow that origin; the same origin is not."""
    server = start(district, serve)
    with pytest.raises(InvalidStatus) as refused:
        await Subscriber.open(server.url, {}, {"Origin": "https://elsewhere.example"})
    assert refused.value.response.status_code == 403
    same = await Subscriber.open(server.url, {}, {"Origin": server.url})
    try:
        await same.ack()
    finally:
        await same.aclose()


@pytest.mark.parametrize(("pattern", "origin", "allowed"), [
    ("*", "https://any.example", True),
    ("https://portal.example.gov.cn", "https://portal.example.gov.cn", True),
    ("https://portal.example.gov.cn", "https://portal.example.gov.cn.evil", False),
    ("http://127.0.0.1:*", "http://127.0.0.1:5173", True),
    ("http://127.0.0.1:*", "http://127.0.0.1", True),
    ("http://127.0.0.1:*", "http://127.0.0.10:5173", False),
    ("http://127.0.0.1:*", "https://127.0.0.1:5173", False),
])
def test_websocket_origins_follow_the_cors_settings(pattern: str, origin: str,
                                                   allowed: bool) -> None:
    from gateway.ws_endpoint import _origin_matches

    assert _origin_matches(pattern, origin) is allowed


async def test_a_subscription_that_is_not_unicode_text_is_closed_4400(
        district: District, serve: Callable[..., ServerThread]) -> None:
    """A lone UTF-16 surrogate in a subscribe message (valid JSON, not text: no answer
    could repeat it) closes that socket with the protocol's 4400 and is logged as a
    refusal without it; the gateway goes on serving the next."""
    server = start(district, serve)
    for payload in ({"query": WARNINGS + " # \ud800"}, {"query": WARNINGS,
                                                         "variables": {"x": "\udfff"}},
                    {"query": WARNINGS, "operationName": "\ud83d"}):
        subscriber = await Subscriber.open(server.url, PAYLOADS["admin"])
        await subscriber.ack()
        await subscriber.socket.send(json.dumps({"id": "1", "type": "subscribe",
                                                 "payload": payload}))
        code, reason = await subscriber.closed()
        assert code == 4400 and "lone UTF-16 surrogate" in reason, (payload, code, reason)
    for _ in range(50):  # the writer appends every 0.25 s: until all three are in
        refused = await logged(district, lambda row: row["refusal_code"] == "BAD_REQUEST")
        if len(refused) >= 3:
            break
        await asyncio.sleep(0.1)
    assert [(r["operation"], r["outcome"], r["principal"]) for r in refused] == [
        ("subscribe", "refused", refused[0]["principal"])] * 3 and refused[0]["principal"]
    subscriber = await subscribed(server, "admin")  # acknowledged, subscribed
    try:
        with pytest.raises(TimeoutError):  # open and quiet: no error, no close
            await subscriber.receive(1)
    finally:
        await subscriber.aclose()
