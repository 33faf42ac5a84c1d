"""Record types of the graph. Each implements ``Record`` and is built from a
normalised connector ``Record`` by ``build_record`` - the one place where source
records enter the graph."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from connectors.records import Record as SourceRecord
from schema.enums import EnterpriseStatus, LicenceStatus, Openness, PenaltyType, RiskLevel
from schema.record_objection import ObjectionStatus, RecordObjection

__all__ = [
    "RECORD_CLASSES",
    "Agency",
    "Anomaly",
    "Inspection",
    "JudgmentDefault",
    "Licence",
    "Penalty",
    "Record",
    "SeriousViolation",
    "build_record",
]


@strawberry.type(description="A government agency that owns records (数据提供部门).")
class Agency:
    code: str = strawberry.field(description="Agency code from the configuration, e.g. SAMR.")
    name: str = strawberry.field(description="Agency name, e.g. 市场监督管理局.")


@strawberry.interface(
    description=(
        "Fields every record carries. The owner agency is the agency whose source "
        "returned the record; it sets the openness label and the risk level."
    )
)
class Record:
    record_id: str = strawberry.field(description="Record id, unique within the owner agency.")
    agency: Agency = strawberry.field(description="The owner agency (谁拥有，谁标注).")
    openness: Openness = strawberry.field(description="Openness label set by the owner agency.")
    risk_level: RiskLevel | None = strawberry.field(
        description="Risk level set by the owner agency; null for records that carry no risk."
    )
    repaired_on: dt.date | None = strawberry.field(default=None, description=(
        "Credit repair date (信用修复日期), from the source or an approved credit repair "
        "(requestCreditRepair); the record stops counting from that day."))
    withdrawn_on: dt.date | None = strawberry.field(default=None, description=(
        "The day an objection (异议) to the record was upheld: it stops counting and "
        "moves to history from that day (until the owner agency's source says so itself)."))
    objection: RecordObjection | None = strawberry.field(default=None, description=(
        "The latest objection (异议) to the record; null when there is none."))
    disputed: bool | None = strawberry.field(default=None, description=(
        "True while an objection to the record is under review (FILED)."))


@strawberry.type(description="Administrative licence (行政许可).")
class Licence(Record):
    licence_no: str | None = strawberry.field(description="Licence number (许可证编号).")
    licence_name: str | None = strawberry.field(description="Licence name (许可证名称).")
    content: str | None = strawberry.field(description="What is licensed (许可内容).")
    valid_from: dt.date | None = strawberry.field(description="Valid from (有效期自).")
    valid_to: dt.date | None = strawberry.field(description="Valid to (有效期至).")
    status: LicenceStatus | None = strawberry.field(description="Licence status.")


@strawberry.type(description="Administrative penalty (行政处罚).")
class Penalty(Record):
    person_id: str | None = strawberry.field(
        description="Responsible person the penalty is on, when it is on a person (责任人)."
    )
    decision_no: str | None = strawberry.field(description="Decision number (决定书文号).")
    violation_type: str | None = strawberry.field(description="Type of violation (违法行为类型).")
    penalty_type: PenaltyType | None = strawberry.field(description="Kind of penalty (处罚种类).")
    content: str | None = strawberry.field(description="Penalty content (处罚内容).")
    amount: float | None = strawberry.field(description="Amount in yuan (罚没金额，元).")
    decided_on: dt.date | None = strawberry.field(description="Decision date (处罚决定日期).")
    published_on: dt.date | None = strawberry.field(description="Publicity date (公示日期).")


@strawberry.type(description="Listing in the business anomaly list (经营异常名录).")
class Anomaly(Record):
    reason: str | None = strawberry.field(description="Reason for listing (列入原因).")
    listed_on: dt.date | None = strawberry.field(description="Listing date (列入日期).")
    removed_on: dt.date | None = strawberry.field(description="Removal date (移出日期).")
    removal_reason: str | None = strawberry.field(description="Reason for removal (移出原因).")


@strawberry.type(description="Listing in the serious violation list (严重违法失信名单).")
class SeriousViolation(Record):
    reason: str | None = strawberry.field(description="Reason for listing (列入原因).")
    listed_on: dt.date | None = strawberry.field(description="Listing date (列入日期).")
    removed_on: dt.date | None = strawberry.field(description="Removal date (移出日期).")
    removal_reason: str | None = strawberry.field(description="Reason for removal (移出原因).")


@strawberry.type(description="Judgment defaulter listing (失信被执行人).")
class JudgmentDefault(Record):
    person_id: str | None = strawberry.field(
        description="Responsible person listed, when the listing is on a person."
    )
    court: str | None = strawberry.field(description="Enforcing court (执行法院).")
    case_no: str | None = strawberry.field(description="Case number (案号).")
    obligation: str | None = strawberry.field(description="Obligation set by the judgment.")
    performance: str | None = strawberry.field(description="Performance (履行情况).")
    listed_on: dt.date | None = strawberry.field(description="Listing date (发布日期).")
    removed_on: dt.date | None = strawberry.field(description="Removal date (移出日期).")


@strawberry.type(description="Result of a random spot check (双随机抽查结果).")
class Inspection(Record):
    plan_id: str | None = strawberry.field(description="Spot-check plan id (抽查计划编号).")
    inspected_on: dt.date | None = strawberry.field(description="Inspection date (检查日期).")
    result_code: str | None = strawberry.field(description="Result code (检查结果代码).")
    result: str | None = strawberry.field(description="Result (检查结果).")


RECORD_CLASSES: dict[str, type[Record]] = {
    "licence": Licence,
    "penalty": Penalty,
    "anomaly": Anomaly,
    "serious_violation": SeriousViolation,
    "judgment_default": JudgmentDefault,
    "inspection": Inspection,
}

_ENUM_COLUMNS: dict[str, dict[str, type[enum.Enum]]] = {
    "enterprise": {"status": EnterpriseStatus},
    "licence": {"status": LicenceStatus},
    "penalty": {"penalty_type": PenaltyType},
}

R = TypeVar("R")


def build_record(
    cls: Callable[..., R],
    record: SourceRecord,
    agency: Agency,
    redact: frozenset[str] = frozenset(),
    **extra: Any,
) -> R:
    """The graph object for ``record``: common fields, then the type's columns.

    Fields in ``redact`` (python names) are null: the caller may not see them.
    """
    values: dict[str, Any] = dict(record.values)
    for name in redact:
        if name in values:
            values[name] = None
    # the platform overlay's values (schema.overlay), shown as the interface's fields
    status = values.pop("objection", None)
    disputed = values.pop("disputed", None)
    values.setdefault("withdrawn_on", None)
    values.setdefault("repaired_on", None)
    if "objection" not in redact:
        extra.setdefault("objection", None if status is None
                         else RecordObjection(status=ObjectionStatus(status)))
    if "disputed" not in redact:
        extra.setdefault("disputed", disputed is not None)
    for column, enum_cls in _ENUM_COLUMNS.get(record.record_type, {}).items():
        if values.get(column) is not None:
            values[column] = enum_cls(values[column])
    return cls(
        record_id=record.record_id,
        agency=agency,
        openness=record.openness,
        risk_level=None if "risk_level" in redact else record.risk_level,
        **values,
        **extra,
    )
