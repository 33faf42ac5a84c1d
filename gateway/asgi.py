"""The app factory a worker of ``gateway serve --workers N`` imports.

uvicorn's workers load their app by name; this one builds it from the options the
supervising ``gateway serve`` put in ``GATEWAY_SERVE_OPTIONS`` (``gateway.workers``)::

    uvicorn gateway.asgi:app_from_environment --factory --workers 4

(``gateway serve --workers 4`` does that, with the variable set.)
"""

from __future__ import annotations

import os
import sys

from starlette.applications import Starlette

from gateway.serve_app import StartError, build_app
from gateway.workers import OPTIONS_VARIABLE, read_options

__all__ = ["app_from_environment"]

_STARTUP_FAILURE = 3  # uvicorn's supervisor stops instead of restarting the worker


def app_from_environment() -> Starlette:
    """This worker's app, from ``$GATEWAY_SERVE_OPTIONS``."""
    text = os.environ.get(OPTIONS_VARIABLE)
    if not text:
        print(f"gateway.asgi: {OPTIONS_VARIABLE} is not set: start the workers with "
              f"'gateway serve --workers N'", file=sys.stderr)
        raise SystemExit(_STARTUP_FAILURE)
    args, config_path, demo_dir = read_options(text)
    try:
        # the supervisor printed the warnings already, and built this app once
        return build_app(args, config_path, demo_dir, warn=False)
    except StartError as error:  # a file changed since the supervisor checked it
        print(error, file=sys.stderr)
        raise SystemExit(_STARTUP_FAILURE) from None
