"""Gathering one subject's records from every agency that provides a type.

This is where "主体名下归风险" happens: the loads of all providers are issued at
once (futures, no task per load), failures are recorded per agency and the other
agencies' records still arrive. It is also where records enter the graph: they
pass through the caller's view (``schema.view``) here - what the caller may not see
is dropped and what it may not read is nulled - before anything counts, sorts or
links them. Before the view, the platform's overlay (``schema.overlay``: added
records, withdrawals, repairs, objections) amends them, so the view and everything
after it see the amended records. Plain functions of the request context: nothing
here knows GraphQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Sequence

from connectors.base import KeyResult
from connectors.errors import SourceError
from connectors.records import Record as SourceRecord
from schema.context import RequestContext
from schema.loaders import fetch_cached

__all__ = [
    "PRIMARY_DATE",
    "Wave",
    "gather_checked",
    "gather_many",
    "gather_records",
    "prefetch_checked",
    "sort_records",
]

Path = Sequence[str | int]

# The date a record type is ordered by (newest first).
PRIMARY_DATE = {
    "licence": "valid_from",
    "penalty": "decided_on",
    "anomaly": "listed_on",
    "serious_violation": "listed_on",
    "judgment_default": "listed_on",
    "inspection": "inspected_on",
    "enterprise": "established_on",
    "person": "name",
}
_EPOCH = dt.date.min


def sort_records(records: list[SourceRecord], record_type: str) -> list[SourceRecord]:
    """Newest first, then by agency and record id: a stable, source-independent order."""
    column = PRIMARY_DATE[record_type]

    def key(record: SourceRecord) -> tuple[int, str, str]:
        value = record.values.get(column)
        ordinal = value.toordinal() if isinstance(value, dt.date) else _EPOCH.toordinal()
        return (-ordinal, record.agency, record.record_id)

    records.sort(key=key)
    return records


async def gather_records(
    context: RequestContext, path: Path, record_type: str, key_column: str, key: str
) -> list[SourceRecord]:
    """The caller's copies of the records of ``record_type`` about ``key`` from every
    provider, newest first."""
    return (await gather_checked(context, path, record_type, key_column, (key,)))[0][0]


async def gather_many(
    context: RequestContext, path: Path, record_type: str, key_column: str,
    keys: Sequence[str],
) -> list[list[SourceRecord]]:
    """Like ``gather_records`` for many keys at once (one call per provider)."""
    return (await gather_checked(context, path, record_type, key_column, keys))[0]


async def gather_checked(
    context: RequestContext,
    path: Path,
    record_type: str,
    key_column: str,
    keys: Sequence[str],
    *,
    visible_only: bool = True,
) -> tuple[list[list[SourceRecord]], set[str]]:
    """Records per key through the request's loaders, and the agencies that failed.

    ``visible_only=False`` returns every raw record: only values the policy derives
    on purpose from everything (``Basis.ALL``) use it. ``path`` is where a failure is
    reported.
    """
    loaders = context.loaders
    providers = context.sources.providers(record_type)
    # what is at hand (loaded, prefetched, fresh in the in-process record cache) is
    # taken as it is: no DataLoader and no batch tasks for it
    now = [loaders.fetch_now(c, record_type, key_column, keys) for c in providers]
    futures = [[loaders.load(c, record_type, key_column, key) for key in keys]
               if ready is None else [] for c, ready in zip(providers, now, strict=True)]
    merged: list[list[SourceRecord]] = [[] for _ in keys]
    failed: set[str] = set()
    for ready, per_key in zip(now, futures, strict=True):
        if ready is not None:
            for bucket, records in zip(merged, ready, strict=True):
                bucket.extend(records)
            continue
        for bucket, future in zip(merged, per_key, strict=True):
            try:
                bucket.extend(await future)
            except SourceError as error:
                failed.add(error.agency)
                context.failures.add(error, path)
    merged = context.overlay.over_many(record_type, key_column, keys, merged)
    return _visible_sorted(context, merged, record_type, key_column, visible_only), failed


async def prefetch_checked(
    context: RequestContext,
    path: Path,
    record_type: str,
    key_column: str,
    keys: Sequence[str],
    *,
    prime: bool = True,
    visible_only: bool = True,
    sort: bool = True,
) -> tuple[list[list[SourceRecord]], set[str]]:
    """Records of many keys, one call per provider, all providers at once (a page's
    lookahead, so the per-enterprise fields answer synchronously), and the agencies
    that failed (reported at ``path``). ``prime=False`` does not fill
    the loaders (a whole-registry scan whose keys later fields will not ask for);
    ``visible_only`` as in ``gather_checked``."""
    wave = Wave(context, record_type, key_column, keys, prime=prime)
    return await wave.records(path, visible_only=visible_only, sort=sort)


class Wave:
    """One ``prefetch_checked``, started when made (every provider asked, nothing
    awaited) and read with ``records``: a caller with many record types to fetch makes
    all its waves first, then reads them one after the other - the calls run together
    as with ``asyncio.gather``, without a task and a gathering future per record type
    (ten of each per uncached enterprise query)."""

    __slots__ = ("_calls", "_context", "_key_column", "_keys", "_now", "_record_type")

    def __init__(self, context: RequestContext, record_type: str, key_column: str,
                 keys: Sequence[str], *, prime: bool = True) -> None:
        self._context, self._record_type, self._key_column = context, record_type, key_column
        self._keys = keys
        providers = context.sources.providers(record_type)
        loaders = context.loaders
        calls: list[Awaitable[list[KeyResult]]]
        now: list[list[list[SourceRecord]] | None]
        if prime:
            now, calls = [], []
            for connector in providers:
                ready, soon = loaders.now_or_soon(connector, record_type, key_column, keys)
                now.append(ready)
                if ready is None:
                    # a future where the call needs no task of this request's (uncached,
                    # coalesced); else the loaders' fetch, running from now on as a task
                    calls.append(soon or asyncio.ensure_future(
                        loaders.fetch(connector, record_type, key_column, keys)))
        else:
            now = [None] * len(providers)
            calls = [asyncio.ensure_future(
                fetch_cached(c, record_type, key_column, keys, loaders.cache, loaders.ages,
                             loaders.stale)) for c in providers]
        self._now = now
        self._calls = calls

    async def records(self, path: Path, *, visible_only: bool = True, sort: bool = True,
                      ) -> tuple[list[list[SourceRecord]], set[str]]:
        """What ``prefetch_checked`` returns, once every call of the wave is done."""
        context, keys = self._context, self._keys
        awaited: list[list[KeyResult]] = []
        try:
            for call in self._calls:
                awaited.append(await call)
        except BaseException:
            for call in self._calls:  # the others' outcome is seen, as with gather
                if isinstance(call, asyncio.Future):
                    call.add_done_callback(_seen)
            raise
        results = iter(awaited)
        fetched: list[Sequence[KeyResult]] = [
            ready if ready is not None else next(results) for ready in self._now]
        merged: list[list[SourceRecord]] = [[] for _ in keys]
        failed: set[str] = set()
        for per_key in fetched:
            for bucket, result in zip(merged, per_key, strict=True):
                if isinstance(result, SourceError):
                    failed.add(result.agency)
                    context.failures.add(result, path)
                else:
                    bucket.extend(result)
        merged = context.overlay.over_many(self._record_type, self._key_column, keys, merged)
        return _visible_sorted(context, merged, self._record_type, self._key_column,
                               visible_only, sort), failed


def _seen(future: asyncio.Future[list[KeyResult]]) -> None:
    if not future.cancelled():
        future.exception()


def _visible_sorted(
    context: RequestContext,
    buckets: list[list[SourceRecord]],
    record_type: str,
    key_column: str,
    visible_only: bool,
    sort: bool = True,
) -> list[list[SourceRecord]]:
    """The caller's copies (what it may not see dropped, what it may not read nulled);
    a record found by person id also needs its ``person_id`` readable. Then sort by the
    copies' values - a hidden date sorts as no date (unless only rules will read them)."""
    view = context.view
    if visible_only and view.policy is not None:
        if key_column == "person_id" and record_type != "person":
            buckets = [view.seen_on(b, "person_id") if b else b for b in buckets]
        else:
            buckets = [view.seen_all(b) if b else b for b in buckets]
    if not sort:
        return buckets
    return [sort_records(bucket, record_type) if len(bucket) > 1 else bucket
            for bucket in buckets]
