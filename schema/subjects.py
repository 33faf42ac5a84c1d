"""The subjects of the graph: ``Enterprise`` (市场主体) and ``Person`` (法定代表人/负责人).

Presentation only: their record lists come through the caller's view
(``schema.gather``), their warnings and grades from ``schema.risk`` on the basis the
policy sets; a list, link or derived field the caller may not read is empty or null
and reported like any hidden field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import strawberry

from connectors.records import Record as SourceRecord
from schema.access import Basis
from schema.context import RequestContext
from schema.enums import EnterpriseStatus
from schema.gather import gather_records, sort_records
from schema.period import RecordPeriod, in_period
from schema.records import (
    Anomaly,
    Inspection,
    JudgmentDefault,
    Licence,
    Penalty,
    Record,
    SeriousViolation,
    build_record,
)
from schema.redaction import note_redactions
from schema.risk import (
    SubjectRecords,
    collect,
    enterprise_subject,
    grade_of,
    person_subject,
    warning_of,
)
from schema.risk_graph import grade_graph, shown_filter, warning_graph
from schema.risk_types import CreditGrade, Warning

__all__ = [
    "ENTERPRISE_LISTS",
    "Enterprise",
    "Person",
    "enterprise_from",
    "enterprises_from",
    "person_from",
]

Info = strawberry.Info[RequestContext, None]
T = TypeVar("T")


def _path(info: Info) -> list[str | int]:
    return info.path.as_list()


def where(info: Info) -> str:
    """``Type.field`` of the field being resolved (the access log's field paths)."""
    raw = info._raw_info
    return f"{raw.parent_type.name}.{raw.field_name}"


def _build(info: Info, cls: type[T], records: list[SourceRecord]) -> list[T]:
    """Graph objects for the caller's copies, hidden fields reported."""
    context = info.context
    agencies, view = context.agencies, context.view
    if records:
        view.report(where(info), records)
    if view.policy is None:
        return [build_record(cls, r, agencies[r.agency]) for r in records]
    built = []
    for record in records:
        hidden = view.hidden(record)
        if hidden:
            note_redactions(info, hidden)
        built.append(build_record(cls, record, agencies[record.agency], hidden))
    return built


async def _about(info: Info, cls: type[T], record_type: str, column: str, key: str,
                 period: RecordPeriod) -> list[T]:
    records = await gather_records(info.context, _path(info), record_type, column, key)
    return _build(info, cls, in_period(records, period, info.context.today))


async def _then(pending: Awaitable[Any], build: Callable[[Any], T]) -> T:
    return build(await pending)


def _withheld_list() -> list[Any]:
    """A record list the caller may not read on this subject: empty (the subject's
    builder reported it with the subject's other hidden fields)."""
    return []


# GraphQL list field of Enterprise -> record type, for lookahead prefetching.
ENTERPRISE_LISTS = {
    "licences": "licence",
    "penalties": "penalty",
    "anomalies": "anomaly",
    "seriousViolations": "serious_violation",
    "judgmentDefaults": "judgment_default",
    "inspections": "inspection",
}
# derived value -> the python name of its field (``hidden`` holds python names)
_DERIVED_FIELDS = {"Enterprise.warning": "warning", "Enterprise.creditGrade": "credit_grade"}
_LIST_NAMES = {
    "licence": "licences", "penalty": "penalties", "anomaly": "anomalies",
    "serious_violation": "serious_violations", "judgment_default": "judgment_defaults",
    "inspection": "inspections",
}


@strawberry.type(
    description=(
        "A market entity (市场主体): company, partnership or individual business, identified "
        "by its unified social credit code. Its registry fields come from the registry "
        "agency; its record lists gather every agency's records (主体名下归风险)."
    )
)
class Enterprise(Record):
    credit_code: str = strawberry.field(
        description="Unified social credit code (统一社会信用代码, GB 32100-2015)."
    )
    name: str | None = strawberry.field(description="Registered name (名称).")
    entity_type: str | None = strawberry.field(description="Entity type (主体类型).")
    legal_rep_id: str | None = strawberry.field(
        description="Person id of the legal representative (法定代表人)."
    )
    legal_rep_name: str | None = strawberry.field(
        description="Name of the legal representative (法定代表人姓名)."
    )
    registered_capital: float | None = strawberry.field(
        description="Registered capital in 10,000 yuan (注册资本，万元)."
    )
    established_on: dt.date | None = strawberry.field(description="Date of establishment.")
    status: EnterpriseStatus | None = strawberry.field(description="Registration status.")
    address: str | None = strawberry.field(description="Registered address (住所).")
    district_code: str | None = strawberry.field(
        description="Administrative division code, 6 digits (行政区划代码)."
    )
    industry: str | None = strawberry.field(description="Industry (行业).")
    registering_agency: str | None = strawberry.field(description="Registering authority.")
    business_scope: str | None = strawberry.field(
        description="Business scope (经营范围) as registered; an activity in it may need a "
                    "licence after registration (先照后证, policies/licensing.yaml).")

    hidden: strawberry.Private[frozenset[str]] = frozenset()
    # the raw registry record (what derivations on the ALL basis start from)
    source: strawberry.Private[SourceRecord | None] = None
    # Records fetched ahead for a whole page (record type -> the caller's copies), so
    # the list fields below answer synchronously; absent, they load through the loaders.
    prefetched: strawberry.Private[dict[str, list[SourceRecord]] | None] = None
    # Records of warnings and grades fetched ahead, per derivation basis.
    risk: strawberry.Private[dict[Basis, SubjectRecords] | None] = None

    def _subject_records(self, info: Info, basis: Basis,
                         ) -> SubjectRecords | Awaitable[SubjectRecords]:
        kept = self.risk.get(basis) if self.risk else None
        if kept is not None:
            return kept
        assert self.source is not None
        subject = enterprise_subject(info.context.view, self.source, basis)
        return collect(info.context, _path(info), subject, basis)

    def _derived(self, info: Info, derived: str, as_of: dt.date | None,
                 make: Callable[[SubjectRecords, dt.date], T]) -> T | None:
        if self.source is None or _DERIVED_FIELDS[derived] in self.hidden:
            return None
        day = as_of or info.context.today
        basis = info.context.view.basis(derived)
        found = self._subject_records(info, basis)
        if isinstance(found, SubjectRecords):
            return make(found, day)
        return cast(T, _then(found, lambda ready: make(ready, day)))

    def _shown(self, info: Info, found: SubjectRecords) -> Callable[[SourceRecord], bool]:
        assert self.source is not None
        view = info.context.view
        source = self.source
        return shown_filter(view, found,
                            lambda: enterprise_subject(view, source, Basis.VISIBLE))

    def _person_for(self, found: SubjectRecords) -> str | None:
        assert self.source is not None
        person = self.source.values.get("legal_rep_id")
        return person if isinstance(person, str) else None

    @strawberry.field(description=(
        "Warning computed on read (预警) from your view of the records (or from every "
        "agency's, where policies/derivation.yaml says so: see derivedFrom); asOf "
        "reproduces the warning in force on a past day (default: today)."))
    def warning(self, info: Info, as_of: dt.date | None = None) -> Warning | None:
        def make(found: SubjectRecords, day: dt.date) -> Warning:
            result = warning_of(info.context.rules, found, self._person_for(found), day)
            return warning_graph(info, result, found, self._shown(info, found), day)

        return self._derived(info, "Enterprise.warning", as_of, make)

    @strawberry.field(description=(
        "Credit grade computed on read (信用等级 A-D) from your view of the records (or "
        "from every agency's, where policies/derivation.yaml says so)."))
    def credit_grade(self, info: Info, as_of: dt.date | None = None) -> CreditGrade | None:
        def make(found: SubjectRecords, day: dt.date) -> CreditGrade:
            result = grade_of(info.context.rules, found, day)
            return grade_graph(info, result, found, self._shown(info, found), day)

        return self._derived(info, "Enterprise.creditGrade", as_of, make)

    def _list(self, info: Info, cls: type[T], record_type: str, period: RecordPeriod) -> list[T]:
        """Prefetched records as a list, or else an awaitable of them.

        The resolvers stay synchronous so a prefetched page costs no coroutine per
        field; graphql-core awaits whatever awaitable a resolver returns.
        """
        if _LIST_NAMES[record_type] in self.hidden:
            return _withheld_list()
        records = self.prefetched.get(record_type) if self.prefetched else None
        if records is not None:
            return _build(info, cls, in_period(records, period, info.context.today))
        pending = _about(info, cls, record_type, "credit_code", self.credit_code, period)
        return cast(list[T], pending)

    @strawberry.field(description="The legal representative (法定代表人), when known.")
    def legal_representative(self, info: Info) -> Person | None:
        if not self.legal_rep_id or "legal_representative" in self.hidden:
            return None
        persons = self.prefetched.get("person") if self.prefetched else None
        if persons is not None:
            return person_from(info, persons[0]) if persons else None
        return cast(Person | None, _person(info, self.legal_rep_id))

    @strawberry.field(description="Administrative licences from every agency (行政许可).")
    def licences(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[Licence]:
        return self._list(info, Licence, "licence", period)

    @strawberry.field(description="Administrative penalties from every agency (行政处罚).")
    def penalties(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[Penalty]:
        return self._list(info, Penalty, "penalty", period)

    @strawberry.field(description="Business anomaly listings (经营异常名录).")
    def anomalies(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[Anomaly]:
        return self._list(info, Anomaly, "anomaly", period)

    @strawberry.field(description="Serious violation listings (严重违法失信名单).")
    def serious_violations(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[SeriousViolation]:
        return self._list(info, SeriousViolation, "serious_violation", period)

    @strawberry.field(description="Judgment defaulter listings (失信被执行人).")
    def judgment_defaults(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[JudgmentDefault]:
        return self._list(info, JudgmentDefault, "judgment_default", period)

    @strawberry.field(description="Random spot-check results (双随机抽查结果).")
    def inspections(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[Inspection]:
        return self._list(info, Inspection, "inspection", period)


@strawberry.type(
    description=(
        "A natural person responsible for enterprises (法定代表人/负责人). Risk also gathers "
        "under persons: their own penalties and judgment defaults."
    )
)
class Person(Record):
    person_id: str = strawberry.field(description="Opaque person id from the registry.")
    name: str | None = strawberry.field(description="Name (姓名).")
    id_number: str | None = strawberry.field(description="Resident ID number (身份证号码).")

    hidden: strawberry.Private[frozenset[str]] = frozenset()
    source: strawberry.Private[SourceRecord | None] = None

    @strawberry.field(description="Penalties on this person (责任人处罚).")
    async def penalties(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[Penalty]:
        if "penalties" in self.hidden:
            return _withheld_list()
        return await _about(info, Penalty, "penalty", "person_id", self.person_id, period)

    @strawberry.field(description="Judgment defaulter listings of this person (失信被执行人).")
    async def judgment_defaults(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[JudgmentDefault]:
        if "judgment_defaults" in self.hidden:
            return _withheld_list()
        return await _about(info, JudgmentDefault, "judgment_default", "person_id",
                            self.person_id, period)

    @strawberry.field(description=(
        "Warning of this person from their own records (责任人预警), from your view of "
        "them unless derivedFrom says ALL; it reaches every enterprise they represent."))
    async def warning(self, info: Info, as_of: dt.date | None = None) -> Warning | None:
        if "warning" in self.hidden or self.source is None:
            return None
        context = info.context
        day = as_of or context.today
        basis = context.view.basis("Person.warning")
        found = await collect(context, _path(info), person_subject(context.view, self.source,
                                                                    basis), basis)
        found.enterprise, found.person = found.person, []
        result = warning_of(context.rules, found, self.person_id, day)
        view, source = context.view, self.source
        shown = shown_filter(view, SubjectRecords(found.person, found.enterprise,
                                                  basis=found.basis),
                             lambda: person_subject(view, source, Basis.VISIBLE))
        return warning_graph(info, result, found, shown, day)

    @strawberry.field(description="Enterprises this person is the legal representative of.")
    async def enterprises(self, info: Info) -> list[Enterprise]:
        if "enterprises" in self.hidden:
            return _withheld_list()
        view = info.context.view
        snapshot = await info.context.index.snapshot(info.context.loaders.ages)
        records = [
            r for r in snapshot.by_person.get(self.person_id, ())
            if view.field_visible(r, "legal_rep_id")
        ]
        return enterprises_from(info, records)


def enterprises_from(
    info: Info, records: list[SourceRecord], *, under: tuple[str, ...] = ()
) -> list[Enterprise]:
    """Graph objects for raw registry records the caller may see (the caller filtered
    them).

    ``under`` names the response keys between the current field and the enterprises
    (``("edges", "node")`` in a connection), for the redaction report.
    """
    context = info.context
    agencies, view = context.agencies, context.view
    built = []
    if records:
        view.report(where(info), records)
    for record in records:
        copy = view.seen(record)
        if copy is None:
            continue
        hidden = view.hidden(copy)
        if hidden:
            note_redactions(info, hidden, under=under)
        built.append(build_record(Enterprise, copy, agencies[copy.agency], hidden,
                                  credit_code=copy.credit_code, hidden=hidden, source=record))
    return built


def enterprise_from(info: Info, record: SourceRecord) -> Enterprise:
    """The graph object for one visible raw registry record."""
    return enterprises_from(info, [record])[0]


def person_from(info: Info, record: SourceRecord) -> Person:
    """The graph object for one visible person record (raw or the caller's copy)."""
    view = info.context.view
    copy = view.seen(record)
    assert copy is not None, "person_from takes visible records"
    view.report(where(info), [copy])
    hidden = view.hidden(copy)
    if hidden:
        note_redactions(info, hidden)
    return build_record(Person, copy, info.context.agencies[copy.agency], hidden,
                        hidden=hidden, source=record)


async def _person(info: Info, person_id: str) -> Person | None:
    records = await gather_records(info.context, _path(info), "person", "person_id", person_id)
    return person_from(info, records[0]) if records else None


def sorted_copies(info: Info, records: list[SourceRecord], record_type: str,
                  ) -> list[SourceRecord]:
    """The caller's copies of raw records, in list order."""
    return sort_records(info.context.view.seen_all(records), record_type)
