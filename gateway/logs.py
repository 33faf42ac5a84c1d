"""Log lines: one JSON object per line (the default), or text for humans.

``logging_config("json" | "text", "info")`` is a ``logging.config.dictConfig``
dictionary; ``gateway serve`` applies it and hands it to uvicorn, so uvicorn's own
lines look like the gateway's. A JSON line::

    {"time":"2026-12-02T05:35:29.123Z","level":"INFO","logger":"gateway.access",
     "message":"POST /graphql 200 8.1 ms","request_id":"4bf92f35…","principal":"tax-app",
     "role":"department","operation":"Penalties","method":"POST","path":"/graphql",
     "status":200,"latency_ms":8.1,"outcome":"ok"}

The fields after ``message`` come from ``extra=`` (``FIELDS``); a line logged while a
request is served carries its ``request_id`` even without (``current_request_id``).
Lines never hold keys, query texts, variables or record values: callers pass only
the fields above.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
from contextvars import ContextVar
from typing import Any, Literal

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "ProcessId",
    "TextFormatter",
    "current_request_id",
    "logging_config",
    "request_id",
]

LogFormat = Literal["json", "text"]

# What a line may carry besides time, level, logger and message, in this order.
FIELDS = ("pid", "request_id", "principal", "role", "operation", "method", "path", "status",
          "latency_ms", "outcome")

# The id of the request being served, for lines logged while it is (a ContextVar:
# each request's task sees its own).
current_request_id: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)

_SANE_ID = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII, no space
_PLAIN = re.compile(r"[\x21-\x7e]+")
_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 5}


def request_id(given: str | None) -> str:
    """The request's id: the caller's ``X-Request-Id`` when it is at most 128 visible
    ASCII characters, else a new one (32 hex digits)."""
    if given is not None and _SANE_ID.fullmatch(given):
        return given
    # 128 random bits without a system call: uuid4 reads os.urandom, whose getrandom
    # call took 4-5% of a busy gateway's CPU on this VM. The id correlates, it guards
    # nothing (a caller may send its own); random reseeds in a forked child.
    return f"{random.getrandbits(128):032x}"


def _time(record: logging.LogRecord) -> str:
    when = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    found = record.__dict__
    fields = {name: found[name] for name in FIELDS if found.get(name) is not None}
    if "request_id" not in fields:
        current = current_request_id.get()
        if current is not None:
            fields = {"request_id": current, **fields}
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC, ms), level, logger, message, the
    ``FIELDS`` present, and ``exception`` (its traceback) when one is logged."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _time(record), "level": record.levelname,
                                "logger": record.name, "message": record.getMessage()}
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``2026-12-02T05:35:29.123Z INFO gateway.access: POST /graphql 200 8.1 ms
    request_id=… principal=… outcome=ok`` (values with spaces or quotes in JSON
    quotes), the traceback on the next lines."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        extra = " ".join(f"{name}={_shown(value)}" for name, value in _fields(record).items())
        if extra:
            text = f"{text} {extra}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


def _shown(value: object) -> str:
    text = str(value)
    if _PLAIN.fullmatch(text) and '"' not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


class ProcessId(logging.Filter):
    """Gives every line the ``pid`` field: the id of the process that wrote it (with
    ``gateway serve --workers N``, which worker served a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.pid = record.process
        return True


def logging_config(log_format: LogFormat, level: str = "info", *,
                   pid: bool = False) -> dict[str, Any]:
    """A ``dictConfig`` dictionary: every line to standard error in ``log_format``,
    uvicorn's loggers through the same handler, at ``level`` (a uvicorn level name).
    httpx's line per request is left out (WARNING). ``pid``: each line carries the
    writing process's id (``ProcessId``)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    number = _LEVELS.get(level.lower(), logging.INFO)
    handler: dict[str, Any] = {"class": "logging.StreamHandler", "formatter": "gateway",
                               "stream": "ext://sys.stderr"}
    if pid:
        handler["filters"] = ["pid"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gateway": {"()": f"{__name__}.{formatter.__name__}"}},
        "filters": {"pid": {"()": f"{__name__}.{ProcessId.__name__}"}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": number},
        "loggers": {
            # uvicorn's own loggers: no handlers of their own, lines go to the root's
            "uvicorn": {"handlers": [], "propagate": True, "level": number},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
            "httpx": {"level": logging.WARNING},
            # casbin logs its whole model and policy each time an enforcer is built
            "casbin": {"level": max(number, logging.WARNING) if number > logging.DEBUG
                       else number},
        },
    }
