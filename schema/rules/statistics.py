"""Who may ask for statistics (决策分析) and how small figures are protected:
``policies/statistics.yaml``.

This module only reads and checks the file; ``schema.statistics_source`` applies it
and ``schema.suppression`` protects the figures::

    rules = load_statistics(policy_dir(), roles=ROLES, purposes=PURPOSES)
    rules.answer_for("department")     # "STATISTICS": exact, with that purpose declared
    rules.answer_for("public")         # PROTECTED
    rules.threshold                    # 5
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schema.rules.documents import yaml_mapping

__all__ = ["EXACT", "FILE", "PROTECTED", "StatisticsError", "StatisticsRules",
           "load_statistics", "parse_statistics"]

FILE = "statistics.yaml"
EXACT = "exact"
PROTECTED = "protected"
_IN_DATABASE = "(platform database)"
_KEYS = ("threshold", "max_trend_months", "roles")


class StatisticsError(Exception):
    """statistics.yaml is missing or invalid; ``problems`` name the file and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid statistics rules:\n  " + "\n  ".join(problems))
        self.problems = problems


def _default_roles() -> Mapping[str, str]:
    return {"public": PROTECTED, "enterprise": PROTECTED, "approval": PROTECTED,
            "department": "STATISTICS", "auditor": "STATISTICS", "admin": EXACT}


@dataclass(frozen=True, slots=True)
class StatisticsRules:
    """What statistics.yaml says (the defaults are the shipped file's)."""

    threshold: int = 5
    max_trend_months: int = 60
    # role -> EXACT, PROTECTED or the purpose the role must declare (exact figures)
    roles: Mapping[str, str] = field(default_factory=_default_roles)

    def answer_for(self, role: str) -> str | None:
        """How ``role`` is answered: EXACT, PROTECTED, a purpose it must declare, or
        None (not at all)."""
        return self.roles.get(role)


def _integer(document: Mapping[str, Any], name: str, low: int, high: int, default: int,
             problems: list[str], where: str) -> int:
    if name not in document:
        return default
    value = document[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{where}: {name}: must be a whole number from {low} to {high}, "
                        f"got {value!r}")
        return default
    return value


def _roles(document: Mapping[str, Any], roles: Collection[str], purposes: Collection[str],
           problems: list[str], where: str) -> dict[str, str]:
    raw = document.get("roles")
    if not isinstance(raw, dict) or not raw:
        problems.append(f"{where}: roles: must map each role that may ask to exact, "
                        f"protected or a purpose, got {raw!r}")
        return {}
    found: dict[str, str] = {}
    for role, answer in raw.items():
        if role not in roles:
            problems.append(f"{where}: roles.{role}: unknown role (known: {', '.join(roles)})")
            continue
        if answer not in (EXACT, PROTECTED) and answer not in purposes:
            problems.append(f"{where}: roles.{role}: must be exact, protected or a purpose "
                            f"({', '.join(purposes)}), got {answer!r}")
            continue
        found[str(role)] = str(answer)
    return found


def parse_statistics(text: str | None, where: str, *, roles: Collection[str],
                     purposes: Collection[str]) -> StatisticsRules:
    """The rules in ``text`` (statistics.yaml's content; None: missing), every problem
    named by ``where`` (the file) and field in one ``StatisticsError``."""
    document = yaml_mapping(text, where)
    if isinstance(document, str):
        raise StatisticsError([document])
    problems: list[str] = [f"{where}: {key}: unknown key (known: {', '.join(_KEYS)})"
                           for key in document if key not in _KEYS]
    rules = StatisticsRules(
        threshold=_integer(document, "threshold", 2, 1000, 5, problems, where),
        max_trend_months=_integer(document, "max_trend_months", 1, 120, 60, problems, where),
        roles=_roles(document, roles, purposes, problems, where),
    )
    if problems:
        raise StatisticsError(problems)
    return rules


def load_statistics(source: Path | Mapping[str, str], *, roles: Collection[str],
                    purposes: Collection[str]) -> StatisticsRules:
    """The rules of ``source``: the policies folder, or the rule documents by file name
    (the platform database's, named ``statistics.yaml (platform database)``)."""
    if isinstance(source, Path):
        path = source / FILE
        try:
            text: str | None = path.read_text(encoding="utf-8")
        except OSError:
            text = None
        return parse_statistics(text, str(path), roles=roles, purposes=purposes)
    return parse_statistics(source.get(FILE), f"{FILE} {_IN_DATABASE}", roles=roles,
                            purposes=purposes)
