"""A small graphql-transport-ws client for the subscription tests (``websockets``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"


class Subscriber:
    """One websocket on ``/graphql``, acknowledged, with its subscriptions' messages."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    @classmethod
    async def open(cls, base_url: str, payload: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Subscriber:
        """Connect and send ``connection_init``; the ack is not awaited (see ``ack``)."""
        url = base_url.replace("http://", "ws://") + "/graphql"
        socket = await connect(url, subprotocols=[PROTOCOL],  # type: ignore[list-item]
                               additional_headers=headers or {}, open_timeout=10)
        await socket.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        return cls(socket)

    async def ack(self) -> None:
        message = await self.receive(10)
        assert message["type"] == "connection_ack", message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None,
                        id: str = "1") -> None:
        await self.socket.send(json.dumps({"id": id, "type": "subscribe", "payload": {
            "query": query, "variables": variables or {}}}))

    async def receive(self, within: float) -> dict[str, Any]:
        text = await asyncio.wait_for(self.socket.recv(), within)
        message: dict[str, Any] = json.loads(text)
        return message

    async def next(self, within: float) -> dict[str, Any]:
        """The next ``next`` message's payload (pings answered, errors raised)."""
        while True:
            message = await self.receive(within)
            if message["type"] == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
                continue
            assert message["type"] == "next", message
            payload: dict[str, Any] = message["payload"]
            return payload

    async def closed(self, within: float = 10) -> tuple[int | None, str]:
        """Wait for the server to close; its close code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.socket.recv(), within)
        except ConnectionClosed as closed:
            received = closed.rcvd
            return (received.code, received.reason) if received is not None else (None, "")

    async def aclose(self) -> None:
        await self.socket.close()
