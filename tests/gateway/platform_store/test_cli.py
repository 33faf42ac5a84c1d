"""``gateway audit verify`` and ``gateway audit export``, and ``gateway check-config``
on the platform database, as commands in their own process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from platform_db import BACKENDS, ROOT, migrated, platform_database, write_entries

from conftest import write_sqlite
from gateway.audit_cli import _Progress, _when
from gateway.platform_store.chain import link_hash
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.store import PlatformStore
from gateway.platform_store.tables import access_log


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PlatformStore]:
    """A log of 60 entries, one second apart from 2026-12-01 09:00:01 UTC."""
    async with platform_database(request.param, tmp_path) as settings, \
            migrated(settings) as store:
        await write_entries(store, range(1, 61))
        yield store


def config_for(settings: PlatformSettings, folder: Path) -> Path:
    path = folder / "gateway.yaml"
    schema = f"\n  schema: {settings.schema}" if settings.schema else ""
    path.write_text(f"""
agencies:
  - code: SAMR
    name: 市场监督管理局
    kind: sql
    url: sqlite+aiosqlite:///samr.db
    provides: [enterprise]
platform:
  database: {settings.database}{schema}
""", encoding="utf-8")
    return path


def gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


async def head_hash(store: PlatformStore) -> str:
    async with store.engine.connect() as conn:
        value = await conn.scalar(sa.select(access_log.c.entry_hash)
                                  .order_by(access_log.c.id.desc()).limit(1))
    return str(value)


async def test_cli_verify_and_export(store: PlatformStore, tmp_path: Path) -> None:
    config = str(config_for(store.settings, tmp_path))
    ok = gateway("audit", "verify", "--config", config)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("intact: 60 entries\nhead: entry 60, hash "
                                f"{await head_hash(store)}")
    out = tmp_path / "log.jsonl"
    # entries are one second apart from 09:00:01: the first 20 are before 09:00:21
    exported = gateway("audit", "export", "--config", config, "--from", "2026-12-01",
                       "--to", "2026-12-01T09:00:21+00:00", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "exported 20 entries" in exported.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == list(range(1, 21))
    for line in lines:  # an archive can check each line on its own
        content = {k: v for k, v in line.items()
                   if k not in ("id", "prev_hash", "content_hash", "entry_hash")}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode()
        assert hashlib.sha256(canonical).hexdigest() == line["content_hash"]
        assert line["entry_hash"] == link_hash(line["prev_hash"], line["content_hash"])
    assert lines[0]["fields"] == {"Enterprise.penalties": ["OPEN", "有条件开放"]}
    to_stdout = gateway("audit", "export", "--config", config, "--from", "2026-12-02")
    assert (to_stdout.returncode, to_stdout.stdout) == (0, "")


async def test_cli_verify_exits_1_naming_the_entry(tmp_path: Path) -> None:
    async with platform_database("sqlite", tmp_path) as settings, migrated(settings) as store:
        await write_entries(store, range(1, 61))
        async with store.engine.begin() as conn:
            await conn.execute(sa.update(access_log).where(access_log.c.id == 34)
                               .values(outcome="403"))
    bad = gateway("audit", "verify", "--config", str(config_for(settings, tmp_path)))
    assert bad.returncode == 1
    assert bad.stdout == ("tampered: entry 34 was edited (content hash differs)\n"
                          "the first 33 entries are intact\n")


def test_cli_without_a_log_and_check_config(tmp_path: Path) -> None:
    settings = PlatformSettings(f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}")
    config = str(config_for(settings, tmp_path))
    write_sqlite(tmp_path / "samr.db", {"enterprise": [{"credit_code": "x"}]})  # its source
    none = gateway("audit", "verify", "--config", config)
    assert none.returncode == 2
    assert "the gateway has not run with this configuration yet" in none.stderr
    checked = gateway("check-config", "--config", config)
    assert checked.returncode == 0, checked.stderr
    assert "platform database: sqlite+aiosqlite:///" in checked.stdout
    (tmp_path / "platform.db").mkdir()  # cannot be opened as a database
    unusable = gateway("check-config", "--config", config)
    assert unusable.returncode == 1
    assert "gateway.yaml: platform database sqlite+aiosqlite:///" in unusable.stderr
    unreachable = dataclasses.replace(
        settings, database="postgresql+asyncpg://postgres@127.0.0.1:1/test", schema="x")
    unreachable_run = gateway("check-config", "--config",
                              str(config_for(unreachable, tmp_path)))
    assert unreachable_run.returncode == 1
    assert "127.0.0.1:1/test (schema x): " in unreachable_run.stderr


def test_export_dates() -> None:
    """--to names the last day included; a time without offset is UTC."""
    assert _when(end=False)("2026-12-01") == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert _when(end=True)("2026-12-01") == dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    assert _when(end=True)("2026-12-01T08:00") == dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    assert _when(end=False)("2026-12-01T08:00+08:00") == dt.datetime(2026, 12, 1,
                                                                     tzinfo=dt.UTC)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_export_progress_on_a_terminal_and_in_a_log() -> None:
    terminal = Terminal()
    bar = _Progress(terminal, "export")
    for done in range(0, 50_001, 5000):
        bar(done, 50_000)
    bar.close()
    assert terminal.getvalue().startswith("\rexport [                              ]   0% "
                                          "0/50,000 entries")
    assert terminal.getvalue().endswith("\rexport [##############################] 100% "
                                        "50,000/50,000 entries\n")
    log = io.StringIO()  # not a terminal: lines, and only for large exports
    lines = _Progress(log, "export")
    lines(0, 50_000)
    lines(25_000, 50_000)  # within 5 s of the last line: not shown
    lines(50_000, 50_000)
    lines.close()
    assert log.getvalue() == ("export: 0/50,000 entries (0%)\n"
                              "export: 50,000/50,000 entries (100%)\n")
    small = io.StringIO()
    _Progress(small, "export")(20, 20)
    assert small.getvalue() == ""
