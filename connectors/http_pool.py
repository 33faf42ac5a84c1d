"""Keep-alive HTTP/1.1 connections for the agencies' JSON queries (``http://`` only).

An agency query is one small JSON POST answered with JSON. aiohttp (under httpx, the
gateway's transport) builds a request object, a header multidict, a payload, a
response object and a stream reader around each one: about 70 us of this process's
CPU before the request is on the wire, and its answer read through several loop
callbacks. One enterprise query sends five such calls at once, so they leave one
after the other, and its answer waits for the last. Here a request is one
``transport.write`` of bytes built in place, and the answer is parsed as it arrives
(``httptools``, uvicorn's parser): one connector call to the demo court answering
in 20 ms, p50 21.4 against 21.9 ms and 0.57 against 1.03 s of CPU per 1,000 calls;
one uncached enterprise query in process 24.0 against 25.4-25.6 ms (README,
Performance).

Failures are raised as the httpx exceptions aiohttp's are mapped to, so the connector
treats both alike: ``ConnectError``/``ConnectTimeout`` (nothing sent),
``RemoteProtocolError`` (the connection closed before any answer - most often a
pooled connection the agency closed meanwhile, which the connector sends once more -
or an answer that is not HTTP), ``ReadError`` (closed in the middle of the answer)
and ``ReadTimeout``. A connection whose exchange did not end cleanly (cancelled, timed
out, failed) is closed, never reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import cast
from urllib.parse import urlsplit

import httptools
import httpx

__all__ = ["HttpPool"]

_IDLE_PER_HOST = 64  # connections kept for reuse per agency host (more are closed)
# an idle connection is not reused after 4 s: agencies' servers commonly close theirs
# after 5 s (uvicorn's default), and a request sent as it closes is lost
_IDLE_EXPIRY_S = 4.0


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        # the parser calls this object back: a reference cycle, broken when the
        # connection is lost (a dropped connection is then freed at once, not by the
        # collector's next pass - gateway.heap)
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._status = 0
        self._received = False
        self._headers_done = False
        self._framed = False  # the answer says its length (Content-Length or chunked)
        self.reusable = False
        self.idle_since = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is not an asyncio.Transport subclass)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received = True
        if self._parser is None:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"the agency's answer is not HTTP: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._headers_done and not self._framed and exc is None:
            # an answer without a length ends where the connection does (HTTP/1.0 style)
            self.on_message_complete()
        if self._received:
            self._fail(httpx.ReadError("the agency closed the connection during its answer"))
        else:
            self._fail(httpx.RemoteProtocolError(
                "the agency closed the connection without answering"))
        self._parser = None
        self.transport = None

    # -- httptools callbacks --------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self._parser is not None and self._parser.should_keep_alive()
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_result((self._status, b"".join(self._body)))

    # -- the pool's side ------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write ``request``; the future of its (status, body)."""
        if self.transport is None:  # lost since it was made or taken
            raise httpx.RemoteProtocolError("the agency closed the connection before the query")
        self._body, self._status, self._received, self.reusable = [], 0, False, False
        self._headers_done = self._framed = False
        answer = self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return answer

    def done(self) -> None:
        """The exchange is over (answered, failed or given up)."""
        self._answer = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: Exception) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(error)


def _header_lines(headers: Mapping[str, str]) -> str:
    """``headers`` as request lines; a name or value that would end its line (CR, LF)
    or a name that is not a token is refused, never sent."""
    lines = []
    for name, value in headers.items():
        if not name or any(c in name for c in _NOT_IN_NAMES) or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} cannot be sent as given")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines)


_NOT_IN_NAMES = frozenset(' \t\r\n:()<>@,;\\"/[]?={}')


class HttpPool:
    """Keep-alive connections per agency host; one per running gateway, closed with it
    (``aclose``). ``post_json`` sends one query and returns (status, body bytes)."""

    def __init__(self, *, connect_timeout_s: float, read_timeout_s: float) -> None:
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._closed = False

    @staticmethod
    def serves(url: str) -> bool:
        """Whether ``url`` is one this pool sends to (plain ``http://``)."""
        return url.startswith("http://")

    async def post_json(self, url: str, body: bytes,
                        headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``url``, with ``headers`` besides the content type,
        accept and length; the answer's status and body."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        shown_host = f"[{host}]" if ":" in host else host
        request = (f"POST {target} HTTP/1.1\r\nHost: {shown_host}:{port}\r\n"
                   f"Content-Type: application/json\r\nAccept: application/json\r\n"
                   f"{_header_lines(headers) if headers else ''}"
                   f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
        connection = self._idle_connection((host, port)) or await self._connect(host, port)
        finished = False
        try:
            async with asyncio.timeout(self._read_timeout_s):
                answer = await connection.send(request)
            finished = True
        except TimeoutError:
            raise httpx.ReadTimeout("the agency did not answer in time") from None
        finally:
            # the connection forgets the exchange: a failure raised here holds this
            # frame, which holds the connection, which would hold the failure - a
            # reference cycle kept until the collector's next pass (gateway.heap)
            connection.done()
            if not finished:
                connection.close()  # its state is unknown: never reused
        self._release((host, port), connection)
        return answer

    async def aclose(self) -> None:
        """Close every idle connection; later connections are closed after use."""
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _idle_connection(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        fresh_since = asyncio.get_running_loop().time() - _IDLE_EXPIRY_S
        while idle:
            connection = idle.pop()  # the most recently used first
            transport = connection.transport
            if (not connection.closed and transport is not None and not transport.is_closing()
                    and connection.idle_since >= fresh_since):
                return connection
            connection.close()
        return None

    async def _connect(self, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, connection = await loop.create_connection(_Connection, host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} in time") from None
        except OSError as error:
            raise httpx.ConnectError(
                f"cannot connect to {host}:{port}: {error.strerror or error}") from None
        return connection

    def _release(self, key: tuple[str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if (self._closed or not connection.reusable or connection.closed
                or len(idle) >= _IDLE_PER_HOST):
            connection.close()
            return
        connection.idle_since = asyncio.get_running_loop().time()
        idle.append(connection)
