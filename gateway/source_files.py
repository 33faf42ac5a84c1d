"""Sources that live in files on this machine, and whether those files are there.

SQLite creates a database file on connect, so a mistyped path would otherwise look
like an empty agency; a missing CSV folder would look like one without records.
``gateway check-config`` and ``/readyz`` ask ``missing_files`` instead::

    for problem in missing_files(config.agencies):
        print(problem.message(full_path=True))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connectors.spec import AgencySpec

__all__ = ["MissingFile", "missing_files"]


@dataclass(frozen=True, slots=True)
class MissingFile:
    """An agency whose SQLite database or CSV folder is not on disk."""

    agency: str
    what: str  # "SQLite database" or "CSV folder"
    path: Path
    empty: bool = False  # the file is there but has 0 bytes (made by a connect, no tables)

    def message(self, *, full_path: bool) -> str:
        """One line naming the agency and the file: the full path for the operator's
        console, the file name only where the answer leaves the machine (``/readyz``)."""
        shown = str(self.path) if full_path else self.path.name
        state = "is empty (0 bytes, no tables)" if self.empty else "does not exist"
        return f"agency {self.agency}: {self.what} {shown} {state}"


def missing_files(agencies: Iterable[AgencySpec]) -> list[MissingFile]:
    """The agencies whose SQLite database file or CSV folder is missing (paths are
    already resolved against the configuration's folder by ``gateway.config``)."""
    problems = []
    for spec in agencies:
        if spec.kind == "csv":
            folder = Path(spec.location)
            if not folder.is_dir():
                problems.append(MissingFile(spec.code, "CSV folder", folder))
        elif spec.kind == "sql":
            database = _sqlite_file(spec.location)
            if database is None:
                continue
            if not database.is_file():
                problems.append(MissingFile(spec.code, "SQLite database", database))
            elif database.stat().st_size == 0:
                problems.append(MissingFile(spec.code, "SQLite database", database, empty=True))
    return problems


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; ``None`` for other databases, in-memory ones
    and SQLite URIs (``?mode=…&uri=true``), whose file name is not a plain path."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or parsed.query.get("uri") in ("true", "1"):
        return None
    return Path(database)
