"""The rule files beside the access policy, read together: the warning, grade and
restriction rules (``RuleSet``), the rate limits and the audit alert rules.

Read from the policies folder, or (``policies.store: database``) from the platform
database's documents by file name, with the same checks and messages either way; a
database document is named ``warnings.yaml (platform database)`` in them::

    documents = {"warnings.yaml": "...", "grades.yaml": "...", ...}
    loaded = load_rule_documents(documents)   # RuleDocumentsError lists every problem
    loaded.rules.actions                      # the restriction catalogue

``check_document`` is what ``gateway policy set-file`` asks before it replaces one
document: the whole set, with the new text in place, must load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from gateway.audit_alerts import AlertRules, AlertRulesError, parse_alert_rules
from gateway.rate_limits import FILE as RATE_LIMITS_FILE
from gateway.rate_limits import RateLimits, RateLimitsError, load_rate_limits
from gateway.rules_files import RULE_FILES, RulesError, RulesSource, load_rules, read_text
from schema.rules.model import RuleSet

__all__ = ["AUDIT_FILE", "RULE_DOCUMENTS", "RuleDocuments", "RuleDocumentsError",
           "check_document", "load_rule_documents"]

AUDIT_FILE = "audit.yaml"
# the documents read here, by file name
RULE_DOCUMENTS = (*RULE_FILES, RATE_LIMITS_FILE, AUDIT_FILE)


class RuleDocumentsError(Exception):
    """A rule document is missing or invalid; ``problems`` name the file and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid rules:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RuleDocuments:
    """What the rule documents say, loaded."""

    rules: RuleSet  # warnings, grades, the restriction catalogue
    rate_limits: RateLimits
    alerts: AlertRules


def load_rule_documents(source: RulesSource) -> RuleDocuments:
    """Every rule document of ``source`` (the policies folder, or the texts by file
    name), loaded and checked; ``RuleDocumentsError`` lists all their problems."""
    problems: list[str] = []
    rules = rate_limits = alerts = None
    try:
        rules = load_rules(source)
    except RulesError as error:
        problems += error.problems
    try:
        rate_limits = load_rate_limits(source)
    except RateLimitsError as error:
        problems += error.problems
    text, where = read_text(source, AUDIT_FILE)
    try:
        alerts = parse_alert_rules(text, where)
    except AlertRulesError as error:
        problems += [line.strip() for line in str(error).splitlines()
                     if line.strip() and line.strip() != "invalid audit rules:"]
    if rules is None or rate_limits is None or alerts is None:
        raise RuleDocumentsError(problems)
    return RuleDocuments(rules, rate_limits, alerts)


def check_document(documents: Mapping[str, str], name: str, text: str) -> None:
    """Whether ``documents`` with ``name`` replaced by ``text`` still load (the rule
    documents; any other YAML document must at least parse): ``RuleDocumentsError``
    if not. The access policy's own documents (model.conf, derivation.yaml) are
    checked by ``build_policy``."""
    if name in RULE_DOCUMENTS:
        load_rule_documents({**documents, name: text})
    elif name.endswith(".yaml"):
        try:
            yaml.safe_load(text)
        except yaml.YAMLError:
            raise RuleDocumentsError([f"{name}: is not valid YAML"]) from None
