"""Reading warnings.yaml, grades.yaml, restrictions.yaml and inspections.yaml (the
draw's weights, read by ``schema.rules.inspections``) into a ``RuleSet``.

From the policies folder, or from the texts by file name (``policies.store:
database``: the platform database's documents). Every problem is reported with the
file and the field (``RulesError``); the gateway does not start with a bad rules file,
and ``gateway policy set-file`` refuses one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from connectors.standard import RECORD_TYPES, RiskLevel
from gateway.config import PURPOSES, ROLES
from policies import policy_dir
from schema.actions import enum_name
from schema.rules.inspections import FILE as INSPECTIONS_FILE
from schema.rules.inspections import InspectionsError, load_inspections
from schema.rules.model import (
    ActionRules,
    Decision,
    Grade,
    GradeCondition,
    GradeRule,
    GradeRules,
    Lifecycle,
    RestrictionRule,
    RuleSet,
    WarningLevel,
    WarningRules,
)
from schema.rules.statistics import FILE as STATISTICS_FILE
from schema.rules.statistics import StatisticsError, load_statistics

__all__ = ["IN_DATABASE", "RULE_FILES", "RulesError", "RulesSource", "load_rules", "read_text"]

RULE_FILES = ("warnings.yaml", "grades.yaml", "restrictions.yaml", INSPECTIONS_FILE,
              STATISTICS_FILE)

# a policies folder, or file name -> text (the platform database's documents)
RulesSource: TypeAlias = Path | Mapping[str, str]
IN_DATABASE = "(platform database)"

REQUIRED_ACTIONS = ("LICENCE_APPLICATION", "GOVERNMENT_PROCUREMENT", "PUBLIC_BIDDING",
                    "LAND_TRANSACTION", "FISCAL_SUBSIDY", "HONOUR", "CERTIFICATION")


class RulesError(Exception):
    """A rules file is missing or invalid; ``problems`` are located by file and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid rules:\n  " + "\n  ".join(problems))
        self.problems = problems


def read_text(source: RulesSource, name: str) -> tuple[str | None, str]:
    """The text of the file ``name`` of ``source`` (None: missing or unreadable) and
    how messages name it: its path, or ``name (platform database)``."""
    if isinstance(source, Path):
        try:
            return (source / name).read_text(encoding="utf-8"), str(source / name)
        except OSError:
            return None, str(source / name)
    return source.get(name), f"{name} {IN_DATABASE}"


class _Reader:
    def __init__(self, source: RulesSource, name: str, problems: list[str]) -> None:
        self.text, self.path = read_text(source, name)
        self.problems = problems

    def document(self) -> Mapping[str, Any]:
        if self.text is None:
            self.problems.append(f"{self.path}: missing or unreadable")
            return {}
        try:
            document = yaml.safe_load(self.text)
        except yaml.YAMLError:
            self.problems.append(f"{self.path}: is not valid YAML")
            return {}
        if not isinstance(document, dict):
            self.problems.append(f"{self.path}: must be a mapping")
            return {}
        return document

    def get(self, mapping: Any, dotted: str) -> Any:
        value = mapping
        for key in dotted.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def integer(self, mapping: Any, dotted: str, low: int = 0) -> int:
        value = self.get(mapping, dotted)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.problems.append(f"{self.path}: {dotted}: must be a whole number >= {low}, "
                                 f"got {value!r}")
            return low
        return value

    def number(self, mapping: Any, dotted: str) -> float:
        value = self.get(mapping, dotted)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.problems.append(f"{self.path}: {dotted}: must be a number >= 0, got {value!r}")
            return 0.0
        return float(value)

    def names(self, mapping: Any, dotted: str, allowed: set[str]) -> frozenset[str]:
        value = self.get(mapping, dotted)
        if not isinstance(value, list) or not all(v in allowed for v in value):
            self.problems.append(f"{self.path}: {dotted}: must be a list of "
                                 f"{', '.join(sorted(allowed))}, got {value!r}")
            return frozenset()
        return frozenset(value)

    def flag(self, mapping: Any, dotted: str) -> bool:
        value = self.get(mapping, dotted)
        if not isinstance(value, bool):
            self.problems.append(f"{self.path}: {dotted}: must be true or false, got {value!r}")
            return False
        return value


_RISKS = {level.value for level in RiskLevel}
_PENALTY_TYPES = {"WARNING", "CRITICISM", "FINE", "CONFISCATION", "LICENCE_SUSPENSION",
                  "LICENCE_REVOCATION", "PRODUCTION_SUSPENSION", "CLOSURE", "DETENTION"}


def _optional_flag(reader: _Reader, doc: Any, dotted: str, default: bool = True) -> bool:
    """A true/false setting that older rule documents (kept in the platform database)
    may not have yet: absent means ``default``."""
    parent, _, name = dotted.rpartition(".")
    node = doc
    for part in parent.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or name not in node:
        return default
    return reader.flag(doc, dotted)


def _warnings(reader: _Reader) -> WarningRules:
    doc = reader.document()
    if reader.get(doc, "lifecycle.cycle") != "calendar_year":
        reader.problems.append(f"{reader.path}: lifecycle.cycle: only calendar_year is known")
    lifecycle = Lifecycle(
        listings_in_force_count=reader.flag(doc, "lifecycle.listings_in_force_count"),
        not_published=reader.names(doc, "lifecycle.penalty_publicity.not_published",
                                   _PENALTY_TYPES),
        short_types=reader.names(doc, "lifecycle.penalty_publicity.short_types", _PENALTY_TYPES),
        short_months=reader.integer(doc, "lifecycle.penalty_publicity.short_months"),
        small_fine_max_yuan=reader.number(doc, "lifecycle.penalty_publicity.small_fine_max_yuan"),
        default_months=reader.integer(doc, "lifecycle.penalty_publicity.default_months"),
        disputed_records_count=_optional_flag(reader, doc, "lifecycle.disputed_records_count"),
    )
    return WarningRules(
        lifecycle=lifecycle,
        yellow_levels=frozenset(RiskLevel(v) for v in reader.names(
            doc, "single_agency.yellow.risk_levels", _RISKS)),
        orange_levels=frozenset(RiskLevel(v) for v in reader.names(
            doc, "single_agency.orange.risk_levels", _RISKS)),
        orange_min_records=reader.integer(doc, "single_agency.orange.min_records", 1),
        orange_window_days=reader.integer(doc, "single_agency.orange.window_days", 1),
        red_min_agencies=reader.integer(doc, "cross_agency.red.min_agencies", 2),
        person_propagation=reader.flag(doc, "person_propagation"),
    )


def _condition(reader: _Reader, raw: Any, where: str) -> GradeCondition | None:
    if not isinstance(raw, dict):
        reader.problems.append(f"{reader.path}: {where}: must be a mapping")
        return None
    known = {"record", "in_force", "counted", "risk_at_least", "listed_days_at_least"}
    for key in raw:
        if key not in known:
            reader.problems.append(f"{reader.path}: {where}: unknown key {key!r} "
                                   f"(known: {', '.join(sorted(known))})")
    record = raw.get("record")
    if record != "any" and record not in RECORD_TYPES:
        reader.problems.append(f"{reader.path}: {where}.record: a record type or any, "
                               f"got {record!r}")
    risk = raw.get("risk_at_least")
    if risk is not None and risk not in _RISKS:
        reader.problems.append(f"{reader.path}: {where}.risk_at_least: LOW, MEDIUM or HIGH")
        risk = None
    days = raw.get("listed_days_at_least")
    if days is not None and (not isinstance(days, int) or days < 0):
        reader.problems.append(f"{reader.path}: {where}.listed_days_at_least: days >= 0")
        days = None
    return GradeCondition(
        record=None if record == "any" else str(record),
        in_force=bool(raw.get("in_force", False)),
        counted=bool(raw.get("counted", False)),
        risk_at_least=RiskLevel(risk) if risk else None,
        listed_days_at_least=days,
    )


def _grades(reader: _Reader) -> GradeRules:
    doc = reader.get(reader.document(), "grades")
    if not isinstance(doc, dict):
        reader.problems.append(f"{reader.path}: grades: required, with A, B, C and D")
        doc = {}
    rules = []
    for letter in ("D", "C", "B", "A"):
        raw = doc.get(letter)
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            reader.problems.append(f"{reader.path}: grades.{letter}: required, with a name")
            raw = {"name": letter}
        when = raw.get("when") or []
        if letter != "A" and (not isinstance(when, list) or not when):
            reader.problems.append(f"{reader.path}: grades.{letter}.when: at least one "
                                   "condition")
            when = []
        conditions = [_condition(reader, c, f"grades.{letter}.when[{i}]")
                      for i, c in enumerate(when)]
        rules.append(GradeRule(Grade(letter), str(raw["name"]), str(raw.get("meaning", "")),
                               tuple(c for c in conditions if c is not None)))
    return GradeRules(tuple(rules[:3]), rules[3])


def _actions(reader: _Reader) -> dict[str, ActionRules]:
    doc = reader.get(reader.document(), "actions")
    if not isinstance(doc, dict):
        reader.problems.append(f"{reader.path}: actions: required")
        return {}
    for code in REQUIRED_ACTIONS:
        if code not in doc:
            reader.problems.append(f"{reader.path}: actions.{code}: missing (required action)")
    actions = {}
    for code, raw in doc.items():
        where = f"actions.{code}"
        if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
            reader.problems.append(f"{reader.path}: {where}: needs a name and rules")
            continue
        rules = []
        for index, rule in enumerate(raw["rules"]):
            at = f"{where}.rules[{index}]"
            if not isinstance(rule, dict):
                reader.problems.append(f"{reader.path}: {at}: must be a mapping")
                continue
            grade, warning = rule.get("grade"), rule.get("warning")
            decision, measure = rule.get("decision"), rule.get("measure")
            if (grade is None) == (warning is None):
                reader.problems.append(f"{reader.path}: {at}: give exactly one of grade, warning")
            elif grade is not None and grade not in {g.value for g in Grade}:
                reader.problems.append(f"{reader.path}: {at}.grade: A, B, C or D")
            elif warning is not None and warning not in {w.value for w in WarningLevel}:
                reader.problems.append(f"{reader.path}: {at}.warning: NONE, YELLOW, ORANGE "
                                       "or RED")
            elif decision not in ("ALLOWED", "RESTRICTED", "PROHIBITED"):
                reader.problems.append(f"{reader.path}: {at}.decision: ALLOWED, RESTRICTED "
                                       "or PROHIBITED")
            elif not isinstance(measure, str) or not measure:
                reader.problems.append(f"{reader.path}: {at}.measure: the measure's text")
            else:
                rules.append(RestrictionRule(
                    Decision(decision), measure,
                    grade=Grade(grade) if grade else None,
                    warning=WarningLevel(warning) if warning else None,
                ))
        actions[str(code)] = ActionRules(str(code), str(raw.get("name", code)), tuple(rules))
    named: dict[str, str] = {}
    for code in actions:
        other = named.setdefault(enum_name(code), code)
        if other != code:
            reader.problems.append(
                f"{reader.path}: actions.{code}: gives the same GraphQL enum value "
                f"{enum_name(code)} as actions.{other}; rename one of them")
    return actions


def load_rules(source: RulesSource) -> RuleSet:
    """The rules of ``source``: the policies folder, or the texts by file name
    (``{"warnings.yaml": ..., "grades.yaml": ..., "restrictions.yaml": ...}``);
    ``RulesError`` lists all problems."""
    problems: list[str] = []
    warnings = _warnings(_Reader(source, "warnings.yaml", problems))
    grades = _grades(_Reader(source, "grades.yaml", problems))
    actions = _actions(_Reader(source, "restrictions.yaml", problems))
    inspections = None
    try:
        inspections = load_inspections(_with_inspections(source))
    except InspectionsError as error:
        problems += error.problems
    statistics = None
    try:
        statistics = load_statistics(_with_bundled(source, STATISTICS_FILE), roles=ROLES,
                                     purposes=PURPOSES)
    except StatisticsError as error:
        problems += error.problems
    if problems or inspections is None or statistics is None:
        raise RulesError(problems)
    return RuleSet(warnings, grades, actions, inspections, statistics)


def _with_bundled(source: RulesSource, name: str) -> RulesSource:
    """``source``, or - for a platform database seeded before the file ``name``
    existed, which has no such document - the bundled policies folder."""
    if isinstance(source, Path) or name in source:
        return source
    return policy_dir()


def _with_inspections(source: RulesSource) -> RulesSource:
    """``source``, or - for a platform database seeded before inspections.yaml existed,
    which has no such document - the bundled policies' inspections.yaml."""
    if isinstance(source, Path) or INSPECTIONS_FILE in source:
        return source
    return policy_dir()
