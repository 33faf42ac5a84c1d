"""Shared fixtures: real servers on 127.0.0.1, real SQLite files and CSV folders."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
import redis
import uvicorn

Rows = Sequence[Mapping[str, Any]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """A uvicorn server for an ASGI app, in a thread, on a free loopback port."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="auto", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    """Start ASGI apps on real loopback ports; all are stopped after the test."""
    started: list[ServerThread] = []

    def start(app: Any, port: int | None = None) -> ServerThread:
        server = ServerThread(app, port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def write_sqlite(path: Path, tables: Mapping[str, Rows]) -> Path:
    """A real SQLite file with one table per entry (TEXT columns from the first row)."""
    with sqlite3.connect(path) as db:
        for table, rows in tables.items():
            columns = list(rows[0])
            db.execute(f'CREATE TABLE "{table}" ({", ".join(f"{c} TEXT" for c in columns)})')
            marks = ", ".join("?" for _ in columns)
            db.executemany(f'INSERT INTO "{table}" VALUES ({marks})',
                           [[row.get(c) for c in columns] for row in rows])
    return path


def write_csv(path: Path, rows: Rows, *, bom: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


# --- a user's own agencies: their SQLite file, CSV folder and HTTP service ---------

def _code(body: str) -> str:
    from connectors.credit_code import with_check_char

    return with_check_char(body)


ACME = _code("91110102MA0000001")
BETA = _code("91110102MA0000002")
GAMMA = _code("91110105MA0000003")


def h(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()


ADMIN = {"Authorization": "Bearer test-admin-key"}


def _shipped_actions() -> Mapping[str, Any]:
    from gateway.policy_files import DEFAULT_POLICY_DIR
    from gateway.rules_files import load_rules

    return load_rules(DEFAULT_POLICY_DIR).actions


# the shipped restriction catalogue, for build_schema(actions=ACTIONS)
ACTIONS = _shipped_actions()


def _common(record_id: str, code: str, openness: str = "OPEN", risk: str = "") -> dict[str, Any]:
    return {"record_id": record_id, "credit_code": code, "openness": openness, "risk_level": risk}


def _enterprise(code: str, name: str, person: str, district: str, status: str) -> dict[str, Any]:
    return {
        "record_id": f"E-{code[-4:]}", "credit_code": code, "openness": "完全开放",
        "risk_level": None, "qymc": name, "entity_type": "有限责任公司",
        "legal_rep_id": person, "legal_rep_name": "张三" if person == "P1" else "李四",
        "registered_capital": "100", "established_on": "2019-03-01", "status": status,
        "address": "北京市西城区金融大街1号", "district_code": district, "industry": "餐饮业",
        "registering_agency": "北京市西城区市场监督管理局",
    }


@pytest.fixture
def user_agencies(tmp_path: Path, serve: Callable[..., ServerThread]) -> dict[str, Any]:
    """Three agencies of three kinds, with renames, following the collection standard."""
    from gateway.demo.agency_service import create_agency_app

    registry = write_sqlite(tmp_path / "registry.db", {
        "qyjbxx": [
            _enterprise(ACME, "北京甲餐饮有限公司", "P1", "110102", "ACTIVE"),
            _enterprise(BETA, "北京乙科技有限公司", "P1", "110102", "ACTIVE"),
            _enterprise(GAMMA, "北京丙贸易有限公司", "P2", "110105", "REVOKED"),
        ],
        "person": [
            {"record_id": "PR-1", "person_id": "P1", "name": "张三", "id_number": "x",
             "openness": "OPEN", "risk_level": None},
            {"record_id": "PR-2", "person_id": "P2", "name": "李四", "id_number": "y",
             "openness": "OPEN", "risk_level": None},
        ],
        "xzcf": [
            {**_common("SAMR-1", ACME, "OPEN", "MEDIUM"), "person_id": None,
             "wsh": "西市监罚〔2026〕1号", "violation_type": "食品安全",
             "penalty_type": "FINE", "content": "罚款", "amount": "5000",
             "decided_on": "2026-03-01", "published_on": "2026-03-05", "repaired_on": None},
            {**_common("SAMR-2", ACME, "OPEN", "LOW"), "person_id": "P1",
             "wsh": "西市监罚〔2026〕2号", "violation_type": "虚假宣传",
             "penalty_type": "WARNING", "content": "警告", "amount": None,
             "decided_on": "2026-04-01", "published_on": None, "repaired_on": None},
        ],
    })
    epb = tmp_path / "epb"
    write_csv(epb / "penalty.csv", [
        {**_common("EPB-1", ACME, "有条件开放", "高"), "decision_no": "西环罚〔2025〕9号",
         "violation_type": "超标排放", "penalty_type": "FINE", "content": "罚款",
         "amount": "200000", "decided_on": "2025-11-02", "published_on": "2025-11-10",
         "repaired_on": "", "extra_column": "ignored"},
        {**_common("EPB-2", BETA, "OPEN", "LOW"), "decision_no": "西环罚〔2026〕3号",
         "violation_type": "未批先建", "penalty_type": "FINE", "content": "罚款",
         "amount": "1,000", "decided_on": "2026-02-30", "published_on": "",
         "repaired_on": "", "extra_column": ""},
    ])
    write_csv(epb / "xkz.csv", [
        {**_common("EPB-L1", ACME), "licence_no": "91110102PW001", "licence_name": "排污许可证",
         "content": "废水", "valid_from": "2024-01-01", "valid_to": "2029-01-01",
         "status": "VALID"},
    ])
    court = create_agency_app({
        "judgment_default": [
            {**_common("COURT-1", ACME, "OPEN", "HIGH"), "person_id": None,
             "court": "北京市西城区人民法院", "case_no": "(2025)京0102执1号",
             "obligation": "支付货款", "performance": "全部未履行",
             "listed_on": "2025-06-01", "removed_on": None},
            {**_common("COURT-2", GAMMA, "OPEN", "HIGH"), "person_id": "P1",
             "court": "北京市西城区人民法院", "case_no": "(2025)京0102执2号",
             "obligation": "支付工资", "performance": "部分履行",
             "listed_on": "2025-07-01", "removed_on": None},
        ]
    })
    court_server = serve(court)
    config = tmp_path / "agencies.yaml"
    config.write_text(f"""
agencies:
  - code: REG
    name: 登记机关
    kind: sql
    url: sqlite+aiosqlite:///{registry.name}
    provides: [enterprise, person, penalty]
    tables: {{enterprise: qyjbxx, penalty: xzcf}}
    columns: {{enterprise: {{name: qymc}}, penalty: {{decision_no: wsh}}}}
    timeout_s: 2
  - code: EPB
    name: 生态环境局
    kind: csv
    path: epb
    provides: [penalty, licence]
    tables: {{licence: xkz}}
  - code: COURT
    name: 人民法院
    kind: http
    base_url: {court_server.url}
    provides: [judgment_default]
    timeout_s: 1
    cache_ttl_s: 0.5
    stale_if_error_s: 300
principals:
  - id: test-admin
    key_sha256: "{h("test-admin-key")}"
    role: admin
  - id: test-reg-department
    key_sha256: "{h("test-reg-key")}"
    role: department
    agency: REG
    purposes: [INSPECTION]
""", encoding="utf-8")
    return {"config": config, "court": court, "court_server": court_server, "dir": tmp_path}


# --- the demo district, generated once per test session -----------------------------

# The day the session's demo is generated for: a fixed day, so tests may name its
# records; tests that compute warnings pin the runtime's today to it where it matters
# (tests/gateway/demo/test_any_day.py covers the demo generated on any day).
DEMO_DAY = dt.date(2026, 11, 1)


class Demo:
    """The demo district's files, its HTTP agencies on a real port, and its config."""

    def __init__(self, data_dir: Path, sources_app: Any, sources_url: str,
                 showcase: str, showcase_person: str) -> None:
        from gateway.config import load_config
        from gateway.demo.writer import write_config

        self.data_dir = data_dir
        self.sources_app = sources_app
        self.config = load_config(write_config(data_dir, http_base_url=sources_url))
        self.showcase = showcase
        self.showcase_person = showcase_person

    def agency(self, name: str) -> Any:
        """The HTTP agency app (``court`` or ``fire``) for its control and stats."""
        return self.sources_app.state.agencies[name]


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    from gateway.demo.generate import generate_district
    from gateway.demo.writer import write_demo

    district = generate_district(as_of=DEMO_DAY)
    folder = tmp_path_factory.mktemp("demo")
    write_demo(district, folder, http_base_url="http://127.0.0.1:1/unused")
    return folder, district.showcase_credit_code, district.showcase_person_id


@pytest.fixture
def demo(demo_files: tuple[Path, str, str], serve: Callable[..., ServerThread]) -> Demo:
    from gateway.demo.agency_service import create_sources_app, load_rows

    folder, showcase, person = demo_files
    rows = {name: load_rows(folder / f"{name}.json") for name in ("court", "fire")}
    app = create_sources_app(rows)
    server = serve(app)
    return Demo(folder, app, server.url, showcase, person)


# --- the machine's PostgreSQL and Redis --------------------------------------------------
#
# A test that needs one is marked ``@pytest.mark.postgres`` / ``@pytest.mark.redis`` (or
# gets a fixture parameter so marked). Each service is checked once per session; when it
# cannot be reached the test is skipped with a one-line reason, or fails with that line
# when GATEWAY_TEST_SERVICES=required (.ci/run sets it: CI never skips them silently).

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL",
                              "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SERVICES_VARIABLE = "GATEWAY_TEST_SERVICES"
_CONNECT_TIMEOUT_S = 3.0


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it when the services are required."""
    if os.environ.get(SERVICES_VARIABLE) == "required":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _tcp_problem(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            return None
    except OSError as error:
        return _reason(error)


def _postgres_problem(url: str) -> str | None:
    import asyncpg
    from sqlalchemy import make_url

    parsed = make_url(url)
    problem = _tcp_problem(parsed.host or "127.0.0.1", parsed.port or 5432)
    if problem is not None:
        return problem

    async def connect() -> None:
        connection = await asyncpg.connect(
            parsed.set(drivername="postgresql").render_as_string(hide_password=False),
            timeout=_CONNECT_TIMEOUT_S)
        await connection.close()

    try:
        asyncio.run(connect())
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        return _reason(error)
    return None


def _redis_problem(url: str) -> str | None:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=_CONNECT_TIMEOUT_S,
                                  socket_timeout=_CONNECT_TIMEOUT_S) as client:
            client.ping()
    except redis.RedisError as error:
        return _reason(error)
    return None


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


_SERVICES: dict[str, tuple[str, str, Callable[[str], str | None]]] = {
    "postgres": ("PostgreSQL", POSTGRES_URL, _postgres_problem),
    "redis": ("Redis", REDIS_URL, _redis_problem),
}
_CHECKED = pytest.StashKey[dict[str, str | None]]()


def pytest_configure(config: pytest.Config) -> None:
    for marker, (name, url, _) in _SERVICES.items():
        config.addinivalue_line(
            "markers", f"{marker}: needs the {name} at {_where(url)} (skipped when it is not "
                       f"reachable, failed instead when {SERVICES_VARIABLE}=required)")
    config.stash[_CHECKED] = {}


def _require(config: pytest.Config, marker: str) -> str:
    """The service's URL when it is reachable (checked once per session); else skip or
    fail the test (``unavailable``)."""
    name, url, problem_of = _SERVICES[marker]
    checked = config.stash[_CHECKED]
    if marker not in checked:
        checked[marker] = problem_of(url)
    problem = checked[marker]
    if problem is not None:
        unavailable(f"{name} at {_where(url)} is not reachable: {problem}")
    return url


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in _SERVICES:
        if item.get_closest_marker(marker) is not None:
            _require(item.config, marker)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The machine's PostgreSQL (``GATEWAY_TEST_POSTGRES_URL``), checked reachable."""
    return _require(request.config, "postgres")


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """The machine's Redis (``GATEWAY_TEST_REDIS_URL``), checked reachable."""
    return _require(request.config, "redis")


# --- a private Redis server, for outages -----------------------------------------------

class RedisServer:
    """A private redis-server (no persistence) on a fixed loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        with redis.Redis(port=self.port, socket_timeout=1) as client:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def sync_client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.kill()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Put logging back as it was after each test: a command run in-process
    (``gateway.cli.main``) configures it with a handler on the test's captured
    stderr, which is closed once the test ends."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    before = {name: (lg.level, lg.handlers[:], lg.propagate, lg.disabled)
              for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    root_state = (root.level, root.handlers[:])
    yield
    root.setLevel(root_state[0])
    root.handlers[:] = root_state[1]
    for name, lg in list(manager.loggerDict.items()):
        if not isinstance(lg, logging.Logger):
            continue
        level, handlers, propagate, disabled = before.get(name, (logging.NOTSET, [], True,
                                                                 False))
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.disabled = disabled


REPOSITORY = Path(__file__).resolve().parents[1]
# the project's documents: README.md and the READMEs beside the code (not vendored files)
DOCUMENTS = sorted(
    path for path in {*REPOSITORY.glob("*.md"),
                      *(REPOSITORY / "policies").glob("*.md"),
                      *(REPOSITORY / "docker").glob("*.md"),
                      *(REPOSITORY / "connectors").rglob("*.md"),
                      *(REPOSITORY / "schema").rglob("*.md"),
                      *(REPOSITORY / "gateway").rglob("*.md"),
                      *(REPOSITORY / "tests" / "bench").glob("*.md")}
    if "static" not in path.relative_to(REPOSITORY).parts
)


def in_database(user_agencies: dict[str, Any], poll_s: float = 1.0) -> Path:
    """The ``user_agencies`` configuration with its access policy in the platform
    database (``policies: {store: database}``, polled every ``poll_s``) and a second
    department (EPB, key ``test-epb-key``)."""
    config: Path = user_agencies["config"]
    config.write_text(config.read_text(encoding="utf-8") + f"""  - id: test-epb-department
    key_sha256: "{h('test-epb-key')}"
    role: department
    agency: EPB
policies:
  store: database
  poll_s: {poll_s}
""", encoding="utf-8")
    return config


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema in the machine's PostgreSQL, dropped after the test."""
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield schema

    async def drop() -> None:
        engine = create_async_engine(postgres_url)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()

    asyncio.run(drop())
