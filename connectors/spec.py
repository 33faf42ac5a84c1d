"""What the configuration says about one agency source (an ``AgencySpec``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["SOURCE_KINDS", "AgencySpec"]

SOURCE_KINDS = ("sql", "csv", "http")


@dataclass(frozen=True, slots=True)
class AgencySpec:
    """One agency of the configuration, validated.

    ``location`` is the SQLAlchemy URL (sql), the folder (csv) or the base URL (http),
    already resolved against the configuration file's folder.
    """

    code: str
    name: str
    kind: str
    location: str
    provides: tuple[str, ...]
    tables: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    timeout_s: float = 5.0
    cache_ttl_s: float = 60.0
    retries: int = 0
    max_batch: int = 1000
    breaker_failures: int = 5
    breaker_open_s: float = 10.0
    stale_if_error_s: float = 300.0

    def table_for(self, record_type: str) -> str:
        """The source's table (sql), file stem (csv) or path segment (http) for a type."""
        return self.tables.get(record_type, record_type)

    def source_column(self, record_type: str, column: str) -> str:
        """The source's name for a standard column."""
        return self.columns.get(record_type, {}).get(column, column)

    def standard_names(self, record_type: str) -> dict[str, str]:
        """Source column name -> standard column name, for the renamed columns only."""
        return {source: standard for standard, source in self.columns.get(record_type, {}).items()}
