"""Statistics (决策分析) in the graph: ``statistics`` and ``statisticsTrend``.

The figures are counted from the caller's own view (``schema.statistics_compute``),
answered as policies/statistics.yaml says (``schema.statistics_source``): exact to
departments that declare the purpose STATISTICS, protected for the public
(``schema.suppression``: small cells suppressed, and no suppressed cell can be worked
out from the published numbers).
"""

from __future__ import annotations

import calendar
import datetime as dt

import strawberry

from schema.connection import EnterpriseFilter
from schema.context import RequestContext
from schema.errors import BadUserInput
from schema.statistics_compute import Dimension, Key, Selection, Table, Unit
from schema.statistics_source import Answering, StatisticsReader, answering
from schema.suppression import protect

__all__ = ["Statistics", "StatisticsCell", "StatisticsQuery"]

Info = strawberry.Info[RequestContext, None]

strawberry.enum(Dimension, name="StatisticsDimension", description=(
    "What statistics are grouped by. Enterprise dimensions (count enterprises): DISTRICT "
    "(division code), INDUSTRY, WARNING_LEVEL (预警, as of asOf, on your basis), "
    "CREDIT_GRADE (信用等级). Record dimensions (count records): AGENCY (the owner "
    "agency), RECORD_TYPE (Penalty, Anomaly, SeriousViolation, JudgmentDefault, "
    "Inspection), MONTH (YYYY-MM of the record's date)."))
strawberry.enum(Unit, name="StatisticsUnit", description=(
    "What a count counts: ENTERPRISES when every dimension is an enterprise's, RECORDS "
    "when one is a record's (each record once, under its enterprise's values too)."))


@strawberry.type(description="One group: its keys (one per groupBy dimension, in order) "
                             "and its count.")
class StatisticsCell:
    keys: list[str | None] = strawberry.field(description=(
        "One value per groupBy dimension, in order; null where the value is missing or "
        "one you may not read."))
    count: int | None = strawberry.field(description=(
        "Enterprises or records (see unit) in the group; null when suppressed."))
    suppressed: bool = strawberry.field(description=(
        "True when the count is withheld to protect small groups (统计保密) - because it "
        "is small, or because it would let a small one be worked out."))


@strawberry.type(description=(
    "Figures counted from the records and values you may see (决策分析). Groups with "
    "nothing in them are not listed. For protected callers (the public) a cell below "
    "the threshold is suppressed, and so are other cells or the total where needed so "
    "that no suppressed cell can be worked out by subtraction."))
class Statistics:
    group_by: list[Dimension] = strawberry.field(description="The dimensions, in key order.")
    unit: Unit = strawberry.field(description="What the counts count.")
    as_of: dt.date = strawberry.field(description="The day the figures are as of.")
    cells: list[StatisticsCell] = strawberry.field(description=(
        "The groups, ordered by their keys (nulls last)."))
    total: int | None = strawberry.field(description=(
        "The sum of every cell's count (suppressed ones too); null when withheld to "
        "protect a suppressed cell."))
    suppressed_cells: int = strawberry.field(description="How many cells are suppressed.")
    protected: bool = strawberry.field(description=(
        "True when small groups are protected in this answer (policies/statistics.yaml)."))
    threshold: int | None = strawberry.field(description=(
        "The smallest count shown when protected; null for exact figures."))
    missing_agencies: list[str] = strawberry.field(description=(
        "Agencies that could not be read: their records are not counted (an error names "
        "each)."))


def _order(key: Key) -> tuple[tuple[bool, str], ...]:
    return tuple((value is None, value or "") for value in key)


def _present(table: Table, how: Answering, missing: list[str]) -> Statistics:
    keys = sorted(table.cells, key=_order)
    if how.protected:
        published = protect(table.cells, how.threshold, list(keys))
        counts, total = published.cells, published.total
    else:
        counts, total = {key: table.cells[key].count for key in keys}, table.total
    cells = [StatisticsCell(keys=list(key), count=counts[key], suppressed=counts[key] is None)
             for key in keys]
    return Statistics(
        group_by=list(table.group_by), unit=table.unit, as_of=table.as_of, cells=cells,
        total=total, suppressed_cells=sum(1 for cell in cells if cell.suppressed),
        protected=how.protected, threshold=how.threshold if how.protected else None,
        missing_agencies=missing)


def _selection(condition: EnterpriseFilter | None) -> Selection:
    if condition is None:
        return Selection()
    return Selection(
        name_contains=condition.name_contains or None, industry=condition.industry,
        district_code=condition.district_code,
        status=condition.status.value if condition.status is not None else None,
        has_records_from=condition.has_records_from, warning_level=condition.warning_level,
        credit_grade=condition.credit_grade)


def month_ends(today: dt.date, months: int) -> list[dt.date]:
    """The last day of each of the ``months`` months up to this one, oldest first (this
    month's: ``today``)."""
    days = []
    year, month = today.year, today.month
    for _ in range(months):
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        days.append(min(last, today))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return days[::-1]


@strawberry.type
class StatisticsQuery:
    @strawberry.field(description=(
        "Figures for a district's leaders (决策分析): enterprises (or their records) meeting "
        "the filter, counted per group of groupBy, as of asOf (default today), from what "
        "you may see. Departments declare the purpose STATISTICS (else PURPOSE_REQUIRED); "
        "the public gets protected figures (see Statistics)."))
    async def statistics(self, info: Info, group_by: list[Dimension],
                         filter: EnterpriseFilter | None = None,
                         as_of: dt.date | None = None) -> Statistics:
        context = info.context
        how = answering(context.rules.statistics, context.view)
        day = as_of or context.today
        if day > context.today:
            raise BadUserInput(f"asOf {day.isoformat()} is after today "
                               f"({context.today.isoformat()}); figures exist only up to "
                               "today.", argument="asOf")
        reader = StatisticsReader(context, info.path.as_list(), tuple(group_by),
                                  _selection(filter))
        await reader.read()
        return _present(await reader.table(day), how, reader.missing)

    @strawberry.field(description=(
        "The same figures month by month for a dashboard: one Statistics per month for "
        "the last `months` months (default 24), oldest first, each as of the month's last "
        "day (this month's: today). Asked like statistics; each month is protected on its "
        "own."))
    async def statistics_trend(self, info: Info, group_by: list[Dimension],
                               filter: EnterpriseFilter | None = None,
                               months: int = 24) -> list[Statistics]:
        context = info.context
        how = answering(context.rules.statistics, context.view)
        if not 1 <= months <= how.max_trend_months:
            raise BadUserInput(f"months must be from 1 to {how.max_trend_months}, got "
                               f"{months}.", argument="months")
        reader = StatisticsReader(context, info.path.as_list(), tuple(group_by),
                                  _selection(filter))
        await reader.read()
        return [_present(table, how, reader.missing)
                for table in await reader.tables(month_ends(context.today, months))]
