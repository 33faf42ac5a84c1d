"""``gateway serve`` with no configuration: the bundled demo district.

Data is generated into a folder (SQLite, CSV and JSON files) and reused while valid
(``gateway.demo.freshness``: a week, within one calendar year); the configuration is
rewritten on each start. The two HTTP agencies (COURT, FIRE) are
real HTTP services on a server of their own: a socket bound to 127.0.0.1 on a free
port, whatever address the gateway listens on, so their raw rows (NOT_OPEN fields
included) never reach the gateway's listener or the network. (They take no key: an
agency's configuration has no field for headers, and the gateway's HTTP client
refuses credentials in a URL.)

The agencies' server runs on the gateway's event loop, started before the gateway's
own lifespan and stopped after it (``DemoAgencies.around``), so Ctrl-C and SIGTERM
stop both and leave no port bound::

    demo = prepare_demo(Path(".demo-data"))
    app = demo.agencies.around(create_app(load_config(demo.config_path)))
    uvicorn.run(app, host="0.0.0.0", port=8000)   # the agencies stay on 127.0.0.1
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.demo.agency_service import create_sources_app, load_rows
from gateway.demo.freshness import stale_reason
from gateway.demo.generate import generate_district
from gateway.demo.writer import (
    BUNDLED_DEMO,
    bundled_demo_refusal,
    read_stamp,
    stamp_matches,
    write_config,
    write_demo,
)

__all__ = ["DEMO_ENTERPRISES", "DEMO_SEED", "DemoAgencies", "DemoDirError", "DemoSetup",
           "prepare_demo"]

logger = logging.getLogger("gateway")

DEMO_SEED = 20261123
DEMO_ENTERPRISES = 2000
HTTP_AGENCIES = ("court", "fire")
LOOPBACK = "127.0.0.1"
# lifespan messages after which the server no longer waits for the app
_LAST_MESSAGES = ("lifespan.startup.failed", "lifespan.shutdown.complete",
                  "lifespan.shutdown.failed")


class _SignalFreeServer(uvicorn.Server):
    """A uvicorn server that leaves the signals to the gateway's server it runs beside."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DemoAgencies:
    """The demo's HTTP agencies on a socket of their own, bound to 127.0.0.1.

    The socket is bound at construction, so the port is known when the configuration
    is written; ``serving()`` serves on it and closes it when done. ``close()`` frees
    the port of agencies that were never served.
    """

    def __init__(self, data_dir: Path) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._socket.bind((LOOPBACK, 0))
            app = create_sources_app({name: load_rows(data_dir / f"{name}.json")
                                      for name in HTTP_AGENCIES})
        except BaseException:
            self._socket.close()
            raise
        self.port: int = self._socket.getsockname()[1]
        # log_config and log_level None: the gateway's server configured logging already
        config = uvicorn.Config(app, log_config=None, log_level=None,
                                lifespan="off", timeout_graceful_shutdown=2)
        self._server = _SignalFreeServer(config)

    @property
    def url(self) -> str:
        """Where the agencies answer (``<url>/court``, ``<url>/fire``)."""
        return f"http://{LOOPBACK}:{self.port}"

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Serve the agencies on the bound socket for the duration of the block."""
        server = self._server
        task = asyncio.create_task(server.serve(sockets=[self._socket]))
        try:
            while not server.started:
                if task.done():
                    await task  # raises what stopped it
                    raise RuntimeError("the demo agencies' server stopped while starting")
                await asyncio.sleep(0.01)
            logger.info("demo agencies COURT and FIRE on %s (loopback only)", self.url)
            yield
        finally:
            server.should_exit = True
            try:
                await task
            finally:
                self.close()
                logger.info("demo agencies stopped")

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[None]:
        """Serve the agencies for the duration of the block from a thread with an event
        loop of its own (``gateway serve --workers N``: the supervising process serves
        them once for every worker). Raises what stopped them from starting."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        stop = asyncio.Event()
        failed: list[BaseException] = []

        async def serve() -> None:
            async with self.serving():
                started.set()
                await stop.wait()

        def run() -> None:
            try:
                loop.run_until_complete(serve())
            except BaseException as error:  # handed to the thread that waits
                failed.append(error)
            finally:
                started.set()
                loop.close()

        thread = threading.Thread(target=run, name="demo-agencies", daemon=True)
        thread.start()
        started.wait()
        if failed:
            thread.join()
            raise failed[0]
        try:
            yield
        finally:
            with contextlib.suppress(RuntimeError):  # the loop ended already
                loop.call_soon_threadsafe(stop.set)
            thread.join()

    def close(self) -> None:
        """Free the agencies' port (``serving()`` does when it ends; a process that exits
        before serving frees it by exiting)."""
        self._socket.close()

    def around(self, app: ASGIApp) -> ASGIApp:
        """``app`` with the agencies served from before its lifespan startup until its
        shutdown has completed (the server stops waiting for the app at that message)."""
        agencies = self

        async def with_agencies(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "lifespan":
                await app(scope, receive, send)
                return
            startup = await receive()
            async with contextlib.AsyncExitStack() as stack:
                try:
                    await stack.enter_async_context(agencies.serving())
                except Exception as error:
                    await send({"type": "lifespan.startup.failed",
                                "message": f"the demo agencies did not start: {error!r}"})
                    return
                pending: list[Message] = [startup]

                async def receive_rest() -> Message:
                    return pending.pop() if pending else await receive()

                async def send_stopping_last(message: Message) -> None:
                    if message["type"] in _LAST_MESSAGES:
                        await stack.aclose()
                    await send(message)

                await app(scope, receive_rest, send_stopping_last)

        return with_agencies


class DemoDirError(Exception):
    """The demo folder holds files the demo did not write; the message says what to do."""


@dataclass(frozen=True, slots=True)
class DemoSetup:
    data_dir: Path
    config_path: Path
    agencies: DemoAgencies


def prepare_demo(data_dir: Path, *, today: dt.date | None = None) -> DemoSetup:
    """Generate the demo (dated ``today``, default the current day) unless ``data_dir``
    holds a valid one, bind its HTTP agencies' loopback port and write its
    configuration for that port. A demo older than ``DEMO_VALIDITY`` or from an
    earlier year is regenerated, with one log line saying why.

    ``DemoDirError`` when ``data_dir`` holds anything but the bundled demo (a generated
    district, someone's files): nothing there is touched.
    """
    refusal = bundled_demo_refusal(data_dir)
    if refusal is not None:
        raise DemoDirError(refusal)
    today = today or dt.date.today()
    stamp = read_stamp(data_dir)
    # bundled_demo_refusal passed: the folder is absent, empty or the bundled demo
    stale = None if stamp is None else stale_reason(stamp, today)
    if stale is not None:
        logger.info("regenerating the demo in %s: %s", data_dir, stale)
    if stale or not stamp_matches(data_dir, seed=DEMO_SEED, enterprises=DEMO_ENTERPRISES):
        district = generate_district(seed=DEMO_SEED, enterprises=DEMO_ENTERPRISES, as_of=today)
        # the configuration written here is replaced below, once the port is known
        write_demo(district, data_dir, http_base_url=f"http://{LOOPBACK}",
                   made_as=BUNDLED_DEMO)
    agencies = DemoAgencies(data_dir)
    try:
        # the platform database (platform.db in the folder) keeps the access policy:
        # the admin's setFieldClass works in the demo
        config_path = write_config(data_dir, http_base_url=agencies.url,
                                   policies_in_database=True)
    except BaseException:
        agencies.close()
        raise
    return DemoSetup(data_dir.resolve(), config_path, agencies)
