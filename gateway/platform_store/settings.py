"""The ``platform:`` key of the configuration, validated (``gateway.config`` reads it).

Example::

    platform:
      database: postgresql+asyncpg://gateway@db.internal/gateway   # any async URL
      schema: platform            # PostgreSQL only; created if missing
      audit_fail_after_s: 5       # refuse non-public requests after 5 s unlogged
      anchor_every: 1000          # an anchor after at most 1000 entries ...
      anchor_every_s: 60          # ... or 60 s, whichever comes first

Without the key, the store is the SQLite file ``platform.db`` beside the
configuration file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

__all__ = ["PlatformSettings", "parse_platform"]

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# a driverless URL gets the async driver the project installs
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_KNOWN = ("database", "schema", "audit_fail_after_s", "anchor_every", "anchor_every_s")


@dataclass(frozen=True, slots=True)
class PlatformSettings:
    """Where the platform's own store is, and how the access log is kept."""

    database: str  # a SQLAlchemy async URL (password included: never print it as is)
    schema: str | None = None  # PostgreSQL schema for every platform table
    audit_fail_after_s: float = 5.0  # writer unhealthy after this long without writing
    anchor_every: int = 1000  # entries between anchors
    anchor_every_s: float = 60.0  # seconds between anchors (when entries were added)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return make_url(self.database).get_backend_name()

    def shown(self) -> str:
        """The database URL without its password, for messages."""
        text: str = make_url(self.database).render_as_string(hide_password=True)
        return text + (f" (schema {self.schema})" if self.schema else "")


def default_settings(config_dir: Path) -> PlatformSettings:
    return PlatformSettings(f"sqlite+aiosqlite:///{(config_dir / 'platform.db').resolve()}")


def parse_platform(raw: Any, where: str, config_dir: Path,
                   problems: list[str]) -> PlatformSettings:
    """Validate the ``platform:`` mapping; problems are appended, located by ``where``
    (e.g. ``gateway.yaml: platform``). Returns the defaults for what is invalid."""
    default = default_settings(config_dir)
    if raw is None:
        return default
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping (database, schema, ...)")
        return default
    for key in raw:
        if key not in _KNOWN:
            problems.append(f"{where}: unknown field {key!r} (known: {', '.join(_KNOWN)})")
    database = default.database
    url: URL | None = make_url(database)
    if "database" in raw:
        url = _database(raw["database"], f"{where}: database", config_dir, problems)
        if url is not None:
            database = url.render_as_string(hide_password=False)
    schema = raw.get("schema")
    if schema is not None:
        if not isinstance(schema, str) or not _SCHEMA.match(schema):
            problems.append(f"{where}: schema: must be a lower-case SQL name "
                            f"(letters, digits, _), got {schema!r}")
            schema = None
        elif url is not None and url.get_backend_name() != "postgresql":
            problems.append(f"{where}: schema: only for PostgreSQL; "
                            f"{url.get_backend_name()} has no schemas (remove the key)")
            schema = None
    numbers: dict[str, float] = {}
    for key, value_default, integer in (("audit_fail_after_s", default.audit_fail_after_s, False),
                                        ("anchor_every", default.anchor_every, True),
                                        ("anchor_every_s", default.anchor_every_s, False)):
        value = raw.get(key, value_default)
        wrong = isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        if wrong or (integer and not isinstance(value, int)):
            kind = "a whole number" if integer else "a number"
            problems.append(f"{where}: {key}: must be {kind} > 0, got {value!r}")
            value = value_default
        numbers[key] = value
    return PlatformSettings(database, schema, float(numbers["audit_fail_after_s"]),
                            int(numbers["anchor_every"]), float(numbers["anchor_every_s"]))


def _database(value: Any, where: str, config_dir: Path, problems: list[str]) -> URL | None:
    example = "e.g. postgresql+asyncpg://user@host/db or sqlite+aiosqlite:///platform.db"
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: must be a SQLAlchemy URL ({example})")
        return None
    try:
        url = make_url(value.strip())
    except ArgumentError:
        problems.append(f"{where}: not a SQLAlchemy URL ({example})")
        return None
    backend = url.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        problems.append(f"{where}: {backend} is not supported: the access log's chain lock "
                        f"needs PostgreSQL (advisory locks) or SQLite (its write lock)")
        return None
    if url.drivername == backend:
        url = url.set(drivername=_ASYNC_DRIVERS[backend])
    try:
        is_async = bool(url.get_dialect().is_async)
    except NoSuchModuleError:
        is_async = False
    if not is_async:
        problems.append(f"{where}: driver {url.drivername} is not asynchronous "
                        f"(use {_ASYNC_DRIVERS[backend]})")
        return None
    if backend == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            problems.append(f"{where}: an SQLite store must be a file (the log outlives "
                            f"the process), e.g. sqlite+aiosqlite:///platform.db")
            return None
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str((config_dir / path).resolve()))
    return url
