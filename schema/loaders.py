"""Per-request DataLoaders: every load of one agency, record type and key column
within one tick of the event loop becomes one connector call - or none, for keys
the shared record cache holds."""

from __future__ import annotations

from asyncio import Future
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Protocol

from aiodataloader import DataLoader, Loader

from connectors.base import Connector, KeyResult
from connectors.errors import SourceError
from connectors.observe import NO_OBSERVER, SourceObserver
from connectors.records import Record
from schema.coalesce import SourceCoalescer

__all__ = ["Loaders", "RecordCache"]


class RecordCache(Protocol):
    """Raw records shared across requests (before authorization); see gateway.cache."""

    async def get_many(
        self, agency: str, record_type: str, key_column: str, keys: Sequence[str]
    ) -> dict[str, tuple[list[Record], float]]: ...

    async def put_many(
        self, agency: str, record_type: str, key_column: str,
        items: Mapping[str, list[Record]], ttl_s: float,
    ) -> None: ...

    def peek_fresh(
        self, agency: str, record_type: str, key_column: str, keys: Sequence[str],
        max_age_s: float,
    ) -> tuple[list[list[Record]], float] | None:
        """Every key's records, none older than ``max_age_s``, and the oldest one's
        age, answered without awaiting; None when a key is not so, or when the cache
        can only be awaited."""
        ...


def cached_now(
    connector: Connector, record_type: str, key_column: str, keys: Sequence[str],
    cache: RecordCache | None, ages: dict[str, float],
    observer: SourceObserver = NO_OBSERVER,
) -> list[list[Record]] | None:
    """Every key's records from the cache, without awaiting, or None when a key is not
    fresh there (or the cache can only be awaited): ``fetch_cached`` then does it."""
    spec = connector.spec
    if cache is None or spec.cache_ttl_s <= 0:
        return None
    kept = cache.peek_fresh(connector.code, record_type, key_column, keys, spec.cache_ttl_s)
    if kept is None:
        return None
    found, oldest = kept
    if keys:
        agency = connector.code
        ages[agency] = max(ages.get(agency, 0.0), oldest)
        observer.cache_lookup(len(keys), 0)
    return found


async def fetch_cached(
    connector: Connector,
    record_type: str,
    key_column: str,
    keys: Sequence[str],
    cache: RecordCache | None,
    ages: dict[str, float],
    stale: dict[str, float] | None = None,
    coalescer: SourceCoalescer | None = None,
    observer: SourceObserver = NO_OBSERVER,
) -> list[KeyResult]:
    """Records per key: cached entries younger than the agency's ``cache_ttl_s``, the
    rest in one connector call (then cached).

    Stale-if-error: entries are kept ``stale_if_error_s`` longer; when the agency
    fails, such a stale copy is served instead of an error and ``stale`` notes the
    agency and the copy's age. ``ages`` keeps, per agency, the age of the oldest
    cached data used. With a ``coalescer``, the call is shared with the other requests
    asking the same agency at the same moment. ``observer`` is told of the cache's hits
    and misses and of stale copies served.
    """
    spec = connector.spec
    fetch = connector.fetch if coalescer is None else partial(coalescer.fetch, connector)
    if cache is None or spec.cache_ttl_s <= 0:
        try:
            return await fetch(record_type, key_column, keys)
        except SourceError as error:
            return [error] * len(keys)
    agency = connector.code
    kept = await cache.get_many(agency, record_type, key_column, keys)
    fresh = {k: v for k, v in kept.items() if v[1] <= spec.cache_ttl_s} if kept else {}
    unique = dict.fromkeys(keys)
    misses = [key for key in unique if key not in fresh]
    observer.cache_lookup(len(unique) - len(misses), len(misses))
    fetched: dict[str, KeyResult] = {}
    if misses:
        try:
            results = await fetch(record_type, key_column, misses)
        except SourceError as error:
            results = [error] * len(misses)
        fetched = dict(zip(misses, results, strict=True))
        good = {k: v for k, v in fetched.items() if not isinstance(v, SourceError)}
        await cache.put_many(agency, record_type, key_column, good,
                             spec.cache_ttl_s + spec.stale_if_error_s)
        for key, result in fetched.items():
            if isinstance(result, SourceError) and key in kept and stale is not None:
                records, age = kept[key]
                fresh[key] = (records, age)
                stale[agency] = max(stale.get(agency, 0.0), age)
                observer.stale_served(agency)
    used = [fresh[key][1] for key in keys if key in fresh]
    if used:
        ages[agency] = max(ages.get(agency, 0.0), max(used))
    return [fresh[key][0] if key in fresh else fetched[key] for key in keys]


class _Slot:
    """What one request knows of one agency, record type and key column: the loads made
    (``futures``), the records prefetches brought (``primed``) and, once something is
    loaded one key at a time, the DataLoader. Most slots of a request are only
    prefetched: a DataLoader for each of them (23 per enterprise query) was 8 % of a
    warm request's CPU."""

    __slots__ = ("_loader", "asked", "connector", "fetch_with", "futures", "key_column", "primed",
                 "record_type", "shared")

    def __init__(self, connector: Connector, record_type: str, key_column: str,
                 owner: Loaders) -> None:
        self.futures: dict[str, Future[list[Record]]] = {}  # key -> load, kept by the loader
        # records a prefetch brought, turned into a load's future only when asked for:
        # priming every key of a page up front cost 21,000 futures per 1,000-page
        self.primed: dict[str, list[Record]] = {}
        # keys in a shared call this request joined (``Loaders.fetch_soon``): key -> the
        # call's answer, the key's place in it and how many keys it has; moved to
        # ``primed`` once answered, when next asked (a done callback per call cost a
        # loop callback each)
        self.asked: dict[str, tuple[Future[list[KeyResult]], int, int]] = {}
        self.connector = connector
        self.record_type = record_type
        self.key_column = key_column
        # what a batch's fetch needs of the request's loaders (their cache, ages, stale
        # copies, coalescer and observer), not the loaders themselves: a slot that
        # referred to its owner made each request's loaders a reference cycle, freed
        # only by the garbage collector's full passes (a third of the CPU under load)
        self.fetch_with = (owner.cache, owner.ages, owner.stale, owner.coalescer,
                           owner.observer)
        # uncached and coalesced: a batch joins the shared call as a future (below)
        self.shared = owner.coalescer if owner.uncached(connector) else None
        self._loader: _SourceLoader | None = None

    def settle(self) -> None:
        """Move what the shared calls of ``asked`` answered into ``primed``."""
        asked, known, primed = self.asked, self.futures, self.primed
        for key, (answer, index, _) in list(asked.items()):
            if not answer.done():
                continue
            del asked[key]
            if answer.cancelled() or answer.exception() is not None:
                continue  # asked again by whoever needs it
            result = answer.result()[index]
            if not isinstance(result, SourceError) and key not in known:
                primed[key] = result

    def loader(self) -> _SourceLoader:
        """The slot's DataLoader (made on first use), over the slot's ``futures``."""
        loader = self._loader
        if loader is None:
            loader = self._loader = _SourceLoader(self)
        return loader


class _SourceLoader(DataLoader[str, list[Record]]):
    def __init__(self, slot: _Slot) -> None:
        super().__init__(cache_map=slot.futures)
        self._connector = slot.connector
        self._record_type = slot.record_type
        self._key_column = slot.key_column
        self._fetch_with = slot.fetch_with
        self.shared = slot.shared

    async def batch_load_fn(self, keys: Sequence[str]) -> list[KeyResult]:  # type: ignore[override]
        return await fetch_cached(self._connector, self._record_type, self._key_column, keys,
                                  *self._fetch_with)

    def do_resolve_reject(self, key: str, future: Future[list[Record]]) -> None:
        """Queue a load. aiodataloader dispatches a batch through two tasks; a batch for
        the shared call needs none: the same two turns of gathering keys are two
        callbacks, and the loads are settled by the shared call's future."""
        if self.shared is None:
            super().do_resolve_reject(key, future)
            return
        self._queue.append(Loader(key=key, future=future))
        if len(self._queue) == 1:
            self.loop.call_soon(self.loop.call_soon, self._dispatch_shared)

    def _dispatch_shared(self) -> None:
        queue, self._queue = self._queue, []
        assert self.shared is not None
        answer = self.shared.submit(self._connector, self._record_type, self._key_column,
                                    [item.key for item in queue])
        answer.add_done_callback(partial(self._settle, queue))

    def _settle(self, queue: list[Loader], answer: Future[list[KeyResult]]) -> None:
        if answer.cancelled() or answer.exception() is not None:
            for item in queue:  # a failed batch is not kept: the next load asks again
                self.clear(item.key)
                if not item.future.done():
                    if answer.cancelled():
                        item.future.cancel()
                    else:
                        item.future.set_exception(answer.exception())
            return
        for item, result in zip(queue, answer.result(), strict=True):
            if not item.future.done():
                if isinstance(result, SourceError):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)


class Loaders:
    """The loaders of one request, made on first use. Never share across requests."""

    def __init__(self, cache: RecordCache | None = None,
                 coalescer: SourceCoalescer | None = None,
                 observer: SourceObserver = NO_OBSERVER) -> None:
        self._loaders: dict[tuple[str, str, str], _Slot] = {}
        self.cache = cache
        self.coalescer = coalescer
        self.observer = observer  # told of record-cache hits and stale copies
        # agency -> age in seconds of the oldest cached data this request used
        self.ages: dict[str, float] = {}
        # agency -> age of a stale copy served because the agency failed
        self.stale: dict[str, float] = {}

    def uncached(self, connector: Connector) -> bool:
        """True when ``connector``'s records are fetched every time, shared only with
        the other requests of the moment (a coalescer, no record cache)."""
        return self.coalescer is not None and (self.cache is None
                                               or connector.spec.cache_ttl_s <= 0)

    def load(
        self, connector: Connector, record_type: str, key_column: str, key: str
    ) -> Future[list[Record]]:
        """Records of ``record_type`` from ``connector`` whose ``key_column`` is ``key``.

        A future (not a coroutine: no task per load). Awaiting it raises the agency's
        ``SourceError`` when the agency could not be read.
        """
        slot = self._loader(connector, record_type, key_column)
        if slot.asked:
            slot.settle()
        loader = slot.loader()
        primed = slot.primed.pop(key, None)
        if primed is not None:
            loader.prime(key, primed)
        return loader.load(key)

    def fetch_now(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> list[list[Record]] | None:
        """What ``fetch`` returns, when every key is answered without awaiting (primed,
        already loaded, or fresh in an in-process cache); else None. A warm request
        then costs no task per agency and record type."""
        return self._now(self._loader(connector, record_type, key_column), keys)

    def now_or_soon(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> tuple[list[list[Record]] | None, Future[list[KeyResult]] | None]:
        """``fetch_now``'s answer, or else ``fetch_soon``'s (both None: ``fetch``), with
        one look-up of the slot: what a prefetch asks of each provider."""
        slot = self._loader(connector, record_type, key_column)
        ready = self._now(slot, keys)
        return (ready, None) if ready is not None else (None, self._soon(slot, keys))

    def _now(self, loader: _Slot, keys: Sequence[str]) -> list[list[Record]] | None:
        if loader.asked:
            loader.settle()
        known, primed = loader.futures, loader.primed
        found: list[list[Record]] = []
        missing: list[str] = []
        for key in keys:
            if key in primed:
                found.append(primed[key])
            elif key in known:
                future = known[key]
                if not future.done() or future.cancelled() or future.exception() is not None:
                    return None
                found.append(future.result())
            else:
                missing.append(key)
        if not missing:
            return found
        cached = cached_now(loader.connector, loader.record_type, loader.key_column, missing,
                            self.cache, self.ages, self.observer)
        if cached is None:
            return None
        primed.update(zip(missing, cached, strict=True))
        return [primed[key] if key in primed else known[key].result() for key in keys]

    async def fetch(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> list[KeyResult]:
        """One direct call for many keys (a page prefetch), priming the loader so later
        loads of the same keys in this request are answered from it. Keys this request
        already loads (or has loaded) are taken from their loads, not asked again."""
        loader = self._loader(connector, record_type, key_column)
        if loader.asked:
            loader.settle()
        known, primed = loader.futures, loader.primed
        asked = [key for key in keys if key in known or key in primed]
        rest = [key for key in keys if key not in known and key not in primed] if asked else keys
        fetched = await fetch_cached(connector, record_type, key_column, rest, self.cache,
                                     self.ages, self.stale, self.coalescer,
                                     self.observer) if rest else []
        results = dict(zip(rest, fetched, strict=True))
        for key, result in zip(rest, fetched, strict=True):
            if not isinstance(result, SourceError) and key not in known:
                primed[key] = result
        for key in asked:
            if key in primed:
                results[key] = primed[key]
                continue
            try:
                results[key] = await known[key]
            except SourceError as error:
                results[key] = error
        return [results[key] for key in keys]

    def fetch_soon(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> Future[list[KeyResult]] | None:
        """``fetch`` as a future, when it needs no awaiting of its own: the agency has
        no record cache, a coalescer shares the call and this request loads none of
        the keys yet - or asked for exactly these keys so already (the same future,
        e.g. an enterprise's early ask and its prefetch). Else None (then ``fetch``).
        Saves a task per agency and record type of an uncached request."""
        slot = self._loader(connector, record_type, key_column)
        if slot.asked:
            slot.settle()
        return self._soon(slot, keys)

    def _soon(self, slot: _Slot, keys: Sequence[str]) -> Future[list[KeyResult]] | None:
        """``fetch_soon`` for a slot whose answered asks are settled already (``now_or_soon``
        settles them in ``_now`` just before)."""
        if slot.shared is None or not keys:
            return None
        known, primed, asked = slot.futures, slot.primed, slot.asked
        if asked:
            same = asked.get(keys[0])
            if same is not None and same[1] == 0 and same[2] == len(keys):
                answer = same[0]
                if all((entry := asked.get(key)) is not None and entry[0] is answer
                       and entry[1] == index for index, key in enumerate(keys)):
                    return answer
        for key in keys:
            if key in known or key in primed or key in asked:
                return None
        answer = slot.shared.submit(slot.connector, slot.record_type, slot.key_column, keys)
        count = len(keys)
        for index, key in enumerate(keys):
            asked[key] = (answer, index, count)
        return answer

    def load_many(
        self, connector: Connector, record_type: str, key_column: str, keys: Sequence[str]
    ) -> Future[list[list[Record]]]:
        slot = self._loader(connector, record_type, key_column)
        if slot.asked:
            slot.settle()
        loader = slot.loader()
        for key in keys:
            primed = slot.primed.pop(key, None)
            if primed is not None:
                loader.prime(key, primed)
        return loader.load_many(keys)

    def _loader(self, connector: Connector, record_type: str, key_column: str) -> _Slot:
        key = (connector.code, record_type, key_column)
        slot = self._loaders.get(key)
        if slot is None:
            slot = self._loaders[key] = _Slot(connector, record_type, key_column, self)
        return slot
