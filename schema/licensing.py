"""Licences after registration (先照后证 · 双告知): ``policies/licensing.yaml``.

Which agencies must be told of a new enterprise because an activity in its business
scope (经营范围) needs their licence (许可), and how long they have to claim it.
Pure: this module reads and checks the file and answers the question; pushing,
claiming and subscriptions use it::

    rules = load_licensing(policy_dir)            # LicensingError names file and field
    rules.agencies_needing_licence("热食类食品制售；住宿服务", "住宿业")   # ("FDA", "FIRE")
    agencies_needing_licence("软件开发", "软件和信息技术服务业", rules)    # ()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["FILE", "LicenceRule", "LicensingError", "LicensingRules",
           "agencies_needing_licence", "load_licensing", "parse_licensing"]

FILE = "licensing.yaml"
_DEFAULT_CLAIM_DAYS = 5


class LicensingError(ValueError):
    """licensing.yaml is missing or invalid; ``problems`` name the file and field (a
    ``ValueError``: ``gateway serve`` reports it as a configuration problem, no start)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid licensing rules:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class LicenceRule:
    """One licence: its agency and what in a registration needs it."""

    licence: str
    agency: str
    scope_keywords: tuple[str, ...] = ()
    industries: frozenset[str] = frozenset()

    def needed_by(self, business_scope: str | None, industry: str | None) -> bool:
        if industry is not None and industry.strip() in self.industries:
            return True
        scope = business_scope or ""
        return any(keyword in scope for keyword in self.scope_keywords)


@dataclass(frozen=True, slots=True)
class LicensingRules:
    """What licensing.yaml says: the licences and the claim deadline."""

    licences: tuple[LicenceRule, ...] = ()
    claim_within_days: int = _DEFAULT_CLAIM_DAYS

    def licences_needed(self, business_scope: str | None,
                        industry: str | None) -> tuple[LicenceRule, ...]:
        """The licences an enterprise of this scope and industry needs, in file order."""
        return tuple(rule for rule in self.licences if rule.needed_by(business_scope, industry))

    def agencies_needing_licence(self, business_scope: str | None,
                                 industry: str | None) -> tuple[str, ...]:
        """Agencies (codes, sorted, each once) whose licence the enterprise needs."""
        return tuple(sorted({r.agency for r in self.licences_needed(business_scope, industry)}))

    @property
    def agencies(self) -> frozenset[str]:
        """Every agency some licence names."""
        return frozenset(rule.agency for rule in self.licences)


def agencies_needing_licence(business_scope: str | None, industry: str | None,
                             rules: LicensingRules) -> tuple[str, ...]:
    """Agencies (codes, sorted, each once) whose licence an enterprise with this business
    scope (经营范围) and industry (行业) needs under ``rules``; () when none."""
    return rules.agencies_needing_licence(business_scope, industry)


def load_licensing(policy_dir: Path) -> LicensingRules:
    """Read and check ``policy_dir/licensing.yaml``."""
    path = policy_dir / FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LicensingError([f"{path}: cannot be read ({error.strerror or error})"]) from None
    return parse_licensing(text, str(path))


def parse_licensing(text: str, name: str = FILE) -> LicensingRules:
    """Check licensing.yaml's text (``name`` is how errors call the file)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise LicensingError([f"{name}:{where} not valid YAML"]) from None
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise LicensingError([f"{name}: the top level must be a mapping with 'licences:'"])
    for key in document:
        if key not in ("push", "licences"):
            problems.append(f"{name}: unknown key {key!r} (expected push, licences)")
    days = _claim_days(document.get("push"), name, problems)
    raw = document.get("licences")
    licences: list[LicenceRule] = []
    if not isinstance(raw, list) or not raw:
        problems.append(f"{name}: licences: a non-empty list of licences is required")
    else:
        for number, entry in enumerate(raw, start=1):
            rule = _licence(entry, f"{name}: licences[{number}]", problems)
            if rule is not None:
                licences.append(rule)
    if problems:
        raise LicensingError(problems)
    return LicensingRules(tuple(licences), days)


def _claim_days(raw: Any, name: str, problems: list[str]) -> int:
    if raw is None:
        return _DEFAULT_CLAIM_DAYS
    if not isinstance(raw, Mapping):
        problems.append(f"{name}: push: must be a mapping (claim_within_days)")
        return _DEFAULT_CLAIM_DAYS
    for key in raw:
        if key != "claim_within_days":
            problems.append(f"{name}: push: unknown key {key!r} (expected claim_within_days)")
    days = raw.get("claim_within_days", _DEFAULT_CLAIM_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        problems.append(f"{name}: push.claim_within_days: {days!r} is not a whole number of "
                        "days from 1 to 365")
        return _DEFAULT_CLAIM_DAYS
    return days


def _licence(raw: Any, where: str, problems: list[str]) -> LicenceRule | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping with licence, agency and "
                        "scope_keywords and/or industries")
        return None
    before = len(problems)
    for key in raw:
        if key not in ("licence", "agency", "scope_keywords", "industries"):
            problems.append(f"{where}: unknown field {key!r} (expected licence, agency, "
                            "scope_keywords, industries)")
    licence = raw.get("licence")
    if not isinstance(licence, str) or not licence.strip():
        problems.append(f"{where}: licence: the licence's name is required")
    agency = raw.get("agency")
    if not isinstance(agency, str) or not agency.strip() or agency != agency.strip():
        problems.append(f"{where}: agency: an agency code is required (e.g. FDA)")
    keywords = _words(raw.get("scope_keywords"), f"{where}: scope_keywords", problems)
    industries = _words(raw.get("industries"), f"{where}: industries", problems)
    if not keywords and not industries and len(problems) == before:
        problems.append(f"{where}: scope_keywords or industries: give at least one, or "
                        "nothing would need this licence")
    if len(problems) > before:
        return None
    assert isinstance(licence, str) and isinstance(agency, str)
    return LicenceRule(licence.strip(), agency, keywords, frozenset(industries))


def _words(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
        problems.append(f"{where}: must be a list of non-empty texts")
        return ()
    return tuple(w.strip() for w in raw)
