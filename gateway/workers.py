"""``gateway serve --workers N``: N worker processes behind one listening socket.

The process model is uvicorn's: the supervising process (the one started as
``gateway serve``) binds the port, starts N workers and restarts one that dies; each
worker is a fresh Python process (spawned, not forked) that builds its own app with
``gateway.asgi.app_from_environment`` and so has its own event loop, connectors,
registry index and answer cache. The serve options reach the workers as JSON in
the environment variable ``GATEWAY_SERVE_OPTIONS`` (``serve_options``), which the
supervisor sets before it starts them.

Shared between the workers:

- the record cache and the rate limits, in Redis when ``--redis-url`` is given
  (without it each worker keeps its own, and one warning line says so);
- the access log: one hash chain, each worker's writer taking the chain lock;
- the platform database's migrations, applied once under their lock;
- the bundled demo's HTTP agencies (COURT, FIRE), served once, by the supervisor,
  on the loopback port every worker's configuration names.

Ctrl-C or SIGTERM to the supervisor stops the workers (each finishes its requests
and flushes its access-log entries), then the demo agencies; no port stays bound.

Each worker listens on a socket of its own (Linux's ``SO_REUSEPORT``), and the kernel
spreads new connections over them by a hash of their addresses. uvicorn's supervisor
binds one socket that every worker accepts from, and asyncio's loop accepts every
connection waiting at once: a burst of connections (a load balancer's keep-alive pool,
``wrk``) went to whichever worker woke first: in the benchmark's runs one worker
served all 64 connections at 100% of a core while the other idled at 1%, 1,148-1,223
requests/s; each on its own socket, both busy, 1,647-1,724 (uncached, 2 cores). The
supervisor keeps the port bound (not listening) for as long as it runs, so no other
program takes it between a worker's death and its replacement. Connections still
waiting in a dying worker's queue are reset (the shared socket would have left them
to the others); the callers' retry finds the replacement. Where ``SO_REUSEPORT`` is
missing, the shared socket is used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from gateway.demo_mode import DemoSetup

__all__ = ["OPTIONS_VARIABLE", "OwnListener", "WorkerOptions", "listen_reusing_port",
           "serve_options", "serve_workers"]

OPTIONS_VARIABLE = "GATEWAY_SERVE_OPTIONS"
_NOT_PASSED = ("run", "command")  # the subcommand's function and name

WorkerOptions = tuple[argparse.Namespace, Path, Path | None]


def serve_options(args: argparse.Namespace, config_path: Path,
                  demo_dir: Path | None) -> str:
    """The JSON a worker reads back with ``read_options``."""
    values = {name: value for name, value in vars(args).items() if name not in _NOT_PASSED}
    return json.dumps({"args": values, "config": str(config_path.resolve()),
                       "demo_dir": None if demo_dir is None else str(demo_dir)})


def read_options(text: str) -> WorkerOptions:
    """``gateway serve``'s options, configuration path and demo folder from
    ``serve_options``'s JSON."""
    document: dict[str, Any] = json.loads(text)
    demo_dir = document["demo_dir"]
    return (argparse.Namespace(**document["args"]), Path(document["config"]),
            None if demo_dir is None else Path(demo_dir))


def serve_workers(args: argparse.Namespace, config_path: Path, demo: DemoSetup | None,
                  log_config: dict[str, Any]) -> int:
    """Serve with ``args.workers`` worker processes until Ctrl-C or SIGTERM (the
    options were checked by building the app once in this process)."""
    if not args.redis_url:
        print(f"warning: {args.workers} workers without --redis-url: the record cache and "
              f"the rate limits are per worker (a caller may make {args.workers} times its "
              f"role's limit)", file=sys.stderr)
    os.environ[OPTIONS_VARIABLE] = serve_options(args, config_path,
                                                 None if demo is None else demo.data_dir)
    with contextlib.ExitStack() as stack:
        if demo is not None:
            stack.enter_context(demo.agencies.in_thread())
        _supervise(args, log_config)
    return 0


def _supervise(args: argparse.Namespace, log_config: dict[str, Any]) -> None:
    """uvicorn's supervisor over ``args.workers`` workers, each on a listening socket of
    its own where the system allows (see above)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("gateway.asgi:app_from_environment", factory=True,
                            workers=args.workers, host=args.host, port=args.port,
                            log_level=args.log_level, log_config=log_config,
                            access_log=args.access_log, loop=args.loop)
    if not hasattr(socket, "SO_REUSEPORT"):
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    with contextlib.ExitStack() as stack:
        try:  # checked free before anything started: only a race comes here
            family, address = stack.enter_context(_reserved(args.host, args.port))
        except OSError as error:
            print(f"cannot start: cannot listen on {args.host} port {args.port} "
                  f"({error.strerror})", file=sys.stderr)
            raise SystemExit(1) from None
        logging.getLogger("uvicorn.error").info(
            "Uvicorn running on %s (Press CTRL+C to quit)", _shown(family, address))
        # what uvicorn hands each worker: unpickled there as its own socket
        listener = cast(socket.socket, OwnListener(family, address, config.backlog))
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[listener]).run()


@contextlib.contextmanager
def _reserved(host: str, port: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``host:port`` bound for the supervisor's lifetime, not listening (it receives no
    connection): (address family, the bound address, with the port chosen when 0)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    with socket.socket(family, kind, proto) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(address)
        yield family, holder.getsockname()


def _shown(family: int, address: tuple[Any, ...]) -> str:
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if family == socket.AF_INET6 else f"http://{host}:{port}"


class OwnListener:
    """Stands for the listening socket uvicorn passes to each worker it starts. uvicorn
    starts workers by spawning and pickles what it passes them; this one unpickles in
    the worker as a new socket, listening on the supervisor's address with
    ``SO_REUSEPORT`` (``listen_reusing_port``)."""

    def __init__(self, family: int, address: tuple[Any, ...], backlog: int) -> None:
        self.family, self.address, self.backlog = family, address, backlog

    def __reduce__(self) -> tuple[Any, tuple[int, tuple[Any, ...], int]]:
        return listen_reusing_port, (self.family, self.address, self.backlog)


def listen_reusing_port(family: int, address: tuple[Any, ...], backlog: int) -> socket.socket:
    """A socket listening on ``address`` beside the other workers' (``SO_REUSEPORT``).
    A worker that cannot bind it ends as one that failed to start, which stops the
    supervisor (uvicorn does not restart such a worker)."""
    from uvicorn.config import STARTUP_FAILURE

    # IPPROTO_TCP named, as uvicorn does: asyncio sets TCP_NODELAY only on connections
    # accepted from a socket made with it (with proto 0, Nagle's algorithm held each
    # answer's second write for the caller's delayed ACK: 40 ms)
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(address)
        listener.listen(backlog)
    except OSError as error:
        listener.close()
        print(f"worker {os.getpid()}: cannot listen on port {address[1]} ({error.strerror})",
              file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    return listener
