"""Loading the access rules in ``policies/`` and reloading them when they change.

``model.conf`` and ``policy.csv`` (Casbin), ``fields.yaml`` (field classes) and
``derivation.yaml`` (what derived values are computed from) are checked when
loaded; a file that does not parse, a policy line that names an
unknown role, level or field, or a record type field without a class raises
``PolicyError`` naming the file and line - the gateway does not start with it.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin
import yaml
from casbin.persist.adapter import Adapter, load_policy_line
from strawberry.utils.str_converters import to_camel_case

from connectors.standard import Openness
from gateway.casbin_enforcer import ParsedOnceEnforcer
from gateway.config import ROLES
from policies import policy_dir
from schema.access import (
    DERIVED,
    GRAPH_TYPES,
    AccessPolicy,
    Basis,
    Derivations,
    FieldClasses,
)
from schema.fields import classified_fields

__all__ = ["DEFAULT_POLICY_DIR", "FILES", "PolicyData", "PolicyError", "PolicyStore",
           "build_policy", "load_policy", "policy_lines", "read_policy_data"]

logger = logging.getLogger("gateway.policies")

# the bundled rules (the ``policies`` package, wherever it is installed)
DEFAULT_POLICY_DIR = policy_dir()
FILES = ("model.conf", "policy.csv", "fields.yaml", "derivation.yaml")
_LEVELS = {level.value for level in Openness}
_NEVER_NULL = {"record_id", "agency", "openness", "credit_code"}


class PolicyError(Exception):
    """A policy file is missing or invalid; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class _Stamp:
    stamps: tuple[tuple[int, int], ...]


def _stamp(folder: Path) -> _Stamp:
    stamps = []
    for name in FILES:
        try:
            status = os.stat(folder / name)
            stamps.append((status.st_mtime_ns, status.st_size))
        except OSError:
            stamps.append((0, 0))
    return _Stamp(tuple(stamps))


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError:
        raise PolicyError(f"{path}: is not valid YAML") from None


def _field_classes(document: Any, path: Path | str) -> FieldClasses:
    """Field classes from ``document`` (record type -> GraphQL field name -> level, as
    in fields.yaml); ``path`` names where it came from in messages."""
    if not isinstance(document, dict):
        raise PolicyError(f"{path}: must map record types to their fields' classes")
    problems = []
    classes: dict[str, dict[str, Openness]] = {}
    expected = classified_fields()
    for graph_type, fields in expected.items():
        given = document.get(graph_type)
        if not isinstance(given, dict):
            problems.append(f"{path}: {graph_type}: missing (every record type needs its fields)")
            continue
        by_graph_name = {to_camel_case(name): name for name in fields}
        for graph_name in given:
            if graph_name not in by_graph_name:
                problems.append(f"{path}: {graph_type}.{graph_name}: no such field")
        classes[graph_type] = {}
        for graph_name, name in by_graph_name.items():
            level = given.get(graph_name)
            if level not in _LEVELS:
                problems.append(f"{path}: {graph_type}.{graph_name}: class must be one of "
                                f"{', '.join(sorted(_LEVELS))}, got {level!r}")
                continue
            never_null = name in _NEVER_NULL or (graph_type == "Person" and name == "person_id")
            if never_null and level != "OPEN":
                problems.append(f"{path}: {graph_type}.{graph_name}: must be OPEN "
                                "(it is never null, so it cannot be hidden)")
            classes[graph_type][name] = Openness(level)
    for graph_type in document:
        if graph_type not in expected:
            problems.append(f"{path}: {graph_type}: not a record type "
                            f"(known: {', '.join(expected)})")
    if problems:
        raise PolicyError("\n  ".join(["invalid field classes:", *problems]))
    return FieldClasses(classes)


def _derivations(document: Any, path: Path | str) -> Derivations:
    """derivation.yaml's document; none (``None``) takes the defaults (``DERIVED``)."""
    if document is None:
        return Derivations()
    if not isinstance(document, dict):
        raise PolicyError(f"{path}: must map derived values to roles and bases")
    problems = []
    bases: dict[str, dict[str, Basis]] = {}
    names = {basis.value for basis in Basis}
    for derived, by_role in document.items():
        if derived not in DERIVED:
            problems.append(f"{path}: {derived}: not a derived value (known: "
                            f"{', '.join(DERIVED)})")
            continue
        if not isinstance(by_role, dict):
            problems.append(f"{path}: {derived}: must map roles or 'default' to a basis")
            continue
        bases[derived] = {}
        for role, basis in by_role.items():
            if role != "default" and role not in ROLES:
                problems.append(f"{path}: {derived}.{role}: unknown role (roles: "
                                f"{', '.join(ROLES)}, or default)")
            elif basis not in names:
                problems.append(f"{path}: {derived}.{role}: basis must be VISIBLE or ALL, "
                                f"got {basis!r}")
            else:
                bases[derived][str(role)] = Basis(basis)
    if problems:
        raise PolicyError("\n  ".join(["invalid derivation bases:", *problems]))
    return Derivations(bases)


def policy_lines(text: str) -> list[tuple[str, list[str]]]:
    """("line N", values) of each line of a policy.csv text, as Casbin's file adapter
    splits them: the values after ``p``; a line of another kind keeps its kind first."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, *values = [value.strip() for value in line.split(",")]
        lines.append((f"line {number}", values if kind == "p" else [kind, *values]))
    return lines


def _check_lines(path: Path | str, lines: Sequence[tuple[str, Sequence[str]]],
                 classes: FieldClasses) -> None:
    problems = []
    for label, line in lines:
        where = f"{path}: {label} ({', '.join(line)})"
        if len(line) != 6:
            problems.append(f"{where}: needs 6 values: role, purpose, object, openness, owner, "
                            "allow|deny")
            continue
        role, purpose, obj, openness, owner, effect = line
        if role not in ROLES:
            problems.append(f"{where}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        if purpose not in ("*", "+"):
            try:
                re.compile(purpose)
            except re.error:
                problems.append(f"{where}: purpose is not '*', '+' or a regular expression")
        if obj not in ("*", "RestrictionDecision"):
            graph_type, _, field = obj.partition(".")
            fields = {to_camel_case(n) for n in classes.fields(graph_type)}
            if graph_type not in GRAPH_TYPES.values() or (field not in ("", "*")
                                                            and field not in fields):
                problems.append(f"{where}: unknown object {obj!r} (use Type, Type.* or "
                                "Type.field of a record type)")
        if openness != "*" and openness not in _LEVELS:
            problems.append(f"{where}: openness must be *, OPEN, CONDITIONAL or NOT_OPEN")
        if owner not in ("*", "self") and not re.match(r"^[A-Z][A-Z0-9_]+$", owner):
            problems.append(f"{where}: owner must be *, self or an agency code")
        if effect not in ("allow", "deny"):
            problems.append(f"{where}: the last value must be allow or deny")
    if problems:
        raise PolicyError("\n  ".join(["invalid policy:", *problems]))


@dataclass(frozen=True, slots=True)
class PolicyData:
    """The access policy as data, wherever it is kept (the folder, the platform
    database): what ``build_policy`` checks and turns into an ``AccessPolicy``.

    ``classes``: record type -> GraphQL field name -> level (fields.yaml's shape);
    ``rules``: (label for messages, the six values of a ``p`` line); ``derivation``:
    derivation.yaml's document (None: the defaults). ``where`` names each part in
    messages (a file path, or the database table).
    """

    model: str
    rules: Sequence[tuple[str, Sequence[str]]]
    classes: Any
    derivation: Any
    where: Mapping[str, str]


def read_policy_data(folder: Path) -> PolicyData:
    """The policy files of ``folder`` as data (not checked yet: see ``build_policy``)."""
    model, policy = folder / "model.conf", folder / "policy.csv"
    for path in (model, policy):
        if not path.is_file():
            raise PolicyError(f"{path}: missing (the access policy needs it)")
    derivation = folder / "derivation.yaml"
    try:
        model_text = model.read_text(encoding="utf-8")
        lines = policy_lines(policy.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{exc.filename}: cannot be read ({exc.strerror})") from None
    return PolicyData(
        model=model_text, rules=lines, classes=_yaml(folder / "fields.yaml"),
        derivation=_yaml(derivation) if derivation.exists() else None,
        where={name: str(folder / name) for name in FILES})


def build_policy(data: PolicyData) -> AccessPolicy:
    """Check ``data`` (``PolicyError`` naming each problem) and build its policy."""
    where = data.where
    classes = _field_classes(data.classes, where["fields.yaml"])
    derivations = _derivations(data.derivation, where["derivation.yaml"])
    _check_lines(where["policy.csv"], data.rules, classes)
    try:
        model = casbin.Model()
        model.load_model_from_text(data.model)
        enforcer = ParsedOnceEnforcer(model, _RulesAdapter([values for _, values in data.rules]))
        # Casbin logs every denial as a warning; a denial is normal here (a hidden
        # field), so its own logger is replaced by a quiet, unregistered one.
        enforcer.logger = logging.Logger("casbin.enforcer.quiet", level=logging.ERROR)
        enforcer.enforce("public", "", "", "Penalty", "OPEN", "SAMR")
    except Exception as exc:  # casbin raises many kinds; the message is what matters
        raise PolicyError(f"{where['model.conf']} / {where['policy.csv']}: Casbin cannot use "
                          f"them ({type(exc).__name__}: {exc})") from None
    enforce: Callable[..., Any] = enforcer.enforce
    return AccessPolicy(lambda *request: bool(enforce(*request)), classes, derivations)


class _RulesAdapter(Adapter):  # type: ignore[misc]  # casbin is untyped
    """Casbin's view of the checked policy lines (read once, never written)."""

    def __init__(self, rules: Sequence[Sequence[str]]) -> None:
        self._rules = rules

    def load_policy(self, model: Any) -> None:
        for values in self._rules:
            load_policy_line(", ".join(["p", *values]), model)


def load_policy(folder: Path) -> AccessPolicy:
    """Read and check the policy files of ``folder``."""
    return build_policy(read_policy_data(folder))


class PolicyStore:
    """The current ``AccessPolicy``; reloaded when a policy file changes.

    Files are looked at no more often than every ``check_every_s``. A changed file
    that does not load is logged and the last good policy stays in force.
    """

    def __init__(self, folder: Path, *, check_every_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self._clock = clock
        self._every = check_every_s
        self._stamp = _stamp(folder)
        self._policy = load_policy(folder)
        self._checked = clock()
        self.version = 1

    def current(self) -> AccessPolicy:
        now = self._clock()
        if now - self._checked >= self._every:
            self._checked = now
            stamp = _stamp(self.folder)
            if stamp != self._stamp:
                self._stamp = stamp
                self._reload()
        return self._policy

    def _reload(self) -> None:
        try:
            self._policy = load_policy(self.folder)
        except PolicyError as error:
            logger.error("policy change not applied, the previous policy stays: %s", error)
            return
        self.version += 1
        logger.info("policy reloaded from %s (version %d)", self.folder, self.version)

