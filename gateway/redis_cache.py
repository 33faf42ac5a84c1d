"""The source record cache in Redis: shared by every gateway process, with a fallback.

``RedisRecordCache`` has the interface of ``MemoryRecordCache`` (the ``RecordCache``
protocol of ``schema.loaders``): raw records per agency, record type, key column and
key, kept for the TTL the caller gives. Many keys cost one round trip: one ``MGET`` to
read and one pipeline of ``SET ... PX`` to write (per 10,000 keys).

Redis is a cache, never a dependency. When it fails (down, timing out, refusing
writes) callers are served from and write to the in-process ``fallback`` cache, one
warning is logged, and Redis is tried again by itself at most every ``retry_after_s``.
Entries are compact JSON, ``{"t": stored at (Unix time), "r": [record, ...]}``, each
record a list; enums are stored as their values and dates tagged, so what is read
back equals what was stored.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from connectors.records import Record, Value
from connectors.standard import Openness, RiskLevel
from gateway.cache import MemoryRecordCache
from gateway.redis_availability import RedisAvailability

__all__ = ["CHUNK", "RedisRecordCache", "check_redis_url", "decode_entry", "encode_entry",
           "redacted_url"]

log = logging.getLogger(__name__)

CHUNK = 10_000
"""Keys per ``MGET`` and per write pipeline."""

_ERRORS = (RedisError, OSError)  # OSError covers socket errors and TimeoutError
_Found = dict[str, tuple[list[Record], float]]


def _encode_value(value: Value) -> Any:
    if isinstance(value, dt.datetime):  # not a column kind today, but kept exact
        return ["t", value.isoformat()]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    return value  # str, float or None: JSON keeps them as they are (never a list)


def _decode_value(raw: Any) -> Value:
    if not isinstance(raw, list):
        value: Value = raw
        return value
    tag, text = raw
    if tag == "d":
        return dt.date.fromisoformat(text)
    if tag == "t":
        return dt.datetime.fromisoformat(text)
    raise ValueError(f"unknown value tag {tag!r}")


def encode_entry(records: Sequence[Record], stored_at: float) -> bytes:
    """The stored form of one key's records: compact UTF-8 JSON."""
    rows = [
        [r.record_type, r.agency, r.record_id, r.credit_code, r.openness.value,
         None if r.risk_level is None else r.risk_level.value,
         {column: _encode_value(value) for column, value in r.values.items()}]
        for r in records
    ]
    return json.dumps({"t": stored_at, "r": rows}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def decode_entry(data: bytes | str) -> tuple[float, list[Record]]:
    """(stored at, records) from ``encode_entry``'s form; ``ValueError``, ``KeyError``
    or ``TypeError`` when the data is not such an entry."""
    entry = json.loads(data)
    records = [
        Record(record_type, agency, record_id, credit_code, Openness(openness),
               None if risk is None else RiskLevel(risk),
               {column: _decode_value(value) for column, value in values.items()})
        for record_type, agency, record_id, credit_code, openness, risk, values in entry["r"]
    ]
    return float(entry["t"]), records


_SCHEMES = ("redis", "rediss", "unix")


def check_redis_url(url: str) -> None:
    """``ValueError`` naming the problem when ``url`` is not a Redis URL (checked at
    start: a typo should stop the gateway, an unreachable server should not)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _SCHEMES or not rest:
        raise ValueError(f"GATEWAY_REDIS_URL must look like redis://host:port/db "
                         f"(schemes {', '.join(_SCHEMES)}), got {redacted_url(url)!r}")
    try:
        BlockingConnectionPool.from_url(url)  # redis-py's own parsing: port, db, options
    except ValueError as error:
        raise ValueError(f"GATEWAY_REDIS_URL {redacted_url(url)!r}: {error}") from None


def redacted_url(url: str) -> str:
    """``url`` without its password, for logs and messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ''}***@{host}"


class RedisRecordCache:
    """Records in Redis under ``{namespace}:{agency}:{record_type}:{key_column}:{key}``.

    ``client`` should fail fast (short socket timeouts, no retry with backoff):
    ``from_url`` builds such a client. While Redis is unavailable, reads and writes
    go to ``fallback``; the first call after ``retry_after_s`` tries Redis again.
    ``clock`` gives the wall-clock time (entries cross processes) used for ages.
    """

    def __init__(
        self, client: Redis, *, fallback: MemoryRecordCache, namespace: str = "rg:records",
        clock: Callable[[], float] = time.time, retry_after_s: float = 1.0,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._fallback = fallback
        self._namespace = namespace
        self._clock = clock
        self._owns_client = owns_client
        self._redis = RedisAvailability(
            retry_after_s, logger=log, back="Redis is back; the record cache uses it again",
            down="Redis record cache unavailable (%s: %s); using the in-process cache, "
                 "retrying every %g s")
        self._fallback_used = False  # the fallback holds entries written in an outage

    @classmethod
    def from_url(
        cls, url: str, *, fallback: MemoryRecordCache, max_connections: int = 50,
        socket_timeout: float = 0.5, namespace: str = "rg:records",
        clock: Callable[[], float] = time.time, retry_after_s: float = 1.0,
    ) -> RedisRecordCache:
        """A cache with its own client on a ``BlockingConnectionPool`` (one per process;
        ``aclose`` closes it). ``socket_timeout`` bounds connecting, each reply and the
        wait for a free connection; a broken connection is retried once, at once."""
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=socket_timeout,
            socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1, (RedisConnectionError,)),
        )
        return cls(Redis.from_pool(pool), fallback=fallback, namespace=namespace, clock=clock,
                   retry_after_s=retry_after_s, owns_client=True)

    @property
    def available(self) -> bool:
        """False from a Redis failure until Redis answers again."""
        return self._redis.available

    @property
    def client(self) -> Redis:
        """The Redis client (to share it within the process, e.g. for pub/sub)."""
        return self._client

    async def aclose(self) -> None:
        """Close the client if this cache made it (``from_url``); an injected client is
        closed by whoever made it."""
        if self._owns_client:
            await self._client.aclose()

    def peek_fresh(
        self, agency: str, record_type: str, key_column: str, keys: Sequence[str],
        max_age_s: float,
    ) -> tuple[list[list[Record]], float] | None:
        """None: Redis is only read by awaiting (``get_many``)."""
        return None

    async def get_many(
        self, agency: str, record_type: str, key_column: str, keys: Sequence[str]
    ) -> _Found:
        """Entries among ``keys`` still in the cache: key -> (records, age in seconds)."""
        if not keys:
            return {}
        started = time.monotonic()
        if not self._redis.should_try(started):
            return await self._fallback.get_many(agency, record_type, key_column, keys)
        unique = list(dict.fromkeys(keys))
        prefix = self._prefix(agency, record_type, key_column)
        blobs: list[bytes | str | None] = []
        try:
            for start in range(0, len(unique), CHUNK):
                blobs += await self._client.mget([prefix + k for k in unique[start:start + CHUNK]])
        except _ERRORS as error:
            self._redis.failed(error)
            return await self._fallback.get_many(agency, record_type, key_column, keys)
        self._redis.answered(started)
        now = self._clock()
        found: _Found = {}
        for key, blob in zip(unique, blobs, strict=True):
            if blob is None:
                continue
            try:
                stored, records = decode_entry(blob)
            except (ValueError, KeyError, TypeError) as error:  # another format: a miss
                log.debug("unreadable cache entry %s%s: %s", prefix, key, error)
                continue
            found[key] = (records, max(0.0, now - stored))
        if self._fallback_used and len(found) < len(unique):  # written during an outage
            missing = [key for key in unique if key not in found]
            found.update(await self._fallback.get_many(agency, record_type, key_column, missing))
        return found

    async def put_many(
        self, agency: str, record_type: str, key_column: str,
        items: Mapping[str, list[Record]], ttl_s: float,
    ) -> None:
        """Keep ``items`` (key -> records, lists possibly empty) for ``ttl_s`` seconds."""
        if ttl_s <= 0 or not items:
            return
        started = time.monotonic()
        if self._redis.should_try(started):
            prefix = self._prefix(agency, record_type, key_column)
            stored = self._clock()
            ttl_ms = max(1, round(ttl_s * 1000))
            entries = list(items.items())
            try:
                for start in range(0, len(entries), CHUNK):
                    async with self._client.pipeline(transaction=False) as pipe:
                        for key, records in entries[start:start + CHUNK]:
                            pipe.set(prefix + key, encode_entry(records, stored), px=ttl_ms)
                        await pipe.execute()
            except _ERRORS as error:
                self._redis.failed(error)
            else:
                self._redis.answered(started)
                return
        self._fallback_used = True
        await self._fallback.put_many(agency, record_type, key_column, items, ttl_s)

    def _prefix(self, agency: str, record_type: str, key_column: str) -> str:
        return f"{self._namespace}:{agency}:{record_type}:{key_column}:"
