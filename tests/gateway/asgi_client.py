"""GraphQL over the app's ASGI interface, in the test's own process and event loop: no
server, no client library between the test and the app (``post_graphql``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

__all__ = ["post_body", "post_graphql"]


async def post_graphql(app: Any, headers: list[tuple[bytes, bytes]], query: str,
                       variables: dict[str, Any] | None = None
                       ) -> tuple[int, dict[str, Any]]:
    """One ``POST /graphql`` from 127.0.0.1 with ``headers`` (name, value bytes) added:
    the answer's status and JSON body."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    status, _, answer = await post_body(app, headers, body)
    return status, json.loads(answer)


async def post_body(app: Any, headers: list[tuple[bytes, bytes]], body: bytes
                    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One ``POST /graphql`` of ``body`` as JSON from 127.0.0.1 with ``headers`` added:
    the answer's status, headers and body bytes."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/graphql", "raw_path": b"/graphql",
             "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8000),
             "client": ("127.0.0.1", 50000),
             "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), *headers]}
    messages: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    return (start["status"], list(start.get("headers", [])),
            b"".join(m.get("body", b"") for m in messages[1:]))
