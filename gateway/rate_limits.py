"""Rate limits per caller: ``policies/rate_limits.yaml``, counted in process or in Redis.

A caller is counted under ``caller_key``: ``principal:<id>`` for a principal, and
``client:<address>`` for the public. Each role may make ``requests`` requests in any
``window_s`` seconds (a sliding-window log: every allowed request is remembered for
the window; a refused one is not, so a caller hammering at a closed door does not
keep it closed). ``hit`` answers with a ``Verdict``; over the limit it says when the
next request will be allowed.

``MemoryRateLimiter`` counts in one process. ``RedisRateLimiter`` counts in Redis, so
every gateway process sharing the server enforces one limit: one Lua script per
request trims the caller's log, counts it and adds the request, atomically, on the
server's clock. Like the record cache (``gateway.redis_cache``), Redis is never a
dependency: while it fails, each process limits on its own (``fallback``), one
warning is logged, and Redis is tried again at most every ``retry_after_s``.

Example::

    limits = load_rate_limits(policy_dir())   # the bundled rules (policies package)
    limiter = MemoryRateLimiter(limits)
    verdict = await limiter.hit(caller_key(None, ("203.0.113.7", 51000)), "public")
    if not verdict.allowed:
        ...  # 429, Retry-After: verdict.retry_after
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import logging
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.config import ROLES
from gateway.redis_availability import RedisAvailability
from gateway.rules_files import IN_DATABASE

__all__ = ["FILE", "MemoryRateLimiter", "RateLimit", "RateLimiter", "RateLimits",
           "RateLimitsError", "RedisRateLimiter", "Verdict", "caller_key", "load_rate_limits",
           "open_rate_limiter"]

log = logging.getLogger(__name__)

FILE = "rate_limits.yaml"
MAX_WINDOW_S = 86_400
# roles added after rate-limit files were written; absent, they get the public's limit
_LIKE_PUBLIC = frozenset({"enterprise"})
# ... and a supervisor (督办) like its departments
_LIKE_DEPARTMENT = frozenset({"supervisor"})


# --- the policy file ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RateLimit:
    """``requests`` per ``window_s`` seconds for every caller of ``role``."""

    role: str
    requests: int
    window_s: int

    def __str__(self) -> str:
        return f"{self.requests} requests per {self.window_s} s"


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limit of every role (``ROLES``)."""

    by_role: Mapping[str, RateLimit]

    def of(self, role: str) -> RateLimit:
        return self.by_role[role]


class RateLimitsError(ValueError):
    """``rate_limits.yaml`` is missing or invalid; ``problems`` name the file and field.
    (A ``ValueError``, as a bad start option is: ``gateway serve`` reports it and
    exits with 2.)"""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid rate limits:\n  " + "\n  ".join(problems))
        self.problems = problems


def _whole(path: str, where: str, value: Any, low: int, high: int,
           problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{path}: {where}: must be a whole number from {low} to {high}, "
                        f"got {value!r}")
        return low
    return value


def load_rate_limits(source: Path | Mapping[str, str]) -> RateLimits:
    """The limits in ``source/rate_limits.yaml`` (``source`` the policies folder) or in
    ``source["rate_limits.yaml"]`` (the texts by file name: the platform database's
    documents); ``RateLimitsError`` lists every problem."""
    problems: list[str] = []
    if isinstance(source, Path):
        path = str(source / FILE)
        try:
            text = (source / FILE).read_text(encoding="utf-8")
        except OSError as error:
            raise RateLimitsError([f"{path}: missing or unreadable ({error.strerror})"]
                                  ) from None
    else:
        path = f"{FILE} {IN_DATABASE}"
        found = source.get(FILE)
        if found is None:
            raise RateLimitsError([f"{path}: missing"])
        text = found
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise RateLimitsError([f"{path}: is not valid YAML"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("roles"), dict):
        raise RateLimitsError([f"{path}: roles: required, a mapping of each role to "
                               "{requests: N, window_s: SECONDS}"])
    problems += [f"{path}: {key}: unknown key (known: roles)" for key in document
                 if key != "roles"]
    roles: dict[Any, Any] = document["roles"]
    problems += [f"{path}: roles.{role}: unknown role (roles: {', '.join(ROLES)})"
                 for role in roles if role not in ROLES]
    limits = {}
    for role in ROLES:
        raw = roles.get(role)
        if raw is None and role in _LIKE_PUBLIC and isinstance(roles.get("public"), dict):
            raw = roles["public"]  # a file written before the role existed: the public's
        if raw is None and role in _LIKE_DEPARTMENT and isinstance(roles.get("department"),
                                                                   dict):
            raw = roles["department"]
        if not isinstance(raw, dict):
            problems.append(f"{path}: roles.{role}: required, {{requests: N, window_s: SECONDS}}"
                            f", got {raw!r}")
            continue
        problems += [f"{path}: roles.{role}.{key}: unknown key (known: requests, window_s)"
                     for key in raw if key not in ("requests", "window_s")]
        limits[role] = RateLimit(
            role,
            _whole(path, f"roles.{role}.requests", raw.get("requests"), 1, 10**9, problems),
            _whole(path, f"roles.{role}.window_s", raw.get("window_s"), 1, MAX_WINDOW_S,
                   problems),
        )
    if problems:
        raise RateLimitsError(problems)
    return RateLimits(limits)


# --- callers and verdicts ---------------------------------------------------------------

def caller_key(principal: str | None, client: tuple[str, int] | None) -> str:
    """What a caller is counted under: ``principal:<id>``, or for the public
    ``client:<address>`` from the ASGI scope's ``client`` (``client:unknown`` without
    one). An IPv6 address counts by its /64 network: one host usually holds all of
    it, and would otherwise get a fresh limit per address."""
    if principal is not None:
        return f"principal:{principal}"
    if client is None:
        return "client:unknown"
    host = client[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"client:{host}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"client:{address.ipv4_mapped}"
        return f"client:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"client:{address}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request is within ``limit``; when not, ``retry_after_s`` is how long
    until the caller's oldest counted request leaves the window."""

    allowed: bool
    limit: RateLimit
    retry_after_s: float = 0.0

    @property
    def retry_after(self) -> int:
        """``retry_after_s`` for the ``Retry-After`` header: whole seconds, at least 1."""
        return max(1, math.ceil(self.retry_after_s))

    @property
    def message(self) -> str:
        per = "client address" if self.limit.role == "public" else "API key"
        return (f"Rate limit exceeded: the {self.limit.role} role may make {self.limit} "
                f"per {per}. Retry after {self.retry_after} s.")


class RateLimiter(Protocol):
    """Counts requests per caller key against the role's limit."""

    async def hit(self, key: str, role: str) -> Verdict:
        """Count one request of ``key`` (a ``caller_key``) if its role's limit allows
        it, and say whether it did."""
        ...

    def use(self, limits: RateLimits) -> None:
        """Count against ``limits`` from the next request on (a new policy version);
        the requests already counted stay counted."""
        ...


# --- in process --------------------------------------------------------------------------

class _Log:
    __slots__ = ("stamps", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.stamps: deque[float] = deque()


class MemoryRateLimiter:
    """Sliding-window logs in this process, ``clock`` in seconds (monotonic).

    Memory is bounded: a caller's log holds at most its limit, callers idle for their
    window are forgotten at the next request, and past ``max_callers`` the least
    recently allowed caller is forgotten (its count starts again).
    """

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic,
                 max_callers: int = 100_000) -> None:
        self._limits = limits
        self._clock = clock
        self._max = max_callers
        self._logs: OrderedDict[str, _Log] = OrderedDict()  # least recently allowed first

    def __len__(self) -> int:
        """Callers remembered now."""
        return len(self._logs)

    async def hit(self, key: str, role: str) -> Verdict:
        return self.hit_now(key, role)

    def use(self, limits: RateLimits) -> None:
        self._limits = limits

    def hit_now(self, key: str, role: str) -> Verdict:
        """``hit`` without awaiting."""
        limit = self._limits.of(role)
        now = self._clock()
        self._forget_idle(now)
        entry = self._logs.get(key)
        if entry is None:
            entry = self._logs[key] = _Log(limit.window_s)
        entry.window_s = limit.window_s
        stamps = entry.stamps
        horizon = now - limit.window_s
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        if len(stamps) >= limit.requests:
            oldest = stamps[len(stamps) - limit.requests]  # the one that must leave
            return Verdict(False, limit, oldest + limit.window_s - now)
        stamps.append(now)
        self._logs.move_to_end(key)
        return Verdict(True, limit)

    def _forget_idle(self, now: float) -> None:
        logs = self._logs
        while logs:
            key, first = next(iter(logs.items()))
            idle = not first.stamps or first.stamps[-1] <= now - first.window_s
            if not idle and len(logs) < self._max:
                return
            del logs[key]


# --- in Redis --------------------------------------------------------------------------

# KEYS[1] the caller's log (a sorted set of request ids scored by time in ms);
# ARGV: requests, window in ms, this request's id. Returns {1, 0} when the request is
# counted, {0, ms until a request may be} when not. The server's clock, so that
# replicas with skewed clocks still share one window.
_HIT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""

_ERRORS = (RedisError, OSError)  # OSError covers socket errors and TimeoutError


class RedisRateLimiter:
    """Sliding-window logs in Redis under ``{namespace}:{SHA-256 of the caller key}``
    (no address or principal id in key names or values); each expires one window
    after the caller's last allowed request.

    ``client`` should fail fast (the record cache's client does: 0.5 s timeouts); it
    is shared, not closed here. While Redis fails, ``fallback`` limits in process.
    """

    def __init__(self, client: Redis, limits: RateLimits, *, fallback: MemoryRateLimiter,
                 namespace: str = "rg:rate", retry_after_s: float = 1.0) -> None:
        self._limits = limits
        self._fallback = fallback
        self._namespace = namespace
        self._script = client.register_script(_HIT)
        self._ids = itertools.count()
        self._process = secrets.token_hex(6)  # request ids: unique across processes
        self._redis = RedisAvailability(
            retry_after_s, logger=log, back="Redis is back; rate limits are shared again",
            down="Redis rate limiter unavailable (%s: %s); limiting in process, retrying "
                 "every %g s")

    def use(self, limits: RateLimits) -> None:
        self._limits = limits
        self._fallback.use(limits)

    @property
    def available(self) -> bool:
        """False from a Redis failure until Redis answers again."""
        return self._redis.available

    def key(self, caller: str) -> str:
        """The Redis key of ``caller``'s log."""
        return f"{self._namespace}:{hashlib.sha256(caller.encode()).hexdigest()[:32]}"

    async def hit(self, key: str, role: str) -> Verdict:
        started = time.monotonic()
        if not self._redis.should_try(started):
            return self._fallback.hit_now(key, role)
        limit = self._limits.of(role)
        try:
            counted, wait_ms = await self._script(
                keys=[self.key(key)],
                args=[limit.requests, limit.window_s * 1000,
                      f"{self._process}:{next(self._ids)}"])
        except _ERRORS as error:
            self._redis.failed(error)
            return self._fallback.hit_now(key, role)
        self._redis.answered(started)
        if counted:
            return Verdict(True, limit)
        return Verdict(False, limit, max(0, int(wait_ms)) / 1000)


def open_rate_limiter(limits: RateLimits, redis: Redis | None) -> RateLimiter:
    """The app's limiter: in Redis on ``redis`` (with an in-process fallback), or in
    process when there is no Redis."""
    memory = MemoryRateLimiter(limits)
    return memory if redis is None else RedisRateLimiter(redis, limits, fallback=memory)
