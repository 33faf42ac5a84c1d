"""Risk weights of the double-random draw (双随机): ``policies/inspections.yaml``.

The file says how likely an enterprise is to be drawn for an inspection, from its
warning level and credit grade, and which enterprises are always drawn (the special
list, 重点监管名单). ``schema.inspection_draw`` turns these weights into inclusion
probabilities; this module only reads and checks the file. Numbers are kept as the
decimals written (``Decimal``), so the weights - and every draw made with them - are
exact and the same on every machine::

    weights = load_inspections(policy_dir())       # InspectionsError names file and field
    weights.weight("ORANGE", "C")                   # Fraction(1, 1): 0.5 x 2.0
    weights.mandatory("YELLOW", "D")                # True: grade D is always drawn
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from schema.rules.documents import yaml_mapping

__all__ = ["FILE", "GRADES", "WARNINGS", "DrawWeights", "InspectionsError", "load_inspections",
           "parse_inspections"]

FILE = "inspections.yaml"
WARNINGS = ("NONE", "YELLOW", "ORANGE", "RED")
GRADES = ("A", "B", "C", "D")
_IN_DATABASE = "(platform database)"


class InspectionsError(Exception):
    """inspections.yaml is missing or invalid; ``problems`` name the file and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid inspection weights:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class DrawWeights:
    """What inspections.yaml says: a relative rate per warning level, a factor per
    credit grade, and the grades and levels always drawn."""

    warning_rates: Mapping[str, Decimal]  # every level of WARNINGS
    grade_factors: Mapping[str, Decimal]  # every grade of GRADES (1 when not given)
    always_grades: frozenset[str] = frozenset({"D"})
    always_warnings: frozenset[str] = frozenset()

    def weight(self, warning: str, grade: str) -> Fraction:
        """The relative weight of an enterprise: its level's rate x its grade's factor."""
        return Fraction(self.warning_rates[warning]) * Fraction(self.grade_factors[grade])

    def mandatory(self, warning: str, grade: str) -> bool:
        """Is an enterprise of this level and grade on the special list (always drawn)?"""
        return grade in self.always_grades or warning in self.always_warnings

    def to_json(self) -> dict[str, Any]:
        """The weights as JSON values (decimals as their strings), for canonical inputs."""
        return {
            "warning_rates": {k: str(self.warning_rates[k]) for k in WARNINGS},
            "grade_factors": {k: str(self.grade_factors[k]) for k in GRADES},
            "always_drawn": {"grades": sorted(self.always_grades),
                             "warnings": sorted(self.always_warnings)},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DrawWeights:
        """The inverse of ``to_json`` (``ValueError``/``KeyError`` when malformed)."""
        always = data["always_drawn"]
        weights = cls(
            warning_rates={k: Decimal(str(data["warning_rates"][k])) for k in WARNINGS},
            grade_factors={k: Decimal(str(data["grade_factors"][k])) for k in GRADES},
            always_grades=frozenset(str(g) for g in always["grades"]),
            always_warnings=frozenset(str(w) for w in always["warnings"]),
        )
        if not weights.always_grades <= set(GRADES) or not weights.always_warnings <= set(
                WARNINGS):
            raise ValueError("always_drawn names an unknown grade or warning level")
        return weights


def _decimal(value: Any) -> Decimal | None:
    """A YAML number as the decimal written (0.2 stays 1/5, not the nearest float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


class _Checker:
    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[str] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append(f"{self.where}: {field}: {message}")

    def table(self, document: Mapping[str, Any], field: str, names: tuple[str, ...],
              *, required: bool, at_most: Decimal | None) -> dict[str, Decimal]:
        """A mapping of ``names`` to numbers >= 0 (and <= ``at_most``); a name left
        out is a problem when ``required``, else 1."""
        raw = document.get(field.split(".")[0])
        for part in field.split(".")[1:]:
            raw = raw.get(part) if isinstance(raw, dict) else None
        if raw is None and not required:
            return dict.fromkeys(names, Decimal(1))
        if not isinstance(raw, dict):
            self.problem(field, f"must be a mapping of {', '.join(names)} to numbers, "
                                f"got {raw!r}")
            return dict.fromkeys(names, Decimal(1))
        found: dict[str, Decimal] = {}
        for key in raw:
            if key not in names:
                self.problem(f"{field}.{key}", f"unknown; known: {', '.join(names)}")
        for name in names:
            if name not in raw:
                if required:
                    self.problem(f"{field}.{name}", "missing (every level needs a rate)")
                found[name] = Decimal(1)
                continue
            number = _decimal(raw[name])
            bound = "" if at_most is None else f" and <= {at_most}"
            if number is None or number < 0 or (at_most is not None and number > at_most):
                self.problem(f"{field}.{name}", f"must be a number >= 0{bound}, "
                                                f"got {raw[name]!r}")
                number = Decimal(1)
            found[name] = number
        return found

    def names(self, document: Mapping[str, Any], field: str,
              allowed: tuple[str, ...]) -> frozenset[str]:
        always = document.get("always_drawn")
        raw = always.get(field.split(".")[1], []) if isinstance(always, dict) else []
        if raw is None:
            raw = []
        if not isinstance(raw, list) or not all(isinstance(v, str) and v in allowed
                                                for v in raw):
            self.problem(field, f"must be a list of {', '.join(allowed)}, got {raw!r}")
            return frozenset()
        return frozenset(raw)


def parse_inspections(text: str | None, where: str) -> DrawWeights:
    """The weights in ``text`` (inspections.yaml's content; None: missing), every
    problem named by ``where`` (the file) and field in one ``InspectionsError``."""
    document = yaml_mapping(text, where)
    if isinstance(document, str):
        raise InspectionsError([document])
    check = _Checker(where)
    for key in document:
        if key not in ("rates", "always_drawn"):
            check.problem(str(key), "unknown key (known: rates, always_drawn)")
    if "always_drawn" in document and not isinstance(document["always_drawn"], dict | None):
        check.problem("always_drawn", "must be a mapping with grades and warnings")
    rates = check.table(document, "rates.warning", WARNINGS, required=True, at_most=Decimal(1))
    factors = check.table(document, "rates.grade_factor", GRADES, required=False, at_most=None)
    weights = DrawWeights(
        warning_rates=rates,
        grade_factors=factors,
        always_grades=check.names(document, "always_drawn.grades", GRADES),
        always_warnings=check.names(document, "always_drawn.warnings", WARNINGS),
    )
    if not check.problems and all(
            weights.weight(w, g) == 0 for w in WARNINGS for g in GRADES
            if not weights.mandatory(w, g)):
        check.problem("rates", "every enterprise not always drawn has weight 0: nothing "
                               "could be drawn at random; give some level a rate above 0")
    if check.problems:
        raise InspectionsError(check.problems)
    return weights


def load_inspections(source: Path | Mapping[str, str]) -> DrawWeights:
    """The weights of ``source``: the policies folder, or the rule documents by file
    name (the platform database's, named ``inspections.yaml (platform database)``)."""
    if isinstance(source, Path):
        path = source / FILE
        try:
            text: str | None = path.read_text(encoding="utf-8")
        except OSError:
            text = None
        return parse_inspections(text, str(path))
    return parse_inspections(source.get(FILE), f"{FILE} {_IN_DATABASE}")
