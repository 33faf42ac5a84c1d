"""The ``metrics:`` and ``tracing:`` keys of the configuration, validated
(``gateway.config`` reads them).

Example::

    metrics:
      enabled: true          # GET /metrics (default true)
      public: false          # true: anyone may read it (default false)
      loopback: true         # clients on 127.0.0.1 / ::1 may read it (default true)
      roles: [admin, auditor]  # callers (Bearer key) with these roles may (default)
    tracing:
      endpoint: http://otel-collector:4318   # OTLP over HTTP; default: none (no traces)
      service_name: regulatory-graph
      sample_ratio: 1.0      # share of requests traced (parent's choice kept)

The metrics name agencies (their labels), so by default only the machine itself and
admins and auditors may read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MetricsSettings", "TracingSettings", "parse_metrics", "parse_tracing"]

_METRICS_KEYS = ("enabled", "public", "loopback", "roles")
_TRACING_KEYS = ("endpoint", "service_name", "sample_ratio")


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Who may read ``GET /metrics``."""

    enabled: bool = True
    public: bool = False  # anyone, whatever the other fields say
    loopback: bool = True  # clients connecting from this machine
    roles: tuple[str, ...] = ("admin", "auditor")  # authenticated callers of these roles


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """Where traces go (OpenTelemetry, the ``otel`` extra); no endpoint, no export."""

    endpoint: str | None = None  # OTLP/HTTP base URL (``/v1/traces`` is added) or full URL
    service_name: str = "regulatory-graph"
    sample_ratio: float = 1.0


def parse_metrics(raw: Any, where: str, known_roles: Sequence[str],
                  problems: list[str]) -> MetricsSettings:
    """Validate the ``metrics:`` mapping; problems are appended, located by ``where``."""
    default = MetricsSettings()
    if raw is None:
        return default
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping (enabled, public, loopback, roles)")
        return default
    _unknown(raw, _METRICS_KEYS, where, problems)
    flags: dict[str, bool] = {}
    for key in ("enabled", "public", "loopback"):
        value = raw.get(key, getattr(default, key))
        if not isinstance(value, bool):
            problems.append(f"{where}: {key}: must be true or false, got {value!r}")
            value = getattr(default, key)
        flags[key] = value
    roles = raw.get("roles", list(default.roles))
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        problems.append(f"{where}: roles: must be a list of roles "
                        f"({', '.join(known_roles)})")
        roles = list(default.roles)
    for role in roles:
        if role not in known_roles:
            problems.append(f"{where}: roles: unknown role {role!r} "
                            f"(roles: {', '.join(known_roles)})")
    return MetricsSettings(flags["enabled"], flags["public"], flags["loopback"],
                           tuple(r for r in roles if r in known_roles))


def parse_tracing(raw: Any, where: str, problems: list[str]) -> TracingSettings:
    """Validate the ``tracing:`` mapping; problems are appended, located by ``where``."""
    default = TracingSettings()
    if raw is None:
        return default
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping (endpoint, service_name, sample_ratio)")
        return default
    _unknown(raw, _TRACING_KEYS, where, problems)
    endpoint = raw.get("endpoint")
    if endpoint is not None and (not isinstance(endpoint, str)
                                 or not endpoint.startswith(("http://", "https://"))):
        problems.append(f"{where}: endpoint: must be an http:// or https:// URL "
                        f"(e.g. http://127.0.0.1:4318), got {endpoint!r}")
        endpoint = None
    name = raw.get("service_name", default.service_name)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: service_name: must be a non-empty text")
        name = default.service_name
    ratio = raw.get("sample_ratio", default.sample_ratio)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        problems.append(f"{where}: sample_ratio: must be a number from 0 to 1, got {ratio!r}")
        ratio = default.sample_ratio
    return TracingSettings(endpoint, name.strip(), float(ratio))


def _unknown(raw: dict[Any, Any], known: tuple[str, ...], where: str,
             problems: list[str]) -> None:
    for key in raw:
        if key not in known:
            problems.append(f"{where}: unknown field {key!r} (known: {', '.join(known)})")
