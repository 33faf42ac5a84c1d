"""Platform databases for tests: an SQLite file, or a fresh schema in the PostgreSQL on
127.0.0.1 (dropped afterwards); entries; a TCP proxy that can take PostgreSQL away."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from conftest import POSTGRES_URL
from gateway.platform_store.entry import AccessEntry
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.store import PlatformStore, open_store
from gateway.platform_store.writer import AccessLogWriter

# the PostgreSQL backend is skipped (or failed, when required) if it cannot be reached
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))
ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("platform_worker.py")
START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@contextlib.asynccontextmanager
async def platform_database(backend: str, tmp_path: Path,
                            **options: Any) -> AsyncIterator[PlatformSettings]:
    """Settings for an empty platform database of ``backend``."""
    if backend == "sqlite":
        yield PlatformSettings(f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}", **options)
        return
    schema = f"test_platform_{uuid.uuid4().hex[:10]}"
    try:
        yield PlatformSettings(POSTGRES_URL, schema, **options)
    finally:
        engine = create_async_engine(POSTGRES_URL)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


@contextlib.asynccontextmanager
async def migrated(settings: PlatformSettings) -> AsyncIterator[PlatformStore]:
    store = open_store(settings)
    try:
        await store.migrate()
        yield store
    finally:
        await store.aclose()


async def write_entries(store: PlatformStore, numbers: range) -> None:
    """Entries ``numbers`` in batches of 10, anchored every 20 and on close."""
    writer = AccessLogWriter(store, batch_max=10, anchor_every=20)
    for number in numbers:
        writer.record(entry(number))
    await writer.start()
    await writer.aclose()


def entry(number: int, **changes: Any) -> AccessEntry:
    """A plausible entry; ``number`` makes it distinct."""
    values: dict[str, Any] = {
        "at": START + dt.timedelta(seconds=number),
        "principal": f"samr-inspection-{number % 3}", "role": "department",
        "agency": "SAMR", "purpose": "INSPECTION", "client": "10.0.0.7",
        "request_id": f"req-{number}", "operation": "Enterprise",
        "query_hash": "ab" * 32, "variables_hash": "cd" * 32,
        "credit_codes": ("91110102MA00000020", "91110102MA0000001X"),
        "person_ids": ("P7",), "fields": {"Enterprise.penalties": ("OPEN", "有条件开放")},
        "redactions": {"Enterprise.penalties.amount": number % 4},
        "decisions": ({"creditCode": "91110102MA0000001X", "action": "BIDDING",
                       "decision": "RESTRICTED"},),
        "outcome": "ok", "latency_ms": 1.25 + number / 1000,
    }
    values.update(changes)
    return AccessEntry(**values)


def worker(*args: str) -> subprocess.Popen[str]:
    """``platform_worker.py`` in its own Python process; it waits for "go" on stdin."""
    return subprocess.Popen([sys.executable, str(WORKER), *args], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def run_together(processes: Sequence[subprocess.Popen[str]]) -> list[str]:
    """Start the workers at the same moment; their last output lines."""
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        results.append(out.strip().splitlines()[-1])
    return results


class TcpProxy:
    """127.0.0.1:<port> forwarding to ``target``; ``stop`` drops every connection and
    refuses new ones (the database is gone), ``start`` brings it back on the port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writers.clear()
        self._tasks.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()
