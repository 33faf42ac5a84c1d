"""An agency that closes kept-alive connections: the gateway's default client (httpx
on aiohttp's transport) must not turn that into a failed source call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from conftest import ACME
from connectors.http_pool import HttpPool
from connectors.http_service import HttpConnector
from connectors.spec import AgencySpec
from gateway.runtime import default_http_client, default_http_transport

ROW = {"record_id": "C-1", "credit_code": ACME, "openness": "OPEN", "risk_level": "HIGH",
       "court": "北京市西城区人民法院", "case_no": "(2026)京0102执1号"}


async def _answer_once_then_close(reader: asyncio.StreamReader,
                                  writer: asyncio.StreamWriter) -> None:
    """Answer the first request of a connection saying keep-alive; drop the
    connection, unanswered, when a second request comes on it (as an agency does
    that closed the idle connection just as the request arrived)."""
    for answered in range(2):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        if answered:
            break
        body = json.dumps({"items": [ROW]}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Connection: keep-alive\r\nContent-Length: " + str(len(body)).encode()
                     + b"\r\n\r\n" + body)
        await writer.drain()
    writer.close()


@pytest.fixture
async def closing_agency() -> AsyncIterator[str]:
    server = await asyncio.start_server(_answer_once_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("way", ["client", "session", "pool"], ids=[
    "through the client", "straight to aiohttp's session", "through the gateway's pool"])
async def test_a_closed_keep_alive_connection_is_not_a_failure(closing_agency: str,
                                                               way: str) -> None:
    spec = AgencySpec(code="COURT", name="人民法院", kind="http", location=closing_agency,
                      provides=("judgment_default",), timeout_s=5)
    transport = default_http_transport()
    pool = HttpPool(connect_timeout_s=5, read_timeout_s=5)
    async with default_http_client(transport) as client:
        connector = HttpConnector(spec, report=lambda problem: None, client=client,
                                  transport=transport if way == "session" else None,
                                  pool=pool if way == "pool" else None)
        for _ in range(5):
            (records,) = await connector.fetch("judgment_default", "credit_code", [ACME])
            assert not isinstance(records, Exception), records
            assert [r.record_id for r in records] == ["C-1"]
    await pool.aclose()
