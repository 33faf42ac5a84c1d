"""``gateway audit verify`` and ``gateway audit export``: the access log (留痕) from
the command line. Exit 0 done, 1 tampered (verify), 2 cannot run."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from gateway.platform_store.store import PlatformStore

__all__ = ["add_audit_commands"]


def add_audit_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``audit verify`` and ``audit export``."""
    audit = commands.add_parser("audit", help="the access log (留痕): verify, export")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the access log's hash chain and anchors: exit 0 intact, "
                       "1 naming the first entry edited, deleted, inserted or reordered")
    verify.add_argument("--config", required=True, help="the gateway's configuration file")
    verify.set_defaults(run=_audit)
    export = audit_commands.add_parser(
        "export", help="write access-log entries as JSON lines (id, entry, hashes)")
    export.add_argument("--config", required=True, help="the gateway's configuration file")
    export.add_argument("--from", dest="start", type=_when(end=False),
                        help="first day (UTC) or time, e.g. 2026-12-01; default: the start")
    export.add_argument("--to", dest="end", type=_when(end=True),
                        help="last day (UTC, included) or time (excluded); default: now")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(run=_audit)


def _audit(args: argparse.Namespace) -> int:
    """``audit verify`` and ``audit export``: exit 0 done, 1 tampered, 2 cannot run."""
    import asyncio

    from sqlalchemy.engine import make_url

    from gateway.config import command_config
    from gateway.platform_store.store import describe_error, open_store

    config = command_config(args.config)
    if config is None:
        return 2
    settings = config.platform
    if settings.backend == "sqlite" and not Path(make_url(settings.database).database or
                                                 "").exists():
        print(f"no access log at {settings.shown()}: the gateway has not run with this "
              f"configuration yet", file=sys.stderr)
        return 2

    async def run(out: TextIO) -> int:
        store = open_store(settings)
        try:
            if await store.version() == 0:
                print(f"no access log in {settings.shown()}: the gateway has not run "
                      f"with this database yet", file=sys.stderr)
                return 2
            if args.audit_command == "verify":
                return await _audit_verify(store)
            return await _audit_export(store, args, out)
        except Exception as error:  # the database went away, a driver error
            print(f"cannot read the access log in {settings.shown()}: "
                  f"{describe_error(error)}", file=sys.stderr)
            return 2
        finally:
            await store.aclose()

    if args.audit_command == "export" and args.out is not None:
        with Path(args.out).open("w", encoding="utf-8", newline="\n") as out:
            return asyncio.run(run(out))
    return asyncio.run(run(sys.stdout))


async def _audit_verify(store: PlatformStore) -> int:
    from gateway.platform_store.audit import verify

    verdict = await verify(store)
    print(verdict.reason)
    if verdict.intact:
        print(f"head: entry {verdict.count}, hash {verdict.head_hash} (keep it elsewhere "
              f"to detect a rewrite of the whole log)")
        return 0
    print(f"the first {verdict.count} entries are intact")
    return 1


async def _audit_export(store: PlatformStore, args: argparse.Namespace, out: TextIO) -> int:
    from gateway.platform_store.audit import export

    progress = _Progress(sys.stderr, "export")
    written = await export(store, out, args.start, args.end, progress)
    out.flush()
    progress.close()
    print(f"exported {written} entries to {args.out or 'standard output'}", file=sys.stderr)
    return 0


class _Progress:
    """Export progress on stderr: a bar redrawn in place on a terminal, else a line
    every few seconds for exports of at least ``large`` entries."""

    def __init__(self, stream: TextIO, label: str, large: int = 10_000) -> None:
        self._stream = stream
        self._label = label
        self._large = large
        self._tty = stream.isatty()
        self._shown = -1.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if total < self._large and not self._tty:
            return
        if done < total and now - self._shown < (0.1 if self._tty else 5.0):
            return
        self._shown = now
        share = done / total if total else 1.0
        if self._tty:
            bar = "#" * int(share * 30)
            self._stream.write(f"\r{self._label} [{bar:<30}] {share:4.0%} "
                               f"{done:,}/{total:,} entries")
            self._drawn = True
        else:
            self._stream.write(f"{self._label}: {done:,}/{total:,} entries ({share:.0%})\n")
        self._stream.flush()

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def _when(end: bool) -> Callable[[str], dt.datetime]:
    """``--from``/``--to``: a date (a whole day, UTC; ``--to`` includes it) or an ISO
    time (UTC unless it has an offset, e.g. 2026-12-01T08:00+08:00)."""

    def parse(text: str) -> dt.datetime:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            pass
        else:
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a date or time: {text!r} (e.g. 2026-12-01 or 2026-12-01T08:00+08:00)"
            ) from None
        return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)

    return parse
