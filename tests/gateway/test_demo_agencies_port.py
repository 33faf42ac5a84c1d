"""The demo's HTTP agencies on their own loopback port, served through the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message

from gateway.demo_mode import DemoAgencies

CODE = "91110102MA01AAAA0X"


def _data_dir(tmp_path: Path) -> Path:
    row = {"record_id": "R-1", "credit_code": CODE, "openness": "NOT_OPEN"}
    (tmp_path / "court.json").write_text(json.dumps({"judgment_default": [row]}), "utf-8")
    (tmp_path / "fire.json").write_text(json.dumps({"penalty": [row], "inspection": []}),
                                        "utf-8")
    return tmp_path


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def _court_rows(agencies: DemoAgencies) -> list[dict[str, str]]:
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.post(f"{agencies.url}/court/judgment_default/query",
                                   json={"credit_codes": [CODE]})
    answer.raise_for_status()
    items: list[dict[str, str]] = answer.json()["items"]
    return items


async def _lifespan(app: ASGIApp, messages: list[str], sent: list[Message]) -> None:
    """Drive an ASGI app's lifespan with ``messages``; what it sends goes to ``sent``."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    for message in messages:
        inbox.put_nowait({"type": message})

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send)


def test_demo_agencies_hold_a_loopback_port_from_the_start(tmp_path: Path) -> None:
    agencies = DemoAgencies(_data_dir(tmp_path))
    try:
        assert agencies.url == f"http://127.0.0.1:{agencies.port}"
        assert not _port_is_free(agencies.port)  # the configuration can name it safely
    finally:
        agencies.close()
    assert _port_is_free(agencies.port)


async def test_demo_agencies_answer_while_the_app_runs_and_free_their_port_after(
    tmp_path: Path,
) -> None:
    agencies = DemoAgencies(_data_dir(tmp_path))
    seen: dict[str, list[dict[str, str]]] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        seen["startup"] = await _court_rows(agencies)  # the gateway indexes at startup
        yield
        seen["shutdown"] = await _court_rows(agencies)  # and may call them until it ends

    sent: list[Message] = []
    await _lifespan(agencies.around(Starlette(lifespan=lifespan)),
                    ["lifespan.startup", "lifespan.shutdown"], sent)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete",
                                         "lifespan.shutdown.complete"]
    assert [row["record_id"] for row in seen["startup"]] == ["R-1"]
    assert seen["shutdown"] == seen["startup"]
    assert _port_is_free(agencies.port)
    with pytest.raises(httpx.ConnectError):
        await _court_rows(agencies)


async def test_demo_agencies_stop_when_the_app_fails_to_start(tmp_path: Path) -> None:
    agencies = DemoAgencies(_data_dir(tmp_path))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("the policy cannot be read")
        yield

    sent: list[Message] = []
    with pytest.raises(RuntimeError):
        await _lifespan(agencies.around(Starlette(lifespan=lifespan)), ["lifespan.startup"], sent)
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert _port_is_free(agencies.port)
