"""Each ``gateway serve --workers N`` worker listens on a socket of its own
(``gateway.workers.OwnListener``): what uvicorn's supervisor passes a worker unpickles
there as a new socket in the port's ``SO_REUSEPORT`` group."""

from __future__ import annotations

import asyncio
import pickle
import socket

import pytest

from conftest import free_port
from gateway.workers import OwnListener, listen_reusing_port


def _address(port: int) -> tuple[str, int]:
    return ("127.0.0.1", port)


def test_what_a_worker_is_given_unpickles_as_a_socket_of_its_own() -> None:
    port = free_port()
    given = pickle.dumps(OwnListener(socket.AF_INET, _address(port), 16))
    first, second = pickle.loads(given), pickle.loads(given)  # two workers
    try:
        assert isinstance(first, socket.socket) and isinstance(second, socket.socket)
        assert first.fileno() != second.fileno()
        for listener in (first, second):
            assert listener.getsockname() == _address(port)
            assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        with socket.create_connection(_address(port), timeout=5):
            pass  # one of them takes it
    finally:
        first.close()
        second.close()


async def test_connections_accepted_by_asyncio_get_tcp_nodelay() -> None:
    """asyncio sets TCP_NODELAY only on connections accepted from a socket made with
    ``IPPROTO_TCP``; without it Nagle's algorithm held each answer's second write
    (uvicorn writes headers and body apart) for the caller's delayed ACK, 40 ms."""
    port = free_port()
    listener = listen_reusing_port(socket.AF_INET, _address(port), 16)
    nodelay: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            nodelay.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*_address(port))
        assert await asyncio.wait_for(nodelay, 5) == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_a_worker_that_cannot_listen_ends_as_failed_to_start(
        capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    with socket.socket() as other:  # another program on the port, without SO_REUSEPORT
        other.bind(_address(port))
        other.listen()
        with pytest.raises(SystemExit) as ended:
            listen_reusing_port(socket.AF_INET, _address(port), 16)
    assert ended.value.code == 3  # uvicorn's STARTUP_FAILURE: its supervisor stops
    assert f"cannot listen on port {port} (Address already in use)" in capsys.readouterr().err
