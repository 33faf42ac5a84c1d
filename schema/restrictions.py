"""Restriction checks for approval systems (联合惩戒, 一处违法处处受限).

Unlike warnings in the graph, a decision is computed from *every* agency's records:
an approval must never be granted because a record was hidden from the system
asking. That is why a decision is released only to callers the policy clears for
``RestrictionDecision``, and why it names rules, measures and agencies - never the
records. A needed agency that cannot be read makes the decision INDETERMINATE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import strawberry

from connectors.standard import Openness
from schema.context import RequestContext
from schema.errors import BadUserInput, GraphError, InvalidCreditCode
from schema.gather import prefetch_checked
from schema.risk import RISK_TYPES, collect_many, grade_of, warning_of
from schema.risk_types import RestrictionDecision, RestrictionReason, SourceFreshness
from schema.rules.model import Decision
from schema.rules.restrictions import decide

__all__ = ["MAX_BATCH", "Forbidden", "check_restrictions"]

Info = strawberry.Info[RequestContext, None]
MAX_BATCH = 10_000


class Forbidden(GraphError):
    code = "FORBIDDEN"


def _authorize(info: Info) -> None:
    access = info.context.access
    if access.policy is None:
        return
    # A decision draws on every agency's records, NOT_OPEN ones included, so it is
    # asked for at that level: only explicit grants (approval purposes, admin) reach it.
    if not access.policy.allowed(access.clearance, "RestrictionDecision", Openness.NOT_OPEN,
                                 "-"):
        raise Forbidden(
            "Restriction checks are released only to callers cleared for them (approval "
            "systems declaring an approval purpose such as LICENCE_APPROVAL, or "
            "administrators).")


def _codes(values: Sequence[str]) -> list[str]:
    from connectors.credit_code import credit_code_problem

    codes = [value.strip().upper() for value in values]
    bad = [value for value, code in zip(values, codes, strict=True)
           if credit_code_problem(code) is not None]
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise InvalidCreditCode(
            f"{len(bad)} value(s) are not valid unified social credit codes "
            f"(GB 32100-2015): {shown}.", creditCodes=bad[:20])
    return codes


async def check_restrictions(
    info: Info, credit_codes: Sequence[str], action: str, as_of: dt.date | None
) -> list[RestrictionDecision]:
    """Decisions for many enterprises: one call per agency and record type for all."""
    _authorize(info)
    context = info.context
    context.reusable = False  # a decision reports its sources' availability and freshness
    rules = context.rules.actions.get(action)
    if rules is None:
        raise BadUserInput(f"Unknown action {action!r}; the catalogue has: "
                           f"{', '.join(context.rules.actions)}.", argument="action")
    if not 1 <= len(credit_codes) <= MAX_BATCH:
        raise BadUserInput(f"Give 1 to {MAX_BATCH} credit codes, got {len(credit_codes)}.",
                           argument="creditCodes")
    codes = _codes(credit_codes)
    day = as_of or context.today
    path = info.path.as_list()
    registry, registry_failed = await prefetch_checked(
        info, "enterprise", "credit_code", codes, path, prime=False, visible_only=False)
    person_ids = [
        next((str(r.values["legal_rep_id"]) for r in found if r.values.get("legal_rep_id")),
             None)
        for found in registry
    ]
    subjects = await collect_many(info, codes, person_ids, path, visible_only=False,
                                  prime=False)
    agencies = context.agencies
    consulted = [context.sources.registry.code] + [
        c.code for t in RISK_TYPES for c in context.sources.providers(t)
    ]
    consulted = list(dict.fromkeys(consulted))
    decisions = []
    for code, found, subject, person_id in zip(codes, registry, subjects, person_ids,
                                               strict=True):
        missing = sorted(subject.missing | registry_failed)
        ages = context.loaders.ages
        sources = [SourceFreshness(agency=agencies[a], available=a not in missing,
                                   freshness=None if a in missing else round(ages.get(a, 0.0), 3))
                   for a in consulted]
        if not found and not registry_failed:
            decisions.append(RestrictionDecision(
                credit_code=code, action=action, decision=Decision.INDETERMINATE, grade=None,
                warning_level=None, sources=sources, as_of=day,
                reasons=[RestrictionReason(
                    rule="NOT_IN_REGISTRY",
                    measure="The registry has no enterprise with this code; check the code "
                            "before deciding.",
                    agencies=[agencies[context.sources.registry.code]])],
            ))
            continue
        warning = warning_of(context.rules, subject, person_id, day)
        grade = grade_of(context.rules, subject, day)
        result = decide(rules, grade, warning, missing)
        decisions.append(RestrictionDecision(
            credit_code=code, action=action, decision=result.decision, grade=grade.grade,
            warning_level=warning.level, sources=sources, as_of=day,
            reasons=[RestrictionReason(rule=r.rule, measure=r.measure,
                                       agencies=[agencies[a] for a in r.agencies])
                     for r in result.reasons],
        ))
    return decisions
