"""Rate limits per caller and role (``gateway.rate_limits``): sliding windows in process
and in a real Redis, 429 over real HTTP, one limit shared by two gateway processes,
and limits that hold while Redis is down."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from conftest import ADMIN, RedisServer, ServerThread, free_port
from gateway.app import AppOptions, create_app
from gateway.config import ROLES, load_config
from gateway.policy_files import DEFAULT_POLICY_DIR
from gateway.rate_limits import (
    MemoryRateLimiter,
    RateLimit,
    RateLimits,
    RateLimitsError,
    RedisRateLimiter,
    caller_key,
    load_rate_limits,
)

ROOT = Path(__file__).resolve().parents[2]
QUERY = {"query": "{ __typename }"}


def limits(**by_role: tuple[int, int]) -> RateLimits:
    """Every role at 100 per 60 s, but those given as (requests, window_s)."""
    return RateLimits({role: RateLimit(role, *by_role.get(role, (100, 60))) for role in ROLES})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def small_policies(tmp_path: Path, public: int = 3, admin: int = 5, window_s: int = 60) -> Path:
    """The project's policies with small limits for the public and admin roles."""
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    (folder / "rate_limits.yaml").write_text(f"""
roles:
  public: {{requests: {public}, window_s: {window_s}}}
  department: {{requests: 100, window_s: 60}}
  approval: {{requests: 100, window_s: 60}}
  auditor: {{requests: 100, window_s: 60}}
  admin: {{requests: {admin}, window_s: {window_s}}}
""", encoding="utf-8")
    return folder


def post(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/graphql", json=QUERY, headers=headers or {}, timeout=15)


def assert_rate_limited(response: httpx.Response, window_s: int = 60) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window_s
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED"}
    assert f"per {window_s} s" in error["message"]
    assert f"Retry after {response.headers['retry-after']} s" in error["message"]


# --- the policy file ---------------------------------------------------------------------

def test_the_shipped_limits_name_every_role() -> None:
    shipped = load_rate_limits(DEFAULT_POLICY_DIR)
    assert set(shipped.by_role) == set(ROLES)
    assert shipped.of("public") == RateLimit("public", 60, 60)
    assert shipped.of("department").requests > shipped.of("public").requests


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("public: {requests: 3,", "public: {requests: 0,",
         "roles.public.requests: must be a whole number from 1"),
        ("admin: {requests: 5, window_s: 60}", "admin: {requests: 5, window_s: 100000}",
         "roles.admin.window_s: must be a whole number from 1 to 86400"),
        ("auditor: {requests: 100, window_s: 60}", "auditor: {requests: ten, window_s: 60}",
         "roles.auditor.requests: must be a whole number"),
        ("  auditor: {requests: 100, window_s: 60}\n", "",
         "roles.auditor: required"),
        ("  auditor:", "  guest: {requests: 1, window_s: 1}\n  auditor:",
         "roles.guest: unknown role"),
        ("public: {requests: 3,", "public: {request: 3,",
         "roles.public.request: unknown key"),
        ("roles:", "roles: [", "rate_limits.yaml: is not valid YAML"),
        ("roles:", "limits:", "rate_limits.yaml: roles: required"),
    ],
)
def test_a_bad_rate_limits_file_is_located(tmp_path: Path, old: str, new: str,
                                           message: str) -> None:
    path = small_policies(tmp_path) / "rate_limits.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RateLimitsError) as caught:
        load_rate_limits(path.parent)
    assert any(str(path) in problem and message in problem
               for problem in caught.value.problems), caught.value.problems


def test_a_missing_rate_limits_file_is_located(tmp_path: Path) -> None:
    folder = small_policies(tmp_path)
    (folder / "rate_limits.yaml").unlink()
    with pytest.raises(RateLimitsError, match=r"rate_limits\.yaml: missing or unreadable"):
        load_rate_limits(folder)


def test_serve_refuses_to_start_on_a_bad_rate_limits_file(
    tmp_path: Path, user_agencies: dict[str, Any]
) -> None:
    folder = small_policies(tmp_path)
    path = folder / "rate_limits.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("requests: 3", "requests: -1"),
                    encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(user_agencies["config"]),
         "--policies", str(folder), "--port", str(free_port())],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert f"{path}: roles.public.requests: must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr


# --- in process ----------------------------------------------------------------------------

async def test_a_caller_gets_its_limit_then_waits_until_its_oldest_request_leaves() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(limits(public=(3, 10)), clock=clock)
    for _ in range(3):
        assert (await limiter.hit("client:203.0.113.7", "public")).allowed
        clock.now += 1  # requests at 1000, 1001, 1002
    clock.now = 1002.5
    refused = await limiter.hit("client:203.0.113.7", "public")
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(7.5)  # 1000 leaves the window at 1010
    assert refused.retry_after == 8
    assert "3 requests per 10 s per client address" in refused.message
    clock.now = 1009.9
    assert not (await limiter.hit("client:203.0.113.7", "public")).allowed
    clock.now = 1010.0
    assert (await limiter.hit("client:203.0.113.7", "public")).allowed


async def test_the_window_slides_one_request_at_a_time() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(limits(admin=(3, 10)), clock=clock)
    for at in (1000, 1004, 1008):
        clock.now = at
        assert (await limiter.hit("principal:ops", "admin")).allowed
    clock.now = 1010  # 1000 has left: one more, not three
    assert (await limiter.hit("principal:ops", "admin")).allowed
    refused = await limiter.hit("principal:ops", "admin")
    assert not refused.allowed and refused.retry_after_s == pytest.approx(4)  # until 1014
    clock.now = 1018  # 1004 and 1008 have left
    assert (await limiter.hit("principal:ops", "admin")).allowed
    assert (await limiter.hit("principal:ops", "admin")).allowed
    assert not (await limiter.hit("principal:ops", "admin")).allowed


async def test_refused_requests_do_not_count() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(limits(public=(2, 10)), clock=clock)
    assert (await limiter.hit("client:a", "public")).allowed
    assert (await limiter.hit("client:a", "public")).allowed
    for _ in range(50):  # hammering the closed door
        clock.now += 0.1
        assert not (await limiter.hit("client:a", "public")).allowed
    clock.now = 1010
    assert (await limiter.hit("client:a", "public")).allowed


def test_principals_and_client_addresses_are_separate_callers() -> None:
    assert caller_key("tax-app", ("10.0.0.1", 5000)) == "principal:tax-app"
    assert caller_key(None, ("203.0.113.7", 5000)) == "client:203.0.113.7"
    assert caller_key(None, ("::ffff:203.0.113.7", 5000)) == "client:203.0.113.7"
    # one IPv6 host holds a /64: its addresses are one client, another /64 another
    assert (caller_key(None, ("2001:db8:1:2::1", 1)) == caller_key(None, ("2001:db8:1:2::ff", 1))
            == "client:2001:db8:1:2::/64")
    assert caller_key(None, ("2001:db8:1:3::1", 1)) != caller_key(None, ("2001:db8:1:2::1", 1))
    assert caller_key(None, None) == "client:unknown"


async def test_each_caller_has_its_own_count() -> None:
    limiter = MemoryRateLimiter(limits(public=(2, 60), department=(2, 60)), clock=Clock())
    callers = [("client:203.0.113.7", "public"), ("client:203.0.113.8", "public"),
               ("principal:tax-app", "department"), ("principal:fda-app", "department")]
    for key, role in callers:
        assert (await limiter.hit(key, role)).allowed
        assert (await limiter.hit(key, role)).allowed
    for key, role in callers:
        assert not (await limiter.hit(key, role)).allowed


async def test_each_role_has_its_own_limit() -> None:
    limiter = MemoryRateLimiter(limits(public=(2, 60), department=(5, 60), auditor=(3, 30)),
                                clock=Clock())
    for key, role, allowed in (("client:x", "public", 2), ("principal:d", "department", 5),
                               ("principal:a", "auditor", 3)):
        verdicts = [await limiter.hit(key, role) for _ in range(allowed + 1)]
        assert [v.allowed for v in verdicts] == [True] * allowed + [False]
        assert verdicts[-1].limit == limits(public=(2, 60), department=(5, 60),
                                            auditor=(3, 30)).of(role)


async def test_idle_callers_are_forgotten_and_callers_are_bounded() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(limits(public=(2, 10)), clock=clock, max_callers=100)
    for n in range(50):
        await limiter.hit(f"client:{n}", "public")
    assert len(limiter) == 50
    clock.now += 10  # all idle for their window
    await limiter.hit("client:new", "public")
    assert len(limiter) == 1
    for n in range(500):
        await limiter.hit(f"client:{n}", "public")
        assert len(limiter) <= 100


# --- in Redis ----------------------------------------------------------------------------------

@pytest.fixture
async def redis_client(private_redis: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    yield client
    await client.aclose()


def redis_limiter(client: Redis, rate_limits: RateLimits, retry_after_s: float = 1.0
                  ) -> RedisRateLimiter:
    return RedisRateLimiter(client, rate_limits, fallback=MemoryRateLimiter(rate_limits),
                            retry_after_s=retry_after_s)


async def test_redis_limiters_share_one_sliding_window(
    private_redis: RedisServer, redis_client: Redis
) -> None:
    """Two limiters on two clients (as two processes): one count, one window of 1 s."""
    other = Redis.from_url(private_redis.url, socket_timeout=0.5)
    try:
        rate_limits = limits(public=(4, 1))
        first, second = redis_limiter(redis_client, rate_limits), redis_limiter(other, rate_limits)
        verdicts = [await limiter.hit("client:203.0.113.7", "public")
                    for limiter in (first, second, first, second, first, second)]
        assert [v.allowed for v in verdicts] == [True] * 4 + [False] * 2
        assert 0 < verdicts[-1].retry_after_s <= 1 and verdicts[-1].retry_after == 1
        assert (await first.hit("client:203.0.113.8", "public")).allowed  # another client
        await asyncio.sleep(verdicts[-1].retry_after_s + 0.05)  # from the refusal on
        assert (await second.hit("client:203.0.113.7", "public")).allowed  # the first left
        assert first.available and second.available
    finally:
        await other.aclose()


async def test_redis_keys_name_no_caller_and_expire_with_the_window(
    private_redis: RedisServer, redis_client: Redis
) -> None:
    limiter = redis_limiter(redis_client, limits(public=(5, 30), admin=(5, 30)))
    await limiter.hit("client:203.0.113.7", "public")
    await limiter.hit("principal:tax-app", "admin")
    with private_redis.sync_client() as client:
        keys = sorted(client.scan_iter(match="*"))
        assert len(keys) == 2 and all(k.startswith(b"rg:rate:") for k in keys)
        for key in keys:
            assert b"203.0.113" not in key and b"tax-app" not in key
            members = client.zrange(key, 0, -1)
            assert not any(b"203.0.113" in m or b"tax-app" in m for m in members)
            assert 29_000 < client.pttl(key) <= 30_000


async def test_redis_down_limits_in_process_and_shares_again_when_back(
    private_redis: RedisServer, redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = redis_limiter(redis_client, limits(public=(3, 60)), retry_after_s=0.2)
    assert (await limiter.hit("client:a", "public")).allowed
    private_redis.kill()
    with caplog.at_level(logging.WARNING, logger="gateway.rate_limits"):
        verdicts = [await limiter.hit("client:a", "public") for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True] * 3 + [False] * 2  # counted in process
    assert not limiter.available
    warnings = [r for r in caplog.records if r.name == "gateway.rate_limits"]
    assert len(warnings) == 1 and "limiting in process" in warnings[0].getMessage()

    private_redis.start()  # the same port, empty
    deadline = time.monotonic() + 10
    while not limiter.available:
        assert time.monotonic() < deadline, "the limiter did not go back to Redis"
        await asyncio.sleep(0.25)
        await limiter.hit("client:b", "public")
    assert (await limiter.hit("client:a", "public")).allowed  # Redis counts afresh
    with private_redis.sync_client() as client:
        assert client.zcard(limiter.key("client:a")) == 1


# --- over HTTP ---------------------------------------------------------------------------------

def test_over_its_limit_a_caller_gets_429_with_retry_after_and_rate_limited(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], tmp_path: Path
) -> None:
    app = create_app(load_config(user_agencies["config"]),
                     AppOptions(policy_dir=small_policies(tmp_path, public=3, admin=5)))
    server = serve(app)
    for _ in range(3):
        assert post(server.url).status_code == 200  # answered from the answer cache too
    assert_rate_limited(post(server.url))
    # a principal is counted apart, under its role's limit
    assert [post(server.url, ADMIN).status_code for _ in range(6)] == [200] * 5 + [429]
    assert_rate_limited(post(server.url, ADMIN))
    # a proxy on an address uvicorn trusts (FORWARDED_ALLOW_IPS, by default the
    # loopback) gives each client behind it its own count
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    assert [post(server.url, forwarded).status_code for _ in range(4)] == [200] * 3 + [429]
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200  # not limited


def test_x_forwarded_for_is_not_trusted_by_the_gateway_itself(
    user_agencies: dict[str, Any], tmp_path: Path
) -> None:
    """With uvicorn's proxy headers off, a client naming other addresses is one client."""
    app = create_app(load_config(user_agencies["config"]),
                     AppOptions(policy_dir=small_policies(tmp_path, public=2)))
    server = ServerThread(app)
    server.server.config.proxy_headers = False
    server.start()
    try:
        statuses = [post(server.url, {"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                    for n in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        server.stop()


def test_limits_can_be_turned_off_and_hold_without_a_reachable_redis(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], tmp_path: Path
) -> None:
    config = load_config(user_agencies["config"])
    policies = small_policies(tmp_path, public=2)
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    limited = serve(create_app(config, AppOptions(policy_dir=policies, redis_url=unreachable)))
    assert [post(limited.url).status_code for _ in range(3)] == [200, 200, 429]
    unlimited = serve(create_app(config, AppOptions(policy_dir=policies, rate_limits=False)))
    assert {post(unlimited.url).status_code for _ in range(5)} == {200}


@pytest.fixture
def gateway_processes() -> Iterator[Callable[..., str]]:
    """Start ``gateway serve`` processes; each is stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> str:
        port = free_port()
        started.append(subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), *args],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not become ready"
        time.sleep(0.1)


def test_two_gateway_processes_sharing_redis_enforce_one_limit(
    user_agencies: dict[str, Any], tmp_path: Path, private_redis: RedisServer,
    gateway_processes: Callable[..., str],
) -> None:
    args = ("--config", str(user_agencies["config"]), "--no-graphiql",
            "--policies", str(small_policies(tmp_path, public=4, admin=3)),
            "--redis-url", private_redis.url)
    first, second = gateway_processes(*args), gateway_processes(*args)
    wait_ready(first)
    wait_ready(second)
    # two requests to each: within the shared limit of 4, though each saw only two
    assert [post(url).status_code for url in (first, second, first, second)] == [200] * 4
    assert_rate_limited(post(first))  # each process alone has seen only two
    assert_rate_limited(post(second))
    # a principal too: 3 in all, whichever process answers
    assert [post(url, ADMIN).status_code for url in (second, first, second, first)] == (
        [200] * 3 + [429])
    with private_redis.sync_client() as client:
        assert len(list(client.scan_iter(match="rg:rate:*"))) == 2  # one client, one principal
