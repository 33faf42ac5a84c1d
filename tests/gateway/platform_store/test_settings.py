"""The ``platform:`` key: defaults beside the configuration, validation located like
the file's other problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, GatewayConfig, load_config

BASE = """
agencies:
  - code: SAMR
    name: 市场监督管理局
    kind: sql
    url: sqlite+aiosqlite:///data/samr.db
    provides: [enterprise]
"""


def load(tmp_path: Path, platform: str = "") -> GatewayConfig:
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE + platform, encoding="utf-8")
    return load_config(path)


def problems(tmp_path: Path, platform: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, platform)
    return caught.value.problems


def test_default_is_platform_db_beside_the_configuration(tmp_path: Path) -> None:
    settings = load(tmp_path).platform
    assert settings.database == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'platform.db'}"
    assert settings.schema is None
    assert (settings.audit_fail_after_s, settings.anchor_every, settings.anchor_every_s) == (
        5.0, 1000, 60.0)


def test_every_field(tmp_path: Path) -> None:
    settings = load(tmp_path, """
platform:
  database: postgresql://gateway:secret@db.internal:5432/gateway
  schema: platform
  audit_fail_after_s: 2.5
  anchor_every: 500
  anchor_every_s: 30
""").platform
    assert settings.database == "postgresql+asyncpg://gateway:secret@db.internal:5432/gateway"
    assert settings.schema == "platform"
    assert (settings.audit_fail_after_s, settings.anchor_every, settings.anchor_every_s) == (
        2.5, 500, 30.0)
    assert "secret" not in settings.shown()
    assert settings.shown().endswith("(schema platform)")


def test_a_relative_sqlite_file_is_beside_the_configuration(tmp_path: Path) -> None:
    settings = load(tmp_path, "platform:\n  database: sqlite:///store/audit.db\n").platform
    assert settings.database == (
        f"sqlite+aiosqlite:///{(tmp_path / 'store' / 'audit.db').resolve()}")


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("platform: [x]", "platform: must be a mapping"),
        ("platform:\n  colour: red", "platform: unknown field 'colour'"),
        ("platform:\n  database: 12", "platform: database: must be a SQLAlchemy URL"),
        ("platform:\n  database: not a url", "platform: database: not a SQLAlchemy URL"),
        ("platform:\n  database: mysql+aiomysql://x@h/db",
         "platform: database: mysql is not supported"),
        ("platform:\n  database: postgresql+psycopg2://x@h/db",
         "platform: database: driver postgresql+psycopg2 is not asynchronous"),
        ("platform:\n  database: sqlite+aiosqlite://",
         "platform: database: an SQLite store must be a file"),
        ("platform:\n  schema: audit", "platform: schema: only for PostgreSQL"),
        ("platform:\n  database: postgresql+asyncpg://x@h/db\n  schema: Audit-Log",
         "platform: schema: must be a lower-case SQL name"),
        ("platform:\n  audit_fail_after_s: 0", "platform: audit_fail_after_s: must be a number"),
        ("platform:\n  anchor_every: 10.5", "platform: anchor_every: must be a whole number"),
        ("platform:\n  anchor_every_s: soon", "platform: anchor_every_s: must be a number"),
    ],
)
def test_each_problem_is_located(tmp_path: Path, platform: str, expected: str) -> None:
    found = problems(tmp_path, platform)
    assert any(p.startswith(f"gateway.yaml: {expected}") for p in found), found


def test_platform_problems_come_with_the_others(tmp_path: Path) -> None:
    found = problems(tmp_path, "principals: 3\nplatform:\n  schema: audit\n")
    assert len(found) == 2
