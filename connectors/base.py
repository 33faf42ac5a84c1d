"""The connector interface: one agency source, read batch-first.

A connector answers "the records of type T for these N keys" in one call, in the
order asked, with a per-key error where one key failed. A new *kind* of source is
a subclass that implements three small methods::

    class MyConnector(Connector):
        kind = "mykind"

        async def _query(self, table, key_column, keys):
            rows = ...  # rows with the source's column names
            return RawBatch(rows)

        async def _scan(self, table):
            return [...]

        async def _ping(self):
            ...  # raise when the source is down

A kind that can tell which rows changed (a change-time column, a file's
modification time, an agency's ``since`` parameter) also overrides ``_changed``;
the default reads every row and lets the caller compare (``changed_since``).

Renames, normalisation, bad-row reporting, timeouts, retries and grouping by key
are done here, once, for every kind. A connector never decides access: it returns
records with their owner's labels.
"""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from connectors.breaker import Breaker, BreakerState
from connectors.errors import SourceError, SourceUnavailable, SourceUnsupported
from connectors.observe import (
    BREAKER_OPEN,
    CANCELLED,
    ERROR,
    NO_OBSERVER,
    OK,
    TIMEOUT,
    SourceObserver,
)
from connectors.records import Record, RowProblem, normalise_row
from connectors.spec import AgencySpec
from connectors.standard import RecordTypeSpec, spec_for

__all__ = ["CHANGE_COLUMN", "NO_RECORDS", "Changes", "Connector", "KeyResult", "RawBatch",
           "Watermark"]

logger = logging.getLogger("connectors")

KeyResult = list[Record] | SourceError
# The result of every key without records. Shared: results are read, never mutated.
NO_RECORDS: list[Record] = []
T = TypeVar("T")

# A change poll with this many rows is normalised in a worker thread (``changed_since``).
_OFF_LOOP_ROWS = 5_000
# The optional change-time column of every record type (``connectors/README.md``,
# "Change times"): when the row was last written, by the owner agency's clock.
CHANGE_COLUMN = "updated_at"
# Where a source's changes were read up to: opaque to the caller, handed back as
# ``since`` on the next ``changed_since`` (a change time, a file's stamp, ...).
Watermark = str | int | float | dt.date | dt.datetime | tuple[int, int] | None


@dataclass(slots=True)
class RawBatch:
    """Rows as the source named them, and per-key failures (key -> reason)."""

    rows: Sequence[Mapping[str, Any]]
    key_errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Changes:
    """What ``Connector.changed_since`` found: the records written since the watermark
    asked (``whole`` False), or every record of the type (``whole`` True: the source
    cannot tell what changed, or nothing was asked before; the caller compares with
    what it holds, and a record it holds that is not here was deleted)."""

    records: list[Record]
    watermark: Watermark
    whole: bool


class Connector(abc.ABC):
    """Base class of every source kind."""

    kind: ClassVar[str]
    # Whether ``max_batch`` splits a call into several requests (remote services);
    # local kinds take every key at once and chunk internally if they must.
    chunked: ClassVar[bool] = False
    # How many chunks of one call may be in flight at once.
    chunk_concurrency: ClassVar[int] = 8
    # Whether ``scan`` can list every record of a type; an agency service that answers
    # only for the keys it is asked about (``http``) cannot.
    listable: ClassVar[bool] = True

    def __init__(self, spec: AgencySpec, *, report: Callable[[RowProblem], None]) -> None:
        self.spec = spec
        self._report = report
        self.breaker = Breaker(failures=spec.breaker_failures, open_s=spec.breaker_open_s)
        # Calls made, by record type ("penalty") or type and key ("penalty/person_id").
        self.calls: Counter[str] = Counter()
        # told of every call to the source (metrics, traces); set by whoever builds it
        self.observer: SourceObserver = NO_OBSERVER

    @property
    def code(self) -> str:
        return self.spec.code

    # -- what a kind implements ------------------------------------------------

    @abc.abstractmethod
    async def _query(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch:
        """Rows of ``table`` whose ``key_column`` (the source's name) is in ``keys``."""

    def _query_now(self, table: str, key_column: str, keys: Sequence[str]) -> RawBatch | None:
        """What ``_query`` would return, when the kind can read it at once on the calling
        thread without waiting for anything (a local file already read, a database no
        writer holds); ``None`` when it cannot (then ``_query`` is awaited). It raises
        nothing a caller should see: a failure here is tried again by ``_query``."""
        return None

    @abc.abstractmethod
    async def _scan(self, table: str) -> Sequence[Mapping[str, Any]]:
        """Every row of ``table``."""

    @abc.abstractmethod
    async def _ping(self) -> None:
        """Return when the source answers; raise when it does not."""

    async def _changed(
        self, table: str, columns: Sequence[str] | None, change_column: str, since: Watermark,
    ) -> tuple[Sequence[Mapping[str, Any]], Watermark, bool]:
        """(rows, new watermark, whole): the rows of ``table`` written since ``since``
        (``None``: every row). The default cannot tell: every row, whole, no
        watermark. ``columns`` (the source's names, ``change_column`` among them) may
        be the only ones read."""
        rows = await (self._scan(table) if columns is None
                      else self._scan_columns(table, columns))
        return rows, None, True

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the connector holds (engines, files)."""

    # -- the interface the gateway uses -----------------------------------------

    async def fetch(
        self, record_type: str, key_column: str, keys: Sequence[str], *,
        columns: Collection[str] | None = None, risky_only: bool = False,
    ) -> list[KeyResult]:
        """Records of ``record_type`` for each key, in the order of ``keys``.

        ``key_column`` is ``credit_code`` or ``person_id``. Raises ``SourceUnavailable``
        when the whole source failed; a failure of one key is that key's result. With
        ``columns``, the records carry only those of the type's own columns (see
        ``RecordTypeSpec.narrowed``), and with ``risky_only`` only the rows that have a
        ``risk_level`` are made records: for a reader of a few values of many records.
        """
        spec = self._type_spec(record_type, columns)
        by_person = key_column != "credit_code"
        self.calls[f"{record_type}/{key_column}" if by_person else record_type] += 1
        unique = list(dict.fromkeys(keys))
        source_key = self.spec.source_column(record_type, key_column)
        table = self.spec.table_for(record_type)
        size = max(1, self.spec.max_batch) if self.chunked else max(1, len(unique))
        chunks = [unique[i : i + size] for i in range(0, len(unique), size)]
        gate = asyncio.Semaphore(self.chunk_concurrency)

        async def one(chunk: list[str]) -> RawBatch:
            async with gate:  # the timeout is per request, once it is under way
                return await self._guarded(lambda: self._query(table, source_key, chunk),
                                           f"query {record_type}", record_type, len(chunk))

        # one chunk (every local source, most remote calls): read at once when the kind
        # can, else awaited in this task, not in one more (a task per agency call was 6%
        # of a request's CPU at 64 connections)
        if len(chunks) == 1:
            now = self._at_once(table, source_key, chunks[0], record_type)
            batches = [now if now is not None else await one(chunks[0])]
        else:
            batches = await asyncio.gather(*(one(c) for c in chunks))
        asked = set(unique)
        by_key: dict[str, list[Record]] = {}  # only keys with records: most have none
        failed: dict[str, str] = {}
        for batch in batches:
            failed.update(batch.key_errors)
            for record in self._normalise(spec, batch.rows, risky_only):
                key = record.credit_code if key_column == "credit_code" else record.person_id
                if key in asked:
                    by_key.setdefault(key, []).append(record)
        return [
            SourceUnavailable(self.code, f"{record_type} for {key}: {failed[key]}")
            if key in failed
            else by_key.get(key, NO_RECORDS)
            for key in keys
        ]

    async def scan(self, record_type: str, *, columns: Collection[str] | None = None,
                   risky_only: bool = False) -> list[Record]:
        """Every record of ``record_type`` (used to index the registry and its risk
        records); ``columns`` and ``risky_only`` as in ``fetch``. Only ``listable``
        kinds can."""
        spec = self._type_spec(record_type, columns)
        self.calls[f"scan:{record_type}"] += 1
        table = self.spec.table_for(record_type)
        read = (lambda: self._scan(table)) if columns is None else (
            lambda: self._scan_columns(table, [self.spec.source_column(record_type, name)
                                               for name in spec.all_columns()]))
        rows = await self._guarded(read, f"scan {record_type}", record_type)
        return self._normalise(spec, rows, risky_only)

    async def changed_since(self, record_type: str, since: Watermark, *,
                            columns: Collection[str] | None = None) -> Changes:
        """The records of ``record_type`` written since ``since`` (the watermark the
        previous call returned; ``None`` the first time) and the watermark to ask with
        next. Sources that cannot tell answer with every record (``Changes.whole``).
        A record may come again (an agency's answer may overlap the last one): applying
        a record twice changes nothing. ``columns`` as in ``fetch`` (every record comes,
        risky or not: a risk level taken away is a change)."""
        spec = self._type_spec(record_type, columns)
        self.calls[f"changes:{record_type}"] += 1
        table = self.spec.table_for(record_type)
        change_column = self.spec.source_column(record_type, CHANGE_COLUMN)
        names = None if columns is None else [
            *(self.spec.source_column(record_type, name) for name in spec.all_columns()),
            change_column]
        rows, watermark, whole = await self._guarded(
            lambda: self._changed(table, names, change_column, since),
            f"changes of {record_type}", record_type)
        if len(rows) < _OFF_LOOP_ROWS:
            return Changes(self._normalise(spec, rows), watermark, whole)
        # a whole read (the first poll, a source without change times): 100,000 rows
        # take seconds to normalise, which the loop's requests would otherwise wait for;
        # the problems are reported here, on the loop (the problem log is not shared
        # with threads)
        problems: list[RowProblem] = []
        records = await asyncio.to_thread(self._normalise, spec, rows, False, problems.append)
        for problem in problems:
            self._report(problem)
        return Changes(records, watermark, whole)

    async def _scan_columns(self, table: str,
                            columns: Sequence[str]) -> Sequence[Mapping[str, Any]]:
        """Every row of ``table``, of which only ``columns`` (the source's names) will be
        read: a kind that can leave the others unread overrides this."""
        return await self._scan(table)

    async def health(self) -> bool:
        """True when the source answers within its timeout."""
        try:
            await self._guarded(self._ping, "health check", "health")
        except SourceError:
            return False
        return True

    # -- shared machinery ------------------------------------------------------

    def _type_spec(self, record_type: str,
                   columns: Collection[str] | None = None) -> RecordTypeSpec:
        if record_type not in self.spec.provides:
            raise SourceUnsupported(self.code, f"does not provide {record_type}")
        spec = spec_for(record_type)
        return spec if columns is None else spec.narrowed(columns)

    def _normalise(
        self, spec: RecordTypeSpec, rows: Sequence[Mapping[str, Any]], risky_only: bool = False,
        report: Callable[[RowProblem], None] | None = None,
    ) -> list[Record]:
        renames = self.spec.standard_names(spec.name)
        code = self.code
        report = self._report if report is None else report
        risk = self.spec.source_column(spec.name, "risk_level")
        records = []
        for row in rows:
            if risky_only:
                level = row.get(risk)
                if level is None or (isinstance(level, str) and not level.strip()):
                    continue  # an empty label is no risk level (normalise_row)
            standard = {renames.get(name, name): value for name, value in row.items()
                        } if renames else row
            record = normalise_row(code, spec, standard, report)
            if record is not None:
                records.append(record)
        return records

    def _at_once(self, table: str, key_column: str, keys: list[str],
                 record_type: str) -> RawBatch | None:
        """``_query_now`` as a call the observer is told of, while the circuit breaker
        is closed; ``None`` when the kind cannot read at once or the read failed (then
        ``_guarded`` calls ``_query``: its timeout, retries, log and failure mapping).
        A read on the calling thread cannot be interrupted by a timeout, and with
        nothing to wait for it needs none: left out, with the timer it would arm (one
        key's call 12-13 -> 6 us of CPU for a CSV file, 18-19 -> 10-11 us for SQLite)."""
        if self.breaker.state is not BreakerState.CLOSED:
            return None
        try:
            batch = self._query_now(table, key_column, keys)
        except Exception:  # read again by _query, which reports it
            return None
        if batch is not None:
            self.observer.call(self.code, record_type, len(keys)).end(OK)
            self.breaker.success()
        return batch

    async def _guarded(self, make: Callable[[], Awaitable[T]], what: str,
                       record_type: str, batch_size: int = 0) -> T:
        """Run ``make()`` through the agency's circuit breaker, with its timeout and
        bounded retries (with backoff) of transient failures; map failures to
        ``SourceUnavailable`` with a reason safe to show (details go to the log).
        The observer is told of the call and how it ended (retries included)."""
        watch = self.observer.call(self.code, record_type, batch_size)
        if not self.breaker.allow():
            watch.end(BREAKER_OPEN)
            raise SourceUnavailable(
                self.code, f"circuit open after repeated failures; next try in "
                f"{self.breaker.retry_in():.0f} s")
        attempts = 1 + max(0, self.spec.retries)
        outcome = CANCELLED
        try:
            for attempt in range(attempts):
                outcome = CANCELLED  # unless the attempt ends otherwise
                try:
                    async with asyncio.timeout(self.spec.timeout_s):
                        result = await make()
                except SourceUnavailable as error:
                    failure, outcome = error, ERROR
                except SourceError:
                    outcome = ERROR
                    raise
                except TimeoutError:
                    failure, outcome = SourceUnavailable(
                        self.code, f"{what} timed out after {self.spec.timeout_s:g} s"), TIMEOUT
                except Exception as exc:
                    logger.warning("agency %s: %s failed: %r", self.code, what, exc)
                    outcome = ERROR
                    failure = SourceUnavailable(
                        self.code, f"{what} failed ({type(exc).__name__})",
                        retryable=isinstance(exc, OSError | ConnectionError)
                        or "Connect" in type(exc).__name__)
                else:
                    self.breaker.success()
                    outcome = OK
                    return result
                if not failure.retryable or attempt + 1 == attempts:
                    break
                await asyncio.sleep(0.05 * 2**attempt)
            self.breaker.failure()
            raise failure
        finally:
            watch.end(outcome)
