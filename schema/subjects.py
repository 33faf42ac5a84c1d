"""The subjects of the graph: ``Enterprise`` (市场主体) and ``Person`` (法定代表人/负责人).

Their record lists are resolved through the per-request loaders, so a page of
enterprises costs one call per agency and record type whatever its size.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import strawberry

from connectors.records import Record as SourceRecord
from schema.context import RequestContext
from schema.enums import EnterpriseStatus
from schema.gather import gather_records, prefetch
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
from schema.redaction import note_redactions, selected_names
from schema.risk import (
    PERSON_RISK_TYPES,
    RISK_TYPES,
    SubjectRecords,
    collect,
    collect_many,
    grade_graph,
    grade_of,
    warning_graph,
    warning_of,
)
from schema.risk_types import CreditGrade, Warning

__all__ = [
    "Enterprise",
    "Person",
    "enterprise_from",
    "enterprises_from",
    "person_from",
    "prefetch_page",
]

Info = strawberry.Info[RequestContext, None]
T = TypeVar("T")


def _build(info: Info, cls: type[T], records: list[SourceRecord]) -> list[T]:
    """Graph objects for visible records, hidden fields null and reported."""
    context = info.context
    agencies, access = context.agencies, context.access
    if access.policy is None:
        return [build_record(cls, r, agencies[r.agency]) for r in records]
    built = []
    for record in records:
        hidden = access.hidden(record)
        if hidden:
            note_redactions(info, hidden)
        built.append(build_record(cls, record, agencies[record.agency], hidden))
    return built


async def _about(info: Info, cls: type[T], record_type: str, column: str, key: str,
                 period: RecordPeriod) -> list[T]:
    records = await gather_records(info, record_type, column, key)
    return _build(info, cls, in_period(records, period, info.context.today))


async def _then(pending: Awaitable[Any], build: Callable[[Any], T]) -> T:
    return build(await pending)


# GraphQL list field of Enterprise -> record type, for lookahead prefetching.
ENTERPRISE_LISTS = {
    "licences": "licence",
    "penalties": "penalty",
    "anomalies": "anomaly",
    "seriousViolations": "serious_violation",
    "judgmentDefaults": "judgment_default",
    "inspections": "inspection",
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

    hidden: strawberry.Private[frozenset[str]] = frozenset()
    # Records fetched ahead for a whole page (record type -> visible records), so the
    # list fields below answer synchronously; absent, they load through the loaders.
    prefetched: strawberry.Private[dict[str, list[SourceRecord]] | None] = None
    # Risk records fetched ahead for warnings and grades.
    risk: strawberry.Private[SubjectRecords | None] = None

    def _subject(self, info: Info) -> SubjectRecords | Awaitable[SubjectRecords]:
        if self.risk is not None:
            return self.risk
        return collect(info, self.credit_code, self._person_key())

    def _person_key(self) -> str | None:
        return None if "legal_rep_id" in self.hidden else self.legal_rep_id

    @strawberry.field(description=(
        "Warning computed on read from the records you may see (预警); asOf reproduces "
        "the warning in force on a past day (default: today)."))
    def warning(self, info: Info, as_of: dt.date | None = None) -> Warning | None:
        if "warning" in self.hidden:
            return None
        day = as_of or info.context.today
        subject = self._subject(info)

        def build(found: SubjectRecords) -> Warning:
            result = warning_of(info.context.rules, found, self._person_key(), day)
            return warning_graph(info, result, found.missing, day)

        if isinstance(subject, SubjectRecords):
            return build(subject)
        return cast(Warning, _then(subject, build))

    @strawberry.field(description=(
        "Credit grade computed on read from the records you may see (信用等级 A-D)."))
    def credit_grade(self, info: Info, as_of: dt.date | None = None) -> CreditGrade | None:
        if "credit_grade" in self.hidden:
            return None
        day = as_of or info.context.today
        subject = self._subject(info)

        def build(found: SubjectRecords) -> CreditGrade:
            result = grade_of(info.context.rules, found, day)
            return grade_graph(info, result, found.missing, day)

        if isinstance(subject, SubjectRecords):
            return build(subject)
        return cast(CreditGrade, _then(subject, build))

    def _list(self, info: Info, cls: type[T], record_type: str, period: RecordPeriod) -> list[T]:
        """Prefetched records as a list, or else an awaitable of them.

        The resolvers stay synchronous so a prefetched page costs no coroutine per
        field; graphql-core awaits whatever awaitable a resolver returns.
        """
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

    @strawberry.field(description="Penalties on this person (责任人处罚).")
    async def penalties(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[Penalty]:
        return await _about(info, Penalty, "penalty", "person_id", self.person_id, period)

    @strawberry.field(description="Judgment defaulter listings of this person (失信被执行人).")
    async def judgment_defaults(
        self, info: Info, period: RecordPeriod = RecordPeriod.CURRENT
    ) -> list[JudgmentDefault]:
        return await _about(info, JudgmentDefault, "judgment_default", "person_id",
                            self.person_id, period)

    hidden: strawberry.Private[frozenset[str]] = frozenset()

    @strawberry.field(description=(
        "Warning of this person from their own records you may see (责任人预警); it "
        "reaches every enterprise they represent."))
    async def warning(self, info: Info, as_of: dt.date | None = None) -> Warning | None:
        if "warning" in self.hidden:
            return None
        day = as_of or info.context.today
        found = await collect(info, None, self.person_id)
        found.enterprise, found.person = found.person, []
        result = warning_of(info.context.rules, found, self.person_id, day)
        return warning_graph(info, result, found.missing, day)

    @strawberry.field(description="Enterprises this person is the legal representative of.")
    async def enterprises(self, info: Info) -> list[Enterprise]:
        if "enterprises" in self.hidden:
            return []
        access = info.context.access
        snapshot = await info.context.index.snapshot(info.context.loaders.ages)
        records = [
            r for r in snapshot.by_person.get(self.person_id, ())
            if access.field_visible(r, "legal_rep_id")
        ]
        return enterprises_from(info, records)


def enterprises_from(
    info: Info, records: list[SourceRecord], *, under: tuple[str, ...] = ()
) -> list[Enterprise]:
    """Graph objects for registry records the caller may see (the caller filtered them).

    ``under`` names the response keys between the current field and the enterprises
    (``("edges", "node")`` in a connection), for the redaction report.
    """
    context = info.context
    agencies, access = context.agencies, context.access
    built = []
    for record in records:
        hidden = access.hidden(record)
        if hidden:
            note_redactions(info, hidden, under=under)
        built.append(build_record(Enterprise, record, agencies[record.agency], hidden,
                                  credit_code=record.credit_code, hidden=hidden))
    return built


def enterprise_from(info: Info, record: SourceRecord) -> Enterprise:
    """The graph object for one visible registry record."""
    return enterprises_from(info, [record])[0]


def person_from(info: Info, record: SourceRecord) -> Person:
    """The graph object for one visible person record."""
    hidden = info.context.access.hidden(record)
    if hidden:
        note_redactions(info, hidden)
    return build_record(Person, record, info.context.agencies[record.agency], hidden,
                        hidden=hidden)


async def _person(info: Info, person_id: str) -> Person | None:
    records = await gather_records(info, "person", "person_id", person_id)
    return person_from(info, records[0]) if records else None


async def load_enterprise(info: Info, credit_code: str) -> Enterprise | None:
    """One enterprise by (valid) credit code, with what the query selects fetched as
    for a page of one: every selected list (the legal representative's too) in one
    wave once the registry has answered, then resolved without further waits.

    Remote (``http``) agencies are slow: their selected lists are asked for at once,
    while the registry is being read, so the round trip to them starts first. The
    registry index names the legal representative for that. Local agencies are
    asked after the registry answered: starting them early too cost 25% more CPU
    per request under load and gained nothing.

    What is fetched early is raw, kept in this request's loaders and filtered like
    any other record before use; an unknown or hidden enterprise shows nothing of it.
    """
    _ask_remote_early(info, credit_code)
    records = await gather_records(info, "enterprise", "credit_code", credit_code)
    if not records:
        return None
    node = enterprise_from(info, records[0])
    await prefetch_page(info, [node], ())
    return node


def _ask_remote_early(info: Info, credit_code: str) -> None:
    context = info.context
    selected = selected_names(info)
    wanted = {t for name, t in ENTERPRISE_LISTS.items() if name in selected}
    person = None
    if "warning" in selected or "creditGrade" in selected:
        wanted.update(RISK_TYPES)
        person = context.index.legal_rep_id(credit_code)
    asks = [(c, t, "credit_code", credit_code) for t in sorted(wanted)
            for c in context.sources.providers(t) if c.spec.kind == "http"]
    if person is not None:
        asks += [(c, t, "person_id", person) for t in PERSON_RISK_TYPES
                 for c in context.sources.providers(t) if c.spec.kind == "http"]
    for ask in asks:
        context.loaders.load(*ask).add_done_callback(_observed)


def _observed(future: asyncio.Future[Any]) -> None:
    """Mark an early load's failure as seen (it is reported where it is used)."""
    if not future.cancelled():
        future.exception()


async def prefetch_page(info: Info, nodes: list[Enterprise], under: tuple[str, ...]) -> None:
    """Fetch, for a whole page of enterprises, what the query selects under ``under``
    (e.g. ``("edges", "node")``): record lists, legal representatives, and the risk
    records of warnings and grades - one call per agency, type and key kind."""
    if not nodes:
        return
    selected = selected_names(info, under)
    path = [*info.path.as_list(), *under]
    codes = [node.credit_code for node in nodes]
    risky = "warning" in selected or "creditGrade" in selected
    wanted = [
        (name, t) for name, t in ENTERPRISE_LISTS.items()
        if name in selected and not (risky and t in RISK_TYPES)  # risk records come below
    ]
    jobs = [prefetch(info, t, "credit_code", codes, [*path, name]) for name, t in wanted]
    people = sorted({n.legal_rep_id for n in nodes if n.legal_rep_id})
    if "legalRepresentative" in selected:
        jobs.append(prefetch(info, "person", "person_id", people, [*path, "legalRepresentative"]))
    if risky:
        keys = [node._person_key() for node in nodes]
        results, subjects = await asyncio.gather(
            asyncio.gather(*jobs), collect_many(info, codes, keys, [*path, "warning"])
        )
    else:
        results, subjects = await asyncio.gather(*jobs), []
    for node in nodes:
        node.prefetched = {}
    for (_, record_type), per_node in zip(wanted, results, strict=False):
        for node, records in zip(nodes, per_node, strict=True):
            assert node.prefetched is not None
            node.prefetched[record_type] = records
    for node, subject in zip(nodes, subjects, strict=False):  # no subjects: not risky
        node.risk = subject
        assert node.prefetched is not None
        for record_type in RISK_TYPES:
            node.prefetched[record_type] = [
                r for r in subject.enterprise if r.record_type == record_type
            ]
    if "legalRepresentative" in selected:
        by_id = dict(zip(people, results[-1], strict=True))
        for node in nodes:
            assert node.prefetched is not None
            node.prefetched["person"] = by_id.get(node.legal_rep_id or "", [])
