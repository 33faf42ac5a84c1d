"""Appending to the access log off the request path: ``AccessLogWriter``.

In the app's lifespan::

    writer = AccessLogWriter(store)          # settings from store.settings
    await writer.start()
    ...                                      # per request: writer.record(entry)
    await writer.aclose()                    # flushes every entry, writes an anchor

``record`` only hashes the entry (its content hash; the chain's hashes come when it is
written) and appends it to an in-process queue. A background task takes up to
``batch_max`` entries at a time (after waiting ``flush_interval_s``, 0.25 s, for more) and
appends them in one transaction: take the chain lock, read the head (highest id and
its ``entry_hash``), give the entries the next ids and their hashes, insert, write an
anchor when one is due, commit - on SQLite in a worker thread, one hop off the event
loop (``PlatformStore.run_locked``). Each process runs its own writer; the lock makes all
of them extend one chain.

Failures. A batch that cannot be written stays at the front of the queue and is
retried with backoff (50 ms doubling to 1 s); nothing is dropped. If a commit fails
in a way that leaves its outcome unknown, the retry first looks whether the batch's
last id already holds the batch's last hash, so a batch is never written twice.
``healthy()`` is False once entries have waited longer than ``audit_fail_after_s``
without a successful write (the gateway then refuses non-public requests with
AUDIT_UNAVAILABLE), and True again after the next successful write.

Past ``max_pending`` queued entries (default 100,000: about 100 MB), ``healthy()`` is
False and ``record`` keeps no more entries: it counts them, logs an error, and the
writer appends one entry in their place when writing works again — principal and
role ``gateway``, operation ``audit-overflow``, outcome ``refused``, refusal code
``AUDIT_OVERFLOW``, ``redactions {"entries": N}``, ``at`` the first entry not kept
and ``latency_ms`` the span until the last — so the log itself shows the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import operator
import sqlite3
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.platform_store.chain import GENESIS, link_hash, stored_row
from gateway.platform_store.entry import AccessEntry
from gateway.platform_store.store import PlatformStore, describe_error
from gateway.platform_store.tables import access_log, access_log_anchors

__all__ = ["AccessLogWriter"]

log = logging.getLogger(__name__)

_BACKOFF_FIRST_S = 0.05
_BACKOFF_MAX_S = 1.0


@dataclass(frozen=True, slots=True)
class _Prepared:
    row: dict[str, Any]
    content_hash: str


def _prepared(entry: AccessEntry) -> _Prepared | None:
    """The entry's row and content hash, computed when it is recorded. The writer's
    task then makes no more awaits per batch than its database statements: on a
    saturated event loop each await waits for a turn of every request's work (about
    0.1 s at 64 connections), and a batch hashed in slices that yielded every 32
    entries took seconds to take, so entries waited past ``audit_fail_after_s`` and
    departments were refused with AUDIT_UNAVAILABLE while the gateway was busy."""
    try:
        return _Prepared(*stored_row(entry))
    except Exception as exc:  # a bug in the code that built it
        log.error("access-log entry cannot be stored (%s), not written: %r", exc, entry)
        return None


class AccessLogWriter:
    """Appends access-log entries in batches, in the background, to one chain."""

    def __init__(self, store: PlatformStore, *, fail_after_s: float | None = None,
                 anchor_every: int | None = None, anchor_every_s: float | None = None,
                 # one transaction per 0.25 s at most under light load: at 20 ms it
                 # added 3.2 ms to an 8 ms request's p50 (tests/bench/bench_access_log.py)
                 batch_max: int = 2000, flush_interval_s: float = 0.25,
                 max_pending: int = 100_000) -> None:
        settings = store.settings
        self._store = store
        self._fail_after_s = settings.audit_fail_after_s if fail_after_s is None else fail_after_s
        self._anchor_every = settings.anchor_every if anchor_every is None else anchor_every
        self._anchor_every_s = (settings.anchor_every_s if anchor_every_s is None
                                else anchor_every_s)
        self._batch_max = batch_max
        self._flush_interval_s = flush_interval_s
        self._max_pending = max_pending
        self._pending: deque[_Prepared] = deque()  # recorded, hashed, not yet taken
        self._batch: list[_Prepared] = []  # taken from the queue, not yet committed
        self._unconfirmed: tuple[int, str] | None = None  # (last id, hash) of a commit
        self._waiting_since: float | None = None  # unwritten entries, no write since
        self._anchor_due: float | None = None  # when entries written are left unanchored
        self._overflow = 0
        self._overflow_span: tuple[dt.datetime, dt.datetime] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.written = 0  # entries this writer appended
        self.not_kept = 0  # entries past max_pending, summarized in the chain

    # --- the request path ---------------------------------------------------------

    def record(self, entry: AccessEntry) -> None:
        """Queue an entry; never blocks, never raises for a full queue (see module)."""
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
        if self._closing and self._task is not None and self._task.done():
            log.error("access-log entry recorded after the writer closed, not written: %s",
                      entry.content().decode())
            return
        if len(self._pending) + len(self._batch) >= self._max_pending:
            self._overflowed(entry)
            return
        prepared = _prepared(entry)
        if prepared is not None:
            self._pending.append(prepared)
            self._wake.set()

    def healthy(self) -> bool:
        """False once entries have waited ``fail_after_s`` without a write, or when
        the queue is full; True again after a successful write."""
        if self._overflow or len(self._pending) + len(self._batch) >= self._max_pending:
            return False
        since = self._waiting_since
        return since is None or time.monotonic() - since <= self._fail_after_s

    def problem(self) -> str | None:
        """Why the writer is not healthy (for /readyz), None when it is."""
        if self.healthy():
            return None
        waited = time.monotonic() - (self._waiting_since or time.monotonic())
        return (f"access log not written for {waited:.1f} s, {self.pending} entries "
                f"waiting" + (f" ({self._overflow} not kept)" if self._overflow else "")
                + (f": {self.last_error}" if self.last_error else ""))

    @property
    def pending(self) -> int:
        """Entries recorded and not yet committed."""
        return len(self._pending) + len(self._batch)

    # --- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="access-log-writer")

    async def flush(self) -> None:
        """Wait until every entry recorded so far is committed (tests, shutdown)."""
        while self.pending or self._overflow:
            if self._task is None or self._task.done():
                raise RuntimeError("the access-log writer is not running")
            await asyncio.sleep(0.005)

    async def aclose(self, timeout_s: float = 60.0) -> None:
        """Write every queued entry and a final anchor, then stop. Entries still
        unwritten after ``timeout_s`` (the database is down) are logged in full."""
        self._closing = True
        await self.start()
        assert self._task is not None
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._report_unwritten()

    # --- the background task ------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.0
        while True:
            if not self._batch and not self._pending and not self._overflow:
                if self._closing:
                    break
                await self._idle()
                continue
            if not self._batch:
                self._take()
            try:
                anchored = await self._write(self._batch)
            except Exception as exc:  # any driver error: keep the batch, retry
                self._failed(exc)
                backoff = min(max(backoff * 2, _BACKOFF_FIRST_S), _BACKOFF_MAX_S)
                await asyncio.sleep(backoff)
                continue
            backoff = 0.0
            self.written += len(self._batch)
            self._batch = []
            self._succeeded(anchored)
            if self._pending and not self._closing and len(self._pending) < self._batch_max:
                # a steady trickle is written once per interval, not one entry per write
                # (a write costs ~0.8 ms of CPU whatever its size)
                await self._gather()
        await self._final_anchor()

    async def _gather(self) -> None:
        """Wait ``flush_interval_s`` for a batch to gather (less when closing)."""
        self._wake.clear()
        deadline = time.monotonic() + self._flush_interval_s
        while not self._closing and len(self._pending) < self._batch_max:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                return
            self._wake.clear()

    async def _idle(self) -> None:
        timeout = None
        if self._anchor_due is not None:
            timeout = max(0.0, self._anchor_due - time.monotonic())
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:  # entries written a while ago are not anchored yet
            try:
                await self._write([], force_anchor=True)
            except Exception as exc:
                self._failed(exc)
                self._anchor_due = time.monotonic() + _BACKOFF_MAX_S
            else:
                self._anchor_due = None
            return
        self._wake.clear()
        if not self._closing and len(self._pending) < self._batch_max:
            await asyncio.sleep(self._flush_interval_s)  # let a batch gather

    async def _final_anchor(self) -> None:
        backoff = _BACKOFF_FIRST_S
        while True:
            try:
                await self._write([], force_anchor=True)
                return
            except Exception as exc:
                self._failed(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def _take(self) -> None:
        """Move the next batch from the queue to ``_batch`` (hashed when recorded)."""
        if self._overflow and len(self._pending) < self._max_pending:
            prepared = _prepared(self._overflow_entry())
            if prepared is not None:
                self._pending.append(prepared)
        pending = self._pending
        self._batch.extend(pending.popleft()
                           for _ in range(min(len(pending), self._batch_max)))

    async def _write(self, batch: Sequence[_Prepared], force_anchor: bool = False) -> bool:
        """Append ``batch`` in one locked transaction; True when an anchor was written."""
        anchored = await self._store.run_locked("chain", self._append, batch, force_anchor)
        self._unconfirmed = None  # committed
        return anchored

    def _append(self, conn: sa.Connection, batch: Sequence[_Prepared],
                force_anchor: bool) -> bool:
        """``_write``'s transaction (``PlatformStore.run_locked``: on SQLite in a worker
        thread, while the writer's task waits; nothing else touches the writer's state
        meanwhile)."""
        head_id, head_hash = _head(conn)
        if batch and self._unconfirmed is not None:
            last_id, last_hash = self._unconfirmed
            stored = conn.scalar(sa.select(access_log.c.entry_hash)
                                 .where(access_log.c.id == last_id))
            self._unconfirmed = None
            if stored == last_hash:
                log.warning("access-log batch up to id %d was committed before its "
                            "failure was reported; not written again", last_id)
                return False
        rows = []
        prev = head_hash
        for offset, prepared in enumerate(batch, start=1):
            entry_hash = link_hash(prev, prepared.content_hash)
            rows.append({**prepared.row, "id": head_id + offset, "prev_hash": prev,
                         "content_hash": prepared.content_hash, "entry_hash": entry_hash})
            prev = entry_hash
        if rows:
            if conn.dialect.name == "sqlite":
                _insert_sqlite(conn, rows)
            else:
                conn.execute(access_log.insert(), rows)
        new_head = head_id + len(rows)
        anchored = False
        if self._anchor_due_in(conn, new_head, bool(rows), force_anchor):
            conn.execute(access_log_anchors.insert().values(
                at=dt.datetime.now(dt.UTC), entry_count=new_head, head_id=new_head,
                head_hash=prev))
            anchored = True
        if rows:
            self._unconfirmed = (new_head, prev)
        return anchored

    def _anchor_due_in(self, conn: sa.Connection, new_head: int, added: bool,
                       force: bool) -> bool:
        last = conn.execute(
            sa.select(access_log_anchors.c.head_id, access_log_anchors.c.at)
            .order_by(access_log_anchors.c.id.desc()).limit(1)).first()
        if last is None:
            return new_head > 0
        if new_head <= last.head_id:
            return False
        if force:
            return True
        age = (dt.datetime.now(dt.UTC) - last.at).total_seconds()
        return added and (new_head - last.head_id >= self._anchor_every
                          or age >= self._anchor_every_s)

    def _succeeded(self, anchored: bool) -> None:
        if self.last_error is not None:
            log.warning("access log written again")
        self.last_error = None
        self._waiting_since = time.monotonic() if self.pending else None
        if anchored:
            self._anchor_due = None
        elif self._anchor_due is None and self.written:
            self._anchor_due = time.monotonic() + self._anchor_every_s

    def _failed(self, exc: Exception) -> None:
        message = describe_error(exc)
        if message != self.last_error:
            log.error("access log cannot be written to %s (%d entries waiting): %s",
                      self._store.settings.shown(), self.pending, message)
        self.last_error = message

    def _overflowed(self, entry: AccessEntry) -> None:
        if not self._overflow:
            log.error("access-log queue full (%d entries): entries are counted, not kept, "
                      "until the database takes writes", self._max_pending)
        self._overflow += 1
        self.not_kept += 1
        first = entry.at if self._overflow_span is None else self._overflow_span[0]
        self._overflow_span = (first, entry.at)

    def _overflow_entry(self) -> AccessEntry:
        assert self._overflow_span is not None
        first, last = self._overflow_span
        entry = AccessEntry(
            at=first, principal="gateway", role="gateway", agency="", purpose="",
            client="", request_id="", operation="audit-overflow", query_hash="",
            variables_hash="", redactions={"entries": self._overflow}, outcome="refused",
            refusal_code="AUDIT_OVERFLOW",
            latency_ms=max(0.0, (last - first).total_seconds() * 1000))
        self._overflow = 0
        self._overflow_span = None
        return entry

    def _report_unwritten(self) -> None:
        entries: list[object] = [p.row for p in self._batch] + list(self._pending)
        if not entries:
            log.error("the final access-log anchor could not be written: %s", self.last_error)
            return
        log.critical("%d access-log entries could not be written to %s before shutdown "
                     "(%s); each follows", len(entries), self._store.settings.shown(),
                     self.last_error)
        for entry in entries:
            log.error("unwritten access-log entry: %r", entry)


_COLUMNS = tuple(access_log.c.keys())
_VALUES = operator.itemgetter(*_COLUMNS)  # a row's values in the columns' order
_AT = _COLUMNS.index("at")
_ROW = "(" + ", ".join("?" for _ in _COLUMNS) + ")"
_INSERT = f"INSERT INTO access_log ({', '.join(_COLUMNS)}) VALUES "
# rows per statement: SQLite takes 32,766 parameters since 3.32 (999 before)
_CHUNK = (32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999) // len(_COLUMNS)


def _insert_sqlite(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` inserted with as few statements as SQLite allows, values as SQLAlchemy
    would store them (times as naive UTC text). Through ``access_log.insert()`` each row
    cost 15-25 us of this process's CPU, bound and stepped one by one (the worker thread
    taking the GIL back after each step); this way 7-9 us."""
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        values: list[Any] = []
        for row in chunk:
            values += _VALUES(row)
            at = len(values) - len(_COLUMNS) + _AT
            values[at] = values[at].astimezone(dt.UTC).replace(tzinfo=None).isoformat(
                " ", timespec="microseconds")
        conn.exec_driver_sql(_INSERT + ", ".join([_ROW] * len(chunk)), tuple(values))


def _head(conn: sa.Connection) -> tuple[int, str]:
    row = conn.execute(sa.select(access_log.c.id, access_log.c.entry_hash)
                       .order_by(access_log.c.id.desc()).limit(1)).first()
    return (0, GENESIS) if row is None else (int(row.id), str(row.entry_hash))
