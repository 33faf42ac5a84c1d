"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 (``serve``) keeping
every request's raw body and headers, answering with ``status``; and the README's
verification snippet, read from the README itself, so the documented check is the one
tested."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

README = Path(__file__).resolve().parents[2] / "README.md"
_SNIPPET = re.compile(r"<!-- webhook-verification -->\s*```python\n(.*?)```", re.S)


@dataclass(frozen=True)
class Received:
    headers: Headers
    body: bytes


class Receiver:
    """The receiving system. ``status`` is what it answers (change it to fail)."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[Received] = []
        self.app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        self.received.append(Received(request.headers, await request.body()))
        return Response(status_code=self.status)


def documented_verification() -> Callable[..., bool]:
    """``verified(secret, headers, body)`` exactly as the README prints it."""
    found = _SNIPPET.search(README.read_text(encoding="utf-8"))
    assert found is not None, "README.md lost its webhook verification snippet"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), "README.md (webhook verification)", "exec"), namespace)
    verified: Callable[..., bool] = namespace["verified"]
    return verified
