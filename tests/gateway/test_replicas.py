"""Two ``gateway serve`` processes on one Redis and one PostgreSQL schema behave as one
(issue 14, "Must show"): records cached by one answer the other, one rate limit per
caller across both, one access-log chain that verifies, and a field-class change made
on one applies on the other within a second — by polling the database when Redis is
gone.

Real processes on loopback ports, a private redis-server (so it can be killed) and a
fresh schema in the machine's PostgreSQL (dropped afterwards).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ACME, ADMIN, RedisServer, free_port, h
from policies import policy_dir

pytestmark = pytest.mark.postgres

ENTERPRISE = """query($c: String!) { enterprise(creditCode: $c) {
  name address penalties(period: ALL) { recordId agency { code } }
  licences(period: ALL) { recordId } judgmentDefaults(period: ALL) { recordId } } }"""
ADDRESS = "query($c: String!) { enterprise(creditCode: $c) { name address } }"
SET_FIELD_CLASS = """mutation { setFieldClass(type: "Enterprise", field: "address",
  openness: CONDITIONAL) { type field openness } }"""
EPB_DEPARTMENT = {"Authorization": "Bearer test-epb-key"}  # sees REG's OPEN fields only
PUBLIC_LIMIT = 6  # requests per minute for the public role in these tests


class Replica:
    """``gateway serve`` in a subprocess on a free loopback port, its lines in a file."""

    def __init__(self, name: str, config: Path, policies: Path, redis_url: str,
                 folder: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
                 "--port", str(self.port), "--redis-url", redis_url,
                 "--policies", str(policies)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while True:
            assert self.process.poll() is None, f"{self.name} exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{self.name} not ready:\n{self.output()}"
            time.sleep(0.2)

    def post(self, query: str, headers: dict[str, str] | None = None,
             rid: str | None = None) -> httpx.Response:
        sent = {**(headers or {}), **({"X-Request-Id": rid} if rid else {})}
        return httpx.post(f"{self.url}/graphql", json={"query": query,
                                                      "variables": {"c": ACME}},
                          headers=sent, timeout=30)

    def agency_calls(self) -> float:
        """This process's agency calls so far (its /metrics, open to loopback)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("gateway_agency_calls_total{"))

    def stop(self) -> None:
        """SIGTERM, as an orchestrator stops a replica: its access-log entries are
        written before it exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then ends by the signal it was sent
        assert self.process.wait(timeout=60) in (0, -signal.SIGTERM), self.output()
        assert "Application shutdown complete." in self.output()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")




def _config(user_agencies: dict[str, Any], postgres_url: str, schema: str,
            policy_store: str) -> Path:
    """The user agencies' configuration with records cached a minute, a department of
    EPB, the platform database in ``schema`` and the policies kept in ``policy_store``."""
    source: Path = user_agencies["config"]
    text = source.read_text(encoding="utf-8").replace("cache_ttl_s: 0.5", "cache_ttl_s: 60")
    text = text.replace("principals:\n", f"""principals:
  - id: test-epb-department
    key_sha256: "{h("test-epb-key")}"
    role: department
    agency: EPB
""", 1)
    text += f"""
platform:
  database: {postgres_url}
  schema: {schema}
"""
    if policy_store == "database":
        text += "policies:\n  store: database\n  poll_s: 2\n"
    path = source.with_name("replicas.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def _policies(folder: Path) -> Path:
    """The bundled rules, the public role limited to ``PUBLIC_LIMIT`` requests a minute."""
    copy = folder / "policies"
    shutil.copytree(policy_dir(), copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    limits = copy / "rate_limits.yaml"
    text = limits.read_text(encoding="utf-8")
    old = "public:     {requests: 60, window_s: 60}"
    assert old in text
    limits.write_text(text.replace(old, f"public:     {{requests: {PUBLIC_LIMIT}, "
                                        f"window_s: 60}}"), encoding="utf-8")
    return copy


Replicas = Callable[..., tuple[Replica, Replica]]


@pytest.fixture
def replicas(user_agencies: dict[str, Any], private_redis: RedisServer, postgres_url: str,
             postgres_schema: str, tmp_path: Path) -> Iterator[Replicas]:
    """``start(policy_store="files")``: two replicas on one Redis and one schema."""
    started: list[Replica] = []

    def start(policy_store: str = "files") -> tuple[Replica, Replica]:
        config = _config(user_agencies, postgres_url, postgres_schema, policy_store)
        policies = _policies(tmp_path)
        pair = tuple(Replica(name, config, policies, private_redis.url, tmp_path)
                     for name in ("a", "b"))
        started.extend(pair)
        for replica in pair:
            replica.wait_ready()
        return pair[0], pair[1]

    yield start
    for replica in started:
        if replica.process.poll() is None:
            replica.process.kill()
            replica.process.wait(timeout=30)


def _audit(command: Sequence[str], config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "audit", *command,
                           "--config", str(config)],
                          capture_output=True, text=True, timeout=120)


def test_two_replicas_share_the_record_cache_the_rate_limits_and_one_access_log_chain(
    replicas: Replicas, user_agencies: dict[str, Any], tmp_path: Path
) -> None:
    a, b = replicas()
    court = user_agencies["court"].state.stats.queries
    first = a.post(ENTERPRISE, ADMIN, rid="replica-a-1")
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    court_calls = sum(court.values())
    calls_before = b.agency_calls()
    second = b.post(ENTERPRISE, ADMIN, rid="replica-b-1")
    assert second.json() == first.json()
    # b answered from what a put in Redis: no agency was called for it
    assert b.agency_calls() == calls_before
    assert sum(court.values()) == court_calls

    # one count per caller: the public role's requests, alternating, hit its limit
    # together (each replica alone would allow PUBLIC_LIMIT)
    statuses = [(a if n % 2 else b).post(ADDRESS, rid=f"replica-{'ab'[n % 2]}-public-{n}")
                .status_code for n in range(PUBLIC_LIMIT)]
    assert statuses == [200] * PUBLIC_LIMIT
    over = [a.post(ADDRESS, rid="replica-a-over"), b.post(ADDRESS, rid="replica-b-over")]
    assert [response.status_code for response in over] == [429, 429]
    assert over[0].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"

    for replica in (a, b):
        replica.stop()
    config = tmp_path / "replicas.yaml"
    verify = _audit(["verify"], config)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    exported = tmp_path / "access.jsonl"
    assert _audit(["export", "--out", str(exported)], config).returncode == 0
    entries = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    ids = {str(entry.get("entry", entry).get("request_id", "")) for entry in entries}
    asked = {"replica-a-1", "replica-b-1", "replica-a-over", "replica-b-over",
             *(f"replica-{'ab'[n % 2]}-public-{n}" for n in range(PUBLIC_LIMIT))}
    assert asked <= ids  # both processes' requests, in one chain
def _sees_address(replica: Replica) -> bool:
    """Whether EPB's department is shown REG's address of ACME on ``replica``."""
    response = replica.post(ADDRESS, EPB_DEPARTMENT)
    assert response.status_code == 200, response.text
    enterprise = (response.json().get("data") or {}).get("enterprise") or {}
    return bool(enterprise.get("address"))


def _seconds_until_hidden(replica: Replica, bound_s: float) -> float:
    """Seconds until ``replica`` no longer shows the address (polled every 50 ms);
    fails past ``bound_s``."""
    started = time.monotonic()
    while _sees_address(replica):
        elapsed = time.monotonic() - started
        assert elapsed <= bound_s, f"{replica.name} still shows the address after {elapsed:.1f} s"
        time.sleep(0.05)
    return time.monotonic() - started


def _set_field_class(replica: Replica) -> None:
    response = replica.post(SET_FIELD_CLASS, ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"setFieldClass": {
        "type": "Enterprise", "field": "address", "openness": "CONDITIONAL"}}}


def test_a_field_class_changed_on_one_replica_applies_on_the_other_within_a_second(
    replicas: Replicas,
) -> None:
    a, b = replicas(policy_store="database")
    assert _sees_address(a) and _sees_address(b)  # OPEN as seeded from policies/
    _set_field_class(a)
    assert not _sees_address(a)
    assert _seconds_until_hidden(b, bound_s=1.0) <= 1.0


def test_with_redis_killed_queries_succeed_and_a_policy_change_arrives_by_polling(
    replicas: Replicas, private_redis: RedisServer
) -> None:
    a, b = replicas(policy_store="database")
    assert _sees_address(b)
    private_redis.kill()
    for replica in (a, b):  # records from the agencies and memory, not Redis
        response = replica.post(ENTERPRISE, ADMIN)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    _set_field_class(a)
    # no notification can come: b finds the new version in the database (poll_s: 2)
    assert _seconds_until_hidden(b, bound_s=5.0) <= 5.0
