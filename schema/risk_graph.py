"""Presenting computed warnings and grades: graph objects from rule results.

Only presentation: the results were computed by ``schema.risk`` from the records
of the derivation basis. Evidence passes through the caller's view once more: a
record the caller may see appears as its copy (hidden fields null, reported once
per path); a record it may not see - possible only when the basis is ``ALL`` -
appears only as "N records from AGENCY not open to you".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import strawberry

from connectors.records import Record as SourceRecord
from schema.access import Basis
from schema.records import RECORD_CLASSES, Agency, Record, build_record
from schema.redaction import note_redactions
from schema.risk import Subject, SubjectRecords
from schema.risk_types import CreditGrade, Warning, WarningReason, WithheldEvidence
from schema.rules.grades import GradeResult
from schema.rules.warnings import WarningResult
from schema.view import CallerView

__all__ = ["grade_graph", "shown_filter", "warning_graph"]

Shown = Callable[[SourceRecord], bool]


def shown_filter(view: CallerView, found: SubjectRecords, visible: Callable[[], Subject]
                 ) -> Shown:
    """Which of the records behind a result the caller may be shown: all of them when
    they were gathered through its view; else those the view would have given it
    (``visible``: the subject as the caller's view sees it). Worked out on the first
    question: a warning's level asks none."""
    if found.basis is Basis.VISIBLE or view.policy is None:
        return lambda record: True
    ok: set[int] | None = None

    def shown(record: SourceRecord) -> bool:
        nonlocal ok
        if ok is None:
            ok = _shown_ids(view, found, visible())
        return id(record) in ok

    return shown


def _shown_ids(view: CallerView, found: SubjectRecords, visible: Subject) -> set[int]:
    ok = {id(r) for r in found.enterprise
          if r.record_type in visible.types and view.seen(r) is not None}
    if visible.person_id:
        ok |= {id(r) for r in found.person
               if r.record_type in visible.person_types and view.seen(r) is not None
               and "person_id" not in view.hidden(r)}
    return ok


def _withheld(records: Sequence[SourceRecord], shown: Shown,
              agencies: Mapping[str, Agency]) -> list[WithheldEvidence]:
    counts = Counter(r.agency for r in records if not shown(r))
    return [WithheldEvidence(agency=agencies[code], count=count,
                             message=f"{count} record{'s' if count > 1 else ''} from {code} "
                                     "not open to you")
            for code, count in sorted(counts.items())]


def _evidence(info: strawberry.Info[Any, Any], records: Sequence[SourceRecord], shown: Shown,
              under: tuple[str, ...]) -> list[Record]:
    context = info.context
    view: CallerView = context.view
    copies = [copy for copy in (view.seen(r) for r in records if shown(r)) if copy is not None]
    if not copies:
        return []
    raw = info._raw_info
    view.report(".".join([raw.parent_type.name, raw.field_name, *under]), copies)
    built: list[Record] = []
    for copy in copies:
        hidden = view.hidden(copy)
        if hidden:
            note_redactions(info, hidden, under=under)
        cls = RECORD_CLASSES[copy.record_type]
        built.append(build_record(cls, copy, context.agencies[copy.agency], hidden))
    return built


def warning_graph(info: strawberry.Info[Any, Any], result: WarningResult,
                  found: SubjectRecords, shown: Shown, as_of: dt.date) -> Warning:
    """The warning's graph object; each reason's evidence and withheld records are
    presented (and reported to the access log) only when the query asks for them."""
    agencies = info.context.agencies
    return Warning(
        level=result.level,
        reasons=[
            WarningReason(
                rule=reason.rule,
                level=reason.level,
                agencies=[agencies[a] for a in reason.agencies],
                evidence_of=partial(_evidence, info, reason.evidence, shown,
                                    ("reasons", "evidence")),
                withheld_of=partial(_withheld, reason.evidence, shown, agencies),
            )
            for reason in result.reasons
        ],
        agencies=[agencies[a] for a in result.agencies],
        partial=bool(found.missing),
        missing_agencies=[agencies[a] for a in sorted(found.missing)],
        as_of=as_of,
        derived_from=found.basis,
    )


def grade_graph(info: strawberry.Info[Any, Any], result: GradeResult, found: SubjectRecords,
                shown: Shown, as_of: dt.date) -> CreditGrade:
    """The grade's graph object; its basis, evidence and withheld records are presented
    only when asked, as a warning's."""
    agencies = info.context.agencies
    return CreditGrade(
        grade=result.grade,
        name=result.name,
        basis_of=lambda: list(result.basis(shown)),
        evidence_of=partial(_evidence, info, result.evidence, shown, ("evidence",)),
        withheld_of=partial(_withheld, result.evidence, shown, agencies),
        partial=bool(found.missing),
        as_of=as_of,
        derived_from=found.basis,
    )
