"""The gateway's YAML configuration (collection standard, "Configuration"), validated.

Every problem is collected and reported with the file, the agency (or principal)
and the field, e.g. ``gateway.yaml: agencies[2] (COURT): base_url: required for
kind http``, so an operator can fix them all in one pass.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connectors.credit_code import credit_code_problem
from connectors.spec import SOURCE_KINDS, AgencySpec
from connectors.standard import RECORD_TYPES
from gateway.change_settings import ChangeSettings, parse_changes
from gateway.cors import CorsSettings, parse_cors
from gateway.inspector_settings import RosterEntry, parse_inspectors
from gateway.platform_store.settings import PlatformSettings, parse_platform
from gateway.policy_settings import PolicySettings, parse_policies
from gateway.telemetry_settings import (
    MetricsSettings,
    TracingSettings,
    parse_metrics,
    parse_tracing,
)
from gateway.webhook_settings import WebhookSpec, parse_webhooks

__all__ = [
    "PURPOSES",
    "ROLES",
    "ConfigError",
    "CorsSettings",
    "GatewayConfig",
    "PlatformSettings",
    "PolicySettings",
    "PrincipalSpec",
    "command_config",
    "load_config",
    "parse_config",
]

# enterprise: an enterprise's own key, bound to its credit code (its objections and
# credit repairs: 异议 · 信用修复); it sees what the public sees. supervisor: an agency's
# supervisor (上级/督办), bound to the agency like a department: it sees what the
# agency's departments see, and the pushed registrations they did not claim in time
ROLES = ("public", "department", "approval", "auditor", "admin", "enterprise", "supervisor")
PURPOSES = (
    "INSPECTION",
    "CASE_HANDLING",
    "LICENCE_APPROVAL",
    "PROCUREMENT",
    "BIDDING",
    "SUBSIDY",
    "HONOUR",
    "CREDIT_REPAIR",
    "STATISTICS",
    "AUDIT",  # auditors reading the access log (accessLog, accessAlerts)
)
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LOCATION_FIELD = {"sql": "url", "csv": "path", "http": "base_url"}
_NO_CORS = CorsSettings()  # frozen: one shared default
_METRICS = MetricsSettings()  # frozen defaults, shared
_TRACING = TracingSettings()
_POLICIES = PolicySettings()
_CHANGES = ChangeSettings()  # off


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists each one, fully located."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A caller known to the gateway, identified by the SHA-256 of its API key."""

    id: str
    key_sha256: str
    role: str
    agency: str | None
    purposes: tuple[str, ...]
    credit_code: str | None = None  # the enterprise of an ``enterprise`` principal


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Agencies and principals, validated; exactly one agency provides ``enterprise``.
    ``platform`` is the platform's own store (access log): default ``platform.db``
    beside the configuration file. ``cors`` names the origins whose pages may call the
    gateway (``gateway.cors``): none by default. ``metrics`` says who may read
    ``/metrics``, ``tracing`` where traces go (``gateway.telemetry_settings``),
    ``policies`` where the access policy is kept (``gateway.policy_settings``),
    ``inspectors`` the inspection roster (``gateway.inspector_settings``), ``changes``
    the polling for changes (``gateway.change_settings``)."""

    source: Path
    agencies: tuple[AgencySpec, ...]
    principals: tuple[PrincipalSpec, ...]
    platform: PlatformSettings
    cors: CorsSettings = _NO_CORS
    metrics: MetricsSettings = _METRICS
    tracing: TracingSettings = _TRACING
    policies: PolicySettings = _POLICIES
    inspectors: tuple[RosterEntry, ...] = ()
    changes: ChangeSettings = _CHANGES
    webhooks: tuple[WebhookSpec, ...] = ()  # signed POSTs of pushes (gateway.webhooks)

    @property
    def registry(self) -> AgencySpec:
        """The agency that provides ``enterprise`` (the registry)."""
        return next(a for a in self.agencies if "enterprise" in a.provides)

    def agency(self, code: str) -> AgencySpec | None:
        return next((a for a in self.agencies if a.code == code), None)


def load_config(path: Path) -> GatewayConfig:
    """Read and validate a configuration file; ``ConfigError`` lists every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ConfigError([f"{path}:{line} is not valid YAML"]) from None
    return parse_config(document, path)


def command_config(path: str) -> GatewayConfig | None:
    """The configuration a command was given with ``--config``, or None after printing
    its problems to standard error (the command then exits 2)."""
    try:
        return load_config(Path(path))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def parse_config(document: Any, path: Path) -> GatewayConfig:
    """Validate an already-parsed configuration document read from ``path``."""
    problems: list[str] = []
    name = path.name
    if not isinstance(document, dict):
        raise ConfigError([f"{name}: the top level must be a mapping with 'agencies:'"])
    for key in document:
        if key not in ("agencies", "principals", "platform", "cors", "metrics", "tracing",
                       "policies", "inspectors", "changes", "webhooks"):
            problems.append(
                f"{name}: unknown top-level key {key!r} (expected agencies, principals, "
                f"platform, cors, metrics, tracing, policies, inspectors, changes, webhooks)"
            )
    raw_agencies = document.get("agencies")
    if not isinstance(raw_agencies, list) or not raw_agencies:
        problems.append(f"{name}: agencies: required, a non-empty list")
        raw_agencies = []
    agencies = []
    for index, raw in enumerate(raw_agencies):
        agency = _agency(raw, f"{name}: agencies[{index}]", path.parent, problems)
        if agency is not None:
            agencies.append(agency)
    codes = [a.code for a in agencies]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(f"{name}: agency code {code} is used more than once")
    registries = [a.code for a in agencies if "enterprise" in a.provides]
    if raw_agencies and len(registries) != 1:
        problems.append(
            f"{name}: exactly one agency must provide enterprise (the registry); "
            f"found {len(registries)}{': ' + ', '.join(registries) if registries else ''}"
        )
    raw_principals = document.get("principals") or []
    principals = []
    if not isinstance(raw_principals, list):
        problems.append(f"{name}: principals: must be a list")
        raw_principals = []
    for index, raw in enumerate(raw_principals):
        principal = _principal(raw, f"{name}: principals[{index}]", set(codes), problems)
        if principal is not None:
            principals.append(principal)
    ids = [p.id for p in principals]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{name}: principal id {duplicate} is used more than once")
    platform = parse_platform(document.get("platform"), f"{name}: platform", path.parent,
                              problems)
    cors = parse_cors(document.get("cors"), f"{name}: cors", problems)
    metrics = parse_metrics(document.get("metrics"), f"{name}: metrics", ROLES, problems)
    tracing = parse_tracing(document.get("tracing"), f"{name}: tracing", problems)
    policies = parse_policies(document.get("policies"), f"{name}: policies", problems)
    inspectors = parse_inspectors(document.get("inspectors"), f"{name}: inspectors",
                                  set(codes), problems)
    changes = parse_changes(document.get("changes"), f"{name}: changes", problems)
    webhooks = parse_webhooks(document.get("webhooks"), f"{name}: webhooks",
                              {p.id: p for p in principals}, problems, agencies=set(codes))
    if problems:
        raise ConfigError(problems)
    return GatewayConfig(path, tuple(agencies), tuple(principals), platform, cors, metrics,
                         tracing, policies, inspectors, changes, webhooks)


def _agency(raw: Any, where: str, base: Path, problems: list[str]) -> AgencySpec | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        problems.append(f"{where}: code: required, upper-case letters/digits/_ (e.g. SAMR)")
        code = "?"
    where = f"{where} ({code})"
    before = len(problems)
    known = {"code", "name", "kind", "provides", "tables", "columns", "timeout_s",
             "cache_ttl_s", "retries", "max_batch", "url", "path", "base_url",
             "breaker_failures", "breaker_open_s", "stale_if_error_s"}
    for key in raw:
        if key not in known:
            problems.append(f"{where}: unknown field {key!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: name: required")
    kind = raw.get("kind")
    if kind not in SOURCE_KINDS:
        problems.append(f"{where}: kind: must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    provides = raw.get("provides")
    if not isinstance(provides, list) or not provides:
        problems.append(f"{where}: provides: required, a non-empty list of record types")
        provides = []
    for record_type in provides:
        if record_type not in RECORD_TYPES:
            problems.append(
                f"{where}: provides: unknown record type {record_type!r} "
                f"(known: {', '.join(RECORD_TYPES)})"
            )
    tables = _renames(raw.get("tables"), f"{where}: tables", provides, problems)
    columns: dict[str, dict[str, str]] = {}
    raw_columns = raw.get("columns") or {}
    if not isinstance(raw_columns, dict):
        problems.append(f"{where}: columns: must map record types to column renames")
        raw_columns = {}
    for record_type, renames in raw_columns.items():
        field = f"{where}: columns.{record_type}"
        checked = _renames({record_type: "x"}, f"{where}: columns", provides, problems)
        if not checked or not isinstance(renames, dict):
            if checked:
                problems.append(f"{field}: must map standard column names to source names")
            continue
        # and the optional change time (connectors/README.md, "Change times")
        allowed = (*RECORD_TYPES[record_type].all_columns(), "updated_at")
        for standard, source in renames.items():
            if standard not in allowed:
                problems.append(
                    f"{field}: {standard!r} is not a column of {record_type} "
                    f"(columns: {', '.join(allowed)})"
                )
            elif not isinstance(source, str) or not source:
                problems.append(f"{field}.{standard}: must be the source's column name")
        columns[record_type] = {str(k): str(v) for k, v in renames.items()}
    numbers = {}
    for key, default, low in (("timeout_s", 5.0, 0.001), ("cache_ttl_s", 60.0, 0.0),
                              ("retries", 0, 0), ("max_batch", 1000, 1),
                              ("breaker_failures", 5, 1), ("breaker_open_s", 10.0, 0.0),
                              ("stale_if_error_s", 300.0, 0.0)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            problems.append(f"{where}: {key}: must be a number >= {low}, got {value!r}")
            value = default
        numbers[key] = value
    location = _location(raw, kind, where, base, problems)
    if len(problems) > before:
        return None
    return AgencySpec(
        code=code,
        name=str(name),
        kind=str(kind),
        location=location,
        provides=tuple(provides),
        tables=tables,
        columns=columns,
        timeout_s=float(numbers["timeout_s"]),
        cache_ttl_s=float(numbers["cache_ttl_s"]),
        retries=int(numbers["retries"]),
        max_batch=int(numbers["max_batch"]),
        breaker_failures=int(numbers["breaker_failures"]),
        breaker_open_s=float(numbers["breaker_open_s"]),
        stale_if_error_s=float(numbers["stale_if_error_s"]),
    )


def _renames(raw: Any, where: str, provides: list[Any], problems: list[str]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: must map record types to names")
        return {}
    for record_type in raw:
        if record_type not in provides:
            problems.append(f"{where}: {record_type!r} is not in this agency's provides")
            return {}
    return {str(k): str(v) for k, v in raw.items()}


def _location(raw: Mapping[str, Any], kind: Any, where: str, base: Path,
              problems: list[str]) -> str:
    field = _LOCATION_FIELD.get(str(kind))
    if field is None:
        return ""
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {field}: required for kind {kind}")
        return ""
    if kind == "csv":
        folder = Path(value)
        return str(folder if folder.is_absolute() else (base / folder).resolve())
    if kind == "http":
        if not value.startswith(("http://", "https://")):
            problems.append(f"{where}: base_url: must start with http:// or https://")
        return value.rstrip("/")
    try:
        url = make_url(value)
    except ArgumentError:
        problems.append(f"{where}: url: not a SQLAlchemy URL (e.g. sqlite+aiosqlite:///x.db)")
        return ""
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        if not database.is_absolute():
            url = url.set(database=str((base / database).resolve()))
    return url.render_as_string(hide_password=False)


def _principal(raw: Any, where: str, agencies: set[str],
               problems: list[str]) -> PrincipalSpec | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    principal_id = raw.get("id")
    if not isinstance(principal_id, str) or not principal_id:
        problems.append(f"{where}: id: required")
        principal_id = "?"
    where = f"{where} ({principal_id})"
    for key in raw:
        if key not in ("id", "key_sha256", "role", "agency", "purposes", "credit_code"):
            problems.append(f"{where}: unknown field {key!r}")
    key_hash = raw.get("key_sha256")
    if not isinstance(key_hash, str) or not _SHA256.match(key_hash):
        problems.append(f"{where}: key_sha256: must be 64 lower-case hex characters")
    role = raw.get("role")
    if role not in ROLES:
        problems.append(f"{where}: role: must be one of {', '.join(ROLES)}, got {role!r}")
    agency = raw.get("agency")
    if agency is not None and agency not in agencies:
        problems.append(f"{where}: agency: {agency!r} is not an agency of this configuration")
    if role in ("department", "supervisor") and agency is None:
        problems.append(f"{where}: agency: required for role {role}")
    credit_code = raw.get("credit_code")
    if role == "enterprise":
        if agency is not None:
            problems.append(f"{where}: agency: an enterprise principal belongs to no agency")
        if not isinstance(credit_code, str):
            problems.append(f"{where}: credit_code: required for role enterprise (the "
                            "unified social credit code it is bound to)")
        elif (problem := credit_code_problem(credit_code)) is not None:
            problems.append(f"{where}: credit_code: {credit_code!r} is not a valid unified "
                            f"social credit code: {problem}")
    elif credit_code is not None:
        problems.append(f"{where}: credit_code: only for role enterprise")
    purposes = raw.get("purposes") or []
    if not isinstance(purposes, list):
        problems.append(f"{where}: purposes: must be a list")
        purposes = []
    for purpose in purposes:
        if purpose not in PURPOSES:
            problems.append(
                f"{where}: purposes: unknown purpose {purpose!r} (known: {', '.join(PURPOSES)})"
            )
    if len(problems) > before:
        return None
    return PrincipalSpec(str(principal_id), str(key_hash), str(role),
                         agency if isinstance(agency, str) else None, tuple(purposes),
                         credit_code if isinstance(credit_code, str) else None)
