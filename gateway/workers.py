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
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.demo_mode import DemoSetup

__all__ = ["OPTIONS_VARIABLE", "WorkerOptions", "serve_options", "serve_workers"]

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
    import uvicorn

    if not args.redis_url:
        print(f"warning: {args.workers} workers without --redis-url: the record cache and "
              f"the rate limits are per worker (a caller may make {args.workers} times its "
              f"role's limit)", file=sys.stderr)
    os.environ[OPTIONS_VARIABLE] = serve_options(args, config_path,
                                                 None if demo is None else demo.data_dir)
    with contextlib.ExitStack() as stack:
        if demo is not None:
            stack.enter_context(demo.agencies.in_thread())
        uvicorn.run("gateway.asgi:app_from_environment", factory=True,
                    workers=args.workers, host=args.host, port=args.port,
                    log_level=args.log_level, log_config=log_config,
                    access_log=args.access_log, loop=args.loop)
    return 0
