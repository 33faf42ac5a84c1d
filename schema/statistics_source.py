"""One request's statistics: who may ask (statistics.yaml), and what is read for it.

Plain functions of the request context (nothing here knows GraphQL). The registry
and its risk records come from the gateway's registry-wide machinery
(``schema.registry_index``, ``schema.registry_risk``), warnings and grades of a day
from the risk index (kept per clearance, policy, rules, day and records version,
like the warningLevel filter's); the counting itself is ``schema.statistics_compute``
through the caller's view.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.errors import SourceError
from connectors.records import Record
from schema.collector import collector_paused
from schema.context import RequestContext
from schema.errors import (
    BadUserInput,
    FilterNotAllowed,
    Forbidden,
    GraphError,
    SourceUnavailableError,
)
from schema.gather import Path
from schema.registry_risk import RegistryRisk, RiskRecords
from schema.risk import RISK_TYPES
from schema.rules.columns import riskless_counted
from schema.rules.model import Grade, WarningLevel
from schema.rules.statistics import EXACT, PROTECTED, StatisticsRules
from schema.statistics_compute import (
    ENTERPRISE_FIELDS,
    Dimension,
    Selection,
    Table,
    candidates,
    levels_by_day,
    registry_levels,
    tabulate,
)
from schema.view import CallerView

__all__ = ["Answering", "GroupingNotAllowed", "PurposeRequired", "StatisticsReader",
           "answering"]

_FILTER_READS = {"name_contains": "name", "industry": "industry",
                 "district_code": "district_code", "status": "status",
                 "warning_level": "warning", "credit_grade": "credit_grade"}
_CAMEL = {"name_contains": "nameContains", "district_code": "districtCode",
          "warning_level": "warningLevel", "credit_grade": "creditGrade"}


class PurposeRequired(GraphError):
    """The caller's role is answered statistics only with a declared purpose."""

    code = "PURPOSE_REQUIRED"


class GroupingNotAllowed(GraphError):
    """A grouping by a value the caller's clearance may never read."""

    code = "GROUPING_NOT_ALLOWED"


@dataclass(frozen=True, slots=True)
class Answering:
    """How this caller is answered: protected figures (with the threshold) or exact."""

    protected: bool
    threshold: int
    max_trend_months: int


def answering(rules: StatisticsRules, view: CallerView) -> Answering:
    """How ``rules`` (statistics.yaml) answer the caller of ``view``; refuses a role not
    listed (``FORBIDDEN``) and one without the purpose its role needs
    (``PURPOSE_REQUIRED``)."""
    if view.policy is None:  # authorization off (benchmarks)
        return Answering(False, rules.threshold, rules.max_trend_months)
    role, purpose = view.clearance.role, view.clearance.purpose
    how = rules.answer_for(role)
    if how is None:
        raise Forbidden(f"Statistics (决策分析) are not answered to the {role} role "
                        "(policies/statistics.yaml lists the roles that may ask).")
    if how not in (EXACT, PROTECTED) and purpose != how:
        declared = f"you declared {purpose}" if purpose else "you declared none"
        raise PurposeRequired(
            f"Statistics (决策分析) for the {role} role need the declared purpose {how} "
            f"({declared}): send the header 'X-Purpose: {how}' with a key allowed to "
            "declare it.", purpose=how)
    return Answering(how == PROTECTED, rules.threshold, rules.max_trend_months)


def _check(context: RequestContext, group_by: tuple[Dimension, ...],
           selection: Selection) -> None:
    """Refuse a repeated dimension, and a filter or grouping on a value the caller may
    never read (it could only learn it from the answer)."""
    repeated = sorted({d.value for d in group_by if group_by.count(d) > 1})
    if repeated:
        raise BadUserInput(f"groupBy names {', '.join(repeated)} more than once; name each "
                           "dimension at most once.", argument="groupBy")
    view, owner = context.view, context.sources.registry.code
    for name, field in _FILTER_READS.items():
        value = getattr(selection, name)
        if value is None or value == "" or view.may_ever_read("Enterprise", field, owner):
            continue
        argument = _CAMEL.get(name, name)
        raise FilterNotAllowed(
            f"filter.{argument} reads a value of Enterprise your clearance may not read; a "
            "caller may filter only on values it may see. Leave it out (or ask with a "
            "purpose that opens the field).", argument=f"filter.{argument}")
    for dimension in group_by:
        read = ENTERPRISE_FIELDS.get(dimension)
        if read is not None and not view.may_ever_read("Enterprise", read, owner):
            raise GroupingNotAllowed(
                f"groupBy {dimension.value} reads a value of Enterprise your clearance may "
                "not read; group only by values you may see.", argument="groupBy")
    if selection.has_records_from is not None and context.sources.get(
            selection.has_records_from) is None:
        known = ", ".join(c.code for c in context.sources.all())
        raise BadUserInput(f"hasRecordsFrom: unknown agency {selection.has_records_from!r}; "
                           f"known: {known}.", argument="filter.hasRecordsFrom")


class _Identity:
    """A key part equal only to the very same object (the rules: not hashable by
    content); holding it keeps its id from being reused meanwhile."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


class StatisticsReader:
    """What one request's statistics are counted from, read once for every day asked
    (a trend asks for 24)."""

    def __init__(self, context: RequestContext, path: Path, group_by: tuple[Dimension, ...],
                 selection: Selection) -> None:
        _check(context, group_by, selection)
        self._context, self._path = context, path
        self.group_by, self.selection = group_by, selection
        self._enterprises: Sequence[Record] = ()
        self._risk: RiskRecords | None = None
        self._built_at = 0.0

    @property
    def missing(self) -> list[str]:
        """Agencies whose records could not be read (their records are not counted)."""
        return sorted(self._risk.missing) if self._risk is not None else []

    async def read(self) -> None:
        context, loaders = self._context, self._context.loaders
        try:
            snapshot = await context.index.snapshot(loaders.ages)
        except SourceError as error:
            raise SourceUnavailableError(
                f"The registry (agency {error.agency}) could not be listed: {error.reason}. "
                "Retry later.", agency=error.agency) from None
        self._enterprises, self._built_at = snapshot.enterprises, snapshot.built_at
        wants = set(self.group_by)
        need_records = any(d.of_records for d in wants) or bool(self.selection.has_records_from)
        need_levels = bool(wants & {Dimension.WARNING_LEVEL, Dimension.CREDIT_GRADE}) or (
            self.selection.warning_level is not None or self.selection.credit_grade is not None)
        if not (need_records or need_levels):
            return
        # counting records needs them all; levels need only those the rules may count
        riskless = frozenset(RISK_TYPES) if need_records else riskless_counted(context.rules)
        store = context.registry_risk or RegistryRisk(context.sources.providers)
        self._risk = context.overlay.amend_risk(
            await store.records(snapshot, loaders.ages, loaders.stale, riskless))
        for failure in self._risk.failed:
            context.failures.add(failure, self._path)

    def _wants(self, derived: str) -> bool:
        wants, selection = set(self.group_by), self.selection
        if derived == "Enterprise.warning":
            return Dimension.WARNING_LEVEL in wants or selection.warning_level is not None
        return Dimension.CREDIT_GRADE in wants or selection.credit_grade is not None

    async def table(self, as_of: dt.date) -> Table:
        """The exact counts as of ``as_of`` (``read`` first). Warnings and grades are
        those of the whole registry, kept in the risk index (the next question of the
        same clearance on the same day reuses them)."""
        warnings = grades = None
        if self._wants("Enterprise.warning"):
            warnings = await self._levels("Enterprise.warning", as_of)
        if self._wants("Enterprise.creditGrade"):
            grades = await self._levels("Enterprise.creditGrade", as_of)
        records = self._risk.by_code if self._risk is not None else {}
        with collector_paused():
            return tabulate(self._context.view, self._enterprises, records, self.selection,
                            self.group_by, as_of, warnings=warnings, grades=grades)

    async def tables(self, days: list[dt.date]) -> list[Table]:
        """The exact counts as of each of ``days`` (a trend; ``read`` first). Warnings and
        grades are computed for the enterprises meeting the filter only - a district's
        dashboard does not pay for the whole registry - with each enterprise's records
        gathered once for all days; they are not kept (a past month's figures are asked
        for once per dashboard load). Seconds of CPU over a large registry: counted in a
        worker thread, so that the gateway's other requests go on meanwhile (the records
        and rules are only read; the view's memos are dictionaries filled with the same
        value whoever fills them, safe beside this request's other resolvers)."""
        return await asyncio.to_thread(self._tables, days)

    def _tables(self, days: list[dt.date]) -> list[Table]:
        view, risk, rules = self._context.view, self._risk, self._context.rules
        records = risk.by_code if risk is not None else {}
        with collector_paused():
            chosen = candidates(view, self._enterprises, self.selection)
            found: dict[str, list[dict[str, WarningLevel | Grade]]] = {}
            for derived in ("Enterprise.warning", "Enterprise.creditGrade"):
                if self._wants(derived):
                    assert risk is not None
                    found[derived] = levels_by_day(view, rules, chosen, risk,
                                                   view.basis(derived), derived, days)
            warnings, grades = found.get("Enterprise.warning"), found.get("Enterprise.creditGrade")
            return [tabulate(view, chosen, records, self.selection, self.group_by, day,
                             warnings=warnings[i] if warnings is not None else None,
                             grades=grades[i] if grades is not None else None)
                    for i, day in enumerate(days)]

    async def _levels(self, derived: str, as_of: dt.date) -> dict[str, WarningLevel | Grade]:
        context, risk = self._context, self._risk
        assert risk is not None
        view = context.view
        basis = view.basis(derived)
        # the policy and rule objects themselves: a reloaded file is a new key
        key = ("statistics", view.clearance, view.policy, _Identity(context.rules), as_of,
               self._built_at, basis, derived, risk.version)
        enterprises = self._enterprises

        async def build() -> tuple[dict[str, WarningLevel | Grade], bool]:
            with collector_paused():
                return (registry_levels(view, context.rules, enterprises, risk, basis, derived,
                                        as_of), not risk.failed)

        return await context.risk_index.levels(key, build)

