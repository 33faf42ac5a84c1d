"""The gateway's keep-alive connections for agency queries (``connectors.http_pool``),
against real servers on 127.0.0.1 that answer the way agencies' servers may: kept
alive or closed, chunked, cut off, not HTTP, late or never."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

import connectors.http_pool as http_pool
from conftest import ACME, BETA
from connectors.errors import SourceUnavailable
from connectors.http_pool import HttpPool
from connectors.http_service import HttpConnector
from connectors.spec import AgencySpec
from gateway.runtime import default_http_client

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # True: keep the connection


@dataclass
class Agency:
    """A server answering each request with ``answer``; counts connections, requests."""

    answer: Answer
    url: str = ""
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if not await self.answer(body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def _json(status: int, document: object, *, close: bool = False) -> bytes:
    body = json.dumps(document).encode()
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"{'Connection: close' if close else 'Connection: keep-alive'}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def echo_keys(body: bytes, writer: asyncio.StreamWriter) -> bool:
    """The keys asked for, answered as items (so that answers cannot be mixed up)."""
    keys = json.loads(body)["credit_codes"]
    writer.write(_json(200, {"items": [{"key": key} for key in keys]}))
    return True


async def closing(body: bytes, writer: asyncio.StreamWriter) -> bool:
    """An answer saying ``Connection: close``, then the connection closed."""
    writer.write(_json(200, {"items": []}, close=True))
    return False


async def cut_off(body: bytes, writer: asyncio.StreamWriter) -> bool:
    """The answer's head and the start of its body, then the connection closed."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"items\": [")
    await writer.drain()
    return False


@pytest.fixture
async def start() -> AsyncIterator[Callable[[Answer], Awaitable[Agency]]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> Agency:
        agency = Agency(answer)
        server = await asyncio.start_server(agency.handle, "127.0.0.1", 0)
        servers.append(server)
        agency.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/court/jd/query"
        return agency

    yield start
    for server in servers:
        server.close()


@pytest.fixture
async def pool() -> AsyncIterator[HttpPool]:
    made = HttpPool(connect_timeout_s=2, read_timeout_s=2)
    yield made
    await made.aclose()


def keys(answer: tuple[int, bytes]) -> list[str]:
    status, body = answer
    assert status == 200
    return [item["key"] for item in json.loads(body)["items"]]


async def test_queries_share_a_kept_alive_connection(start: Callable[[Answer], Awaitable[Agency]],
                                                     pool: HttpPool) -> None:
    agency = await start(echo_keys)
    for n in range(5):
        answer = await pool.post_json(agency.url, json.dumps({"credit_codes": [str(n)]}).encode())
        assert keys(answer) == [str(n)]
    assert agency.connections == 1
    head = agency.requests[0].split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST /court/jd/query HTTP/1.1\r\n")
    assert "Content-Type: application/json" in head
    assert "Content-Length: 23" in head  # {"credit_codes": ["0"]}



async def test_extra_headers_are_sent_and_line_breaks_refused(
        start: Callable[[Answer], Awaitable[Agency]], pool: HttpPool) -> None:
    agency = await start(echo_keys)
    body = json.dumps({"credit_codes": ["1"]}).encode()
    answer = await pool.post_json(agency.url, body, {"Authorization": "Bearer k",
                                                     "X-Purpose": "INSPECTION"})
    assert keys(answer) == ["1"]
    head = agency.requests[0].split(b"\r\n\r\n")[0].decode()
    assert "\r\nAuthorization: Bearer k\r\nX-Purpose: INSPECTION\r\n" in head
    for bad in ({"X-Purpose": "A\r\nX-Injected: 1"}, {"X Purpose": "A"}, {"": "A"},
                {"X-Purpose:": "A"}):
        with pytest.raises(ValueError, match="cannot be sent"):
            await pool.post_json(agency.url, body, bad)
    assert len(agency.requests) == 1  # nothing of a refused request was sent
    assert keys(await pool.post_json(agency.url, body)) == ["1"]
    assert agency.connections == 1

async def test_queries_at_once_each_get_their_own_answer(
        start: Callable[[Answer], Awaitable[Agency]], pool: HttpPool) -> None:
    async def slow_echo(body: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.01 * (int(json.loads(body)["credit_codes"][0]) % 3))
        return await echo_keys(body, writer)

    agency = await start(slow_echo)
    for _ in range(2):  # the second round on the connections the first left
        answers = await asyncio.gather(*(
            pool.post_json(agency.url, json.dumps({"credit_codes": [str(n)]}).encode())
            for n in range(12)))
        assert [keys(a) for a in answers] == [[str(n)] for n in range(12)]
    assert agency.connections == 12


async def test_chunked_answers_and_other_statuses_are_read_whole(
        start: Callable[[Answer], Awaitable[Agency]], pool: HttpPool) -> None:
    async def chunked(body: bytes, writer: asyncio.StreamWriter) -> bool:
        document = json.dumps({"items": [{"key": "甲" * 3000}]}).encode()
        writer.write(b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start_at in range(0, len(document), 1000):
            part = document[start_at:start_at + 1000]
            writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(b"0\r\n\r\n")
        return True

    agency = await start(chunked)
    for _ in range(2):
        status, body = await pool.post_json(agency.url, b"{}")
        assert status == 503 and json.loads(body)["items"][0]["key"] == "甲" * 3000
    assert agency.connections == 1


async def test_an_answer_saying_close_is_not_reused(start: Callable[[Answer], Awaitable[Agency]],
                                                   pool: HttpPool) -> None:
    agency = await start(closing)
    for _ in range(3):
        assert keys(await pool.post_json(agency.url, b"{}")) == []
    assert agency.connections == 3


async def test_an_answer_without_a_length_ends_with_its_connection(
        start: Callable[[Answer], Awaitable[Agency]], pool: HttpPool) -> None:
    async def old_style(body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        await writer.drain()
        writer.write(b'{"items": [{"key": "a"}]}')
        return False

    agency = await start(old_style)
    for _ in range(2):
        assert keys(await pool.post_json(agency.url, b"{}")) == ["a"]
    assert agency.connections == 2


async def test_an_idle_connection_is_not_reused_after_its_expiry(
        start: Callable[[Answer], Awaitable[Agency]], pool: HttpPool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    agency = await start(echo_keys)
    await pool.post_json(agency.url, b'{"credit_codes": ["a"]}')
    monkeypatch.setattr(http_pool, "_IDLE_EXPIRY_S", 0.05)
    await asyncio.sleep(0.1)
    assert keys(await pool.post_json(agency.url, b'{"credit_codes": ["b"]}')) == ["b"]
    assert agency.connections == 2


async def test_failures_are_httpx_errors_and_their_connections_are_dropped(
        start: Callable[[Answer], Awaitable[Agency]], pool: HttpPool) -> None:
    async def unanswered(body: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async def not_http(body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        return True

    async def never(body: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(3600)
        return False

    expected: list[tuple[Answer, type[Exception]]] = [
        (cut_off, httpx.ReadError), (unanswered, httpx.RemoteProtocolError),
        (not_http, httpx.RemoteProtocolError)]
    for answer, error in expected:
        agency = await start(answer)
        for _ in range(2):
            with pytest.raises(error):
                await pool.post_json(agency.url, b"{}")
        assert agency.connections == 2  # a failed exchange's connection is not reused
    late = await start(never)
    quick = HttpPool(connect_timeout_s=1, read_timeout_s=0.2)
    with pytest.raises(httpx.ReadTimeout):
        await quick.post_json(late.url, b"{}")
    await quick.aclose()
    with pytest.raises(httpx.ConnectError):
        await pool.post_json(f"http://127.0.0.1:{_closed_port()}/x", b"{}")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_cancelled_query_leaves_no_connection_behind(
        start: Callable[[Answer], Awaitable[Agency]], pool: HttpPool) -> None:
    release = asyncio.Event()

    async def held(body: bytes, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        return await echo_keys(body, writer)

    agency = await start(held)
    asked = asyncio.ensure_future(pool.post_json(agency.url, b'{"credit_codes": ["a"]}'))
    await asyncio.sleep(0.05)
    asked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asked
    release.set()
    assert keys(await pool.post_json(agency.url, b'{"credit_codes": ["b"]}')) == ["b"]
    assert agency.connections == 2  # the cancelled exchange's answer never reaches "b"


async def test_the_connector_sends_through_the_pool(start: Callable[[Answer], Awaitable[Agency]],
                                                    pool: HttpPool) -> None:
    async def court(body: bytes, writer: asyncio.StreamWriter) -> bool:
        asked = json.loads(body)["credit_codes"]
        rows = [{"record_id": f"C-{code[-4:]}", "credit_code": code, "openness": "OPEN",
                 "court": "北京市西城区人民法院", "case_no": "(2026)京0102执1号"}
                for code in asked if code == ACME]
        writer.write(_json(200, {"items": rows, "errors": [
            {"key": code, "message": "index rebuilding"} for code in asked if code == BETA]}))
        return True

    agency = await start(court)
    base = agency.url.removesuffix("/jd/query").removesuffix("/court")
    spec = AgencySpec(code="COURT", name="人民法院", kind="http", location=base,
                      provides=("judgment_default",), timeout_s=5)
    async with default_http_client() as client:
        connector = HttpConnector(spec, report=lambda problem: None, client=client, pool=pool)
        found, failed = await connector.fetch("judgment_default", "credit_code", [ACME, BETA])
        assert [r.credit_code for r in found] == [ACME]  # type: ignore[union-attr]
        assert isinstance(failed, SourceUnavailable) and "index rebuilding" in failed.reason
    assert len(agency.requests) == 1 and agency.requests[0].startswith(
        b"POST /judgment_default/query HTTP/1.1")


async def test_dropped_connections_leave_no_reference_cycle(
        start: Callable[[Answer], Awaitable[Agency]], pool: HttpPool) -> None:
    """A closed or failed connection is freed when dropped, not by the collector."""
    import gc

    failing, answered_then_closed = await start(cut_off), await start(closing)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            with pytest.raises(httpx.ReadError):
                await pool.post_json(failing.url, b"{}")
            await pool.post_json(answered_then_closed.url, b"{}")
        await asyncio.sleep(0.05)  # every connection_lost delivered
        gc.collect()
        cyclic = [type(o).__name__ for o in gc.garbage if type(o).__module__ == http_pool.__name__]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert cyclic == []
