"""What objections (异议) and credit repairs (信用修复) share: the port the gateway
implements over the platform database, the rows it returns, the errors, and the
two checks every step makes through the caller's view.

The mutations and queries are in ``schema.objections`` and ``schema.credit_repair``;
this module knows no database. Who may do what:

- file an objection / request a repair: an ``enterprise`` caller, on a record about
  its own credit code, or a ``department``; either only on a record it may see;
- resolve: a department of the record's owner agency (谁拥有，谁负责), or an admin;
- read: the enterprise the record is about (what its own keys filed), the agency
  that owns the record, whoever filed it, admins (the port reads only those:
  ``gateway.record_workflow_db.Scope``).

A record the caller may not see, or that does not exist, gives the same
``RECORD_NOT_FOUND``; an objection or repair the caller may not read, the same
``..._NOT_FOUND`` as one that does not exist: nothing leaks their existence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from connectors.errors import SourceError
from connectors.records import Record as SourceRecord
from schema.access import Clearance
from schema.context import RequestContext
from schema.errors import Forbidden, GraphError, SourceUnavailableError

__all__ = [
    "ObjectionRow", "RecordNotFound", "RepairRow", "StepRefused", "WorkflowConflict",
    "WorkflowPort", "WorkflowUnavailable", "WorkflowsUnavailable", "find_record", "may_file",
    "may_resolve", "parse_id", "port_of", "refusing", "step_errors", "unavailable",
]


@dataclass(frozen=True, slots=True)
class ObjectionRow:
    """One objection as the platform database keeps it."""

    id: int
    agency: str
    record_type: str
    record_id: str
    credit_code: str | None
    status: str  # FILED, UPHELD, REJECTED
    reason: str
    filed_by: str
    filed_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolved_on: dt.date | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RepairRow:
    """One credit repair request as the platform database keeps it."""

    id: int
    agency: str
    record_type: str
    record_id: str
    credit_code: str | None
    status: str  # REQUESTED, APPROVED, REJECTED
    evidence: str
    requested_by: str
    requested_at: dt.datetime
    decided_at: dt.datetime | None = None
    repaired_on: dt.date | None = None
    note: str | None = None


class StepRefused(Exception):
    """Raised by a ``WorkflowPort``: the step conflicts with the state (an objection
    already open, already resolved...); the message says why. Nothing changed."""


class WorkflowUnavailable(Exception):
    """Raised by a ``WorkflowPort``: the platform database cannot be reached."""


class WorkflowPort(Protocol):
    """Objections and repairs as one caller (the principal acting) changes and reads
    them. Each step is written with the overlay's new version, put in force in this
    process before returning, and logged in the access log."""

    principal: str  # who acts ("" for none)

    async def file_objection(self, record: SourceRecord, reason: str) -> ObjectionRow: ...

    async def resolve_objection(self, objection: ObjectionRow, upheld: bool,
                                note: str) -> ObjectionRow: ...

    async def objections(self, *, objection_id: int | None = None,
                         status: str | None = None) -> list[ObjectionRow]: ...

    async def request_repair(self, record: SourceRecord, evidence: str) -> RepairRow: ...

    async def resolve_repair(self, repair: RepairRow, approved: bool,
                             note: str) -> RepairRow: ...

    async def repairs(self, *, repair_id: int | None = None,
                      status: str | None = None) -> list[RepairRow]: ...

    def refused(self, operation: str, code: str, credit_code: str | None,
                details: Mapping[str, str]) -> None:
        """Log a step the graph refused, with its error code."""
        ...


class RecordNotFound(GraphError):
    code = "RECORD_NOT_FOUND"


class WorkflowConflict(GraphError):
    code = "WORKFLOW_CONFLICT"


class WorkflowsUnavailable(GraphError):
    code = "PLATFORM_STORE_UNAVAILABLE"


def unavailable(error: WorkflowUnavailable) -> WorkflowsUnavailable:
    """The graph's error for a platform database that cannot be reached."""
    return WorkflowsUnavailable(f"The platform database cannot be reached ({error}); retry "
                                "later.")


@contextlib.contextmanager
def step_errors(refused: str) -> Iterator[None]:
    """A step's port errors as the graph's: a refusal is a ``WorkflowConflict`` whose
    message starts with ``refused`` ("The objection was not filed"), an unreachable
    database ``WorkflowsUnavailable``."""
    try:
        yield
    except StepRefused as error:
        raise WorkflowConflict(f"{refused}: {error}.") from None
    except WorkflowUnavailable as error:
        raise unavailable(error) from None


def port_of(context: RequestContext) -> WorkflowPort:
    port = context.workflows
    if port is None:
        raise WorkflowsUnavailable(
            "Objections and credit repairs are kept in the platform database, which this "
            "gateway does not use (access log off and the policy in files); ask the "
            "operator.")
    return port


def may_file(clearance: Clearance, action: str) -> None:
    """Only enterprises and departments file objections and request repairs."""
    if clearance.role not in ("enterprise", "department"):
        raise Forbidden(f"Only an enterprise (its own key) or a department may {action}.")


def may_resolve(clearance: Clearance, agency: str, what: str) -> None:
    """Only the owner agency's departments, or an admin."""
    if clearance.role == "admin" or (clearance.role == "department"
                                     and clearance.agency == agency):
        return
    raise Forbidden(f"Only the owner agency ({agency}) or an admin may resolve this {what} "
                    "(谁拥有，谁负责).")


def parse_id(value: str) -> int | None:
    """An objection's or repair's id as the database keeps it; None for anything else
    (then: not found, like an id that does not exist)."""
    text = value.strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


@contextlib.contextmanager
def refusing(port: WorkflowPort, operation: str, credit_code: str | None,
             details: Mapping[str, str]) -> Iterator[None]:
    """Log a refused step (an error the caller is shown) in the access log as it
    passes; conflicts and an unreachable store are logged by the port itself."""
    try:
        yield
    except GraphError as error:
        code = (error.extensions or {}).get("code", "")
        if code not in ("WORKFLOW_CONFLICT", "PLATFORM_STORE_UNAVAILABLE"):
            port.refused(operation, str(code), credit_code, details)
        raise


async def find_record(context: RequestContext, path: list[str | int], agency: str,
                      record_id: str) -> SourceRecord:
    """The record ``record_id`` of ``agency`` as the caller may see it (through the
    overlay and the caller's view); ``RecordNotFound`` when there is none or the caller
    may not see it, ``SourceUnavailableError`` when the agency cannot be read.

    An enterprise's records are found by its credit code; a department's among the
    registry's risk records (the records that may count for warnings and grades)."""
    message = (f"No record {record_id!r} of agency {agency!r} that you may see. Check the "
               "record id and the owner agency's code (the record's agency { code }).")
    view = context.view
    source = context.sources.get(agency)
    clearance = view.clearance
    if source is None:
        raise RecordNotFound(message, recordId=record_id, agency=agency)
    found: SourceRecord | None = None
    if clearance.role == "enterprise":
        found = await _of_enterprise(context, path, agency, record_id)
    else:
        try:
            found = await _in_registry(context, agency, record_id)
        except SourceError as error:
            raise SourceUnavailableError(
                f"Agency {error.agency} could not be read to find the record: "
                f"{error.reason}. Retry later.", agency=error.agency) from None
    if found is None or view.seen(found) is None:
        raise RecordNotFound(message, recordId=record_id, agency=agency)
    return found


async def _of_enterprise(context: RequestContext, path: list[str | int], agency: str,
                         record_id: str) -> SourceRecord | None:
    """Among the caller's copies of its own enterprise's records of ``agency`` (with
    the records the platform added for it)."""
    from schema.gather import gather_checked

    code = context.view.clearance.credit_code
    source = context.sources.get(agency)
    assert source is not None
    for record_type in source.spec.provides:
        if record_type in ("enterprise", "person"):
            continue
        buckets, failed = await gather_checked(context, path, record_type, "credit_code",
                                               [code])
        if agency in failed:
            raise SourceUnavailableError(
                f"Agency {agency} could not be read to find the record; retry later.",
                agency=agency)
        for record in buckets[0]:
            if record.agency == agency and record.record_id == record_id:
                return record
    return None


async def _in_registry(context: RequestContext, agency: str,
                       record_id: str) -> SourceRecord | None:
    from schema.registry_risk import RegistryRisk
    from schema.rules.columns import riskless_counted

    loaders = context.loaders
    snapshot = await context.index.snapshot(loaders.ages)
    store = context.registry_risk or RegistryRisk(context.sources.providers)
    risk = context.overlay.amend_risk(await store.records(
        snapshot, loaders.ages, loaders.stale, riskless_counted(context.rules)))
    if agency in risk.missing:
        raise next(e for e in risk.failed if e.agency == agency)
    for index in (risk.by_code, risk.by_person):
        for records in index.values():
            for record in records:
                if record.record_id == record_id and record.agency == agency:
                    return record
    return None
