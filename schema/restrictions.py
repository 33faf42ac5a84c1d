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
from schema.access import Basis
from schema.context import RequestContext
from schema.errors import BadUserInput, Forbidden, InvalidCreditCode
from schema.gather import Path, prefetch_checked
from schema.risk import (
    RISK_TYPES,
    Subject,
    collect_many,
    enterprise_subject,
    grade_of,
    warning_of,
)
from schema.risk_types import RestrictionDecision, RestrictionReason, SourceFreshness
from schema.rules.model import Decision
from schema.rules.restrictions import decide

__all__ = ["MAX_BATCH", "check_restrictions", "decide_many"]

Info = strawberry.Info[RequestContext, None]
MAX_BATCH = 10_000


def _authorize(info: Info) -> None:
    view = info.context.view
    if view.policy is None:
        return
    # A decision draws on every agency's records, NOT_OPEN ones included, so it is
    # asked for at that level: only explicit grants (approval purposes, admin) reach it.
    if not view.policy.allowed(view.clearance, "RestrictionDecision", Openness.NOT_OPEN,
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
    info.context.reusable = False  # a decision reports its sources' availability
    decisions = await decide_many(info.context, info.path.as_list(), credit_codes, action, as_of)
    info.context.decisions.extend(
        {"creditCode": d.credit_code, "action": d.action, "decision": d.decision.value}
        for d in decisions)
    info.context.view.touched_codes.update(d.credit_code for d in decisions)
    return decisions


def _freshness(context: RequestContext, agency: str, missing: Sequence[str]) -> float | None:
    """The most the data of ``agency`` may be old: its cache lifetime, plus the stale
    period when a stale copy served. A bound, never the exact age, which would tell
    the caller when somebody else last asked the agency (the record cache is shared)."""
    if agency in missing:
        return None
    spec = context.sources.spec(agency)
    bound = float(spec.cache_ttl_s)
    if agency in context.loaders.stale:
        bound += spec.stale_if_error_s
    return bound


async def decide_many(
    context: RequestContext, path: Path, credit_codes: Sequence[str], action: str,
    as_of: dt.date | None,
) -> list[RestrictionDecision]:
    """The decisions (plain: no GraphQL here), on the basis the policy sets for
    ``RestrictionDecision`` (ALL by default: every agency's records)."""
    rules = context.rules.actions.get(action)
    if rules is None:
        raise BadUserInput(f"Unknown action {action!r}; the catalogue has: "
                           f"{', '.join(context.rules.actions)}.", argument="action")
    if not 1 <= len(credit_codes) <= MAX_BATCH:
        raise BadUserInput(f"Give 1 to {MAX_BATCH} credit codes, got {len(credit_codes)}.",
                           argument="creditCodes")
    codes = _codes(credit_codes)
    day = as_of or context.today
    view = context.view
    basis = view.basis("RestrictionDecision")
    registry, registry_failed = await prefetch_checked(
        context, path, "enterprise", "credit_code", codes, prime=False, visible_only=False)
    if basis is Basis.VISIBLE:
        registry = [[r for r in found if view.sees(r)] for found in registry]
    subjects = [enterprise_subject(view, found[0], basis) if found else Subject(code, None)
                for code, found in zip(codes, registry, strict=True)]
    found_records = await collect_many(context, path, subjects, basis, prime=False)
    agencies = context.agencies
    consulted = [context.sources.registry.code] + [
        c.code for t in RISK_TYPES for c in context.sources.providers(t)
    ]
    consulted = list(dict.fromkeys(consulted))
    decisions = []
    for code, found, subject, records in zip(codes, registry, subjects, found_records,
                                             strict=True):
        missing = sorted(records.missing | registry_failed)
        sources = [SourceFreshness(agency=agencies[a], available=a not in missing,
                                   freshness=_freshness(context, a, missing))
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
        warning = warning_of(context.rules, records, subject.person_id, day)
        grade = grade_of(context.rules, records, day)
        result = decide(rules, grade, warning, missing)
        decisions.append(RestrictionDecision(
            credit_code=code, action=action, decision=result.decision, grade=grade.grade,
            warning_level=warning.level, sources=sources, as_of=day,
            reasons=[RestrictionReason(rule=r.rule, measure=r.measure,
                                       agencies=[agencies[a] for a in r.agencies])
                     for r in result.reasons],
        ))
    return decisions
