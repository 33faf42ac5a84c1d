"""The change feed: what changed in the agencies since the last poll, as events.

Run by the cluster's leader (``gateway.leader``) every ``changes.poll_s``. Each poll
asks every agency for the records it wrote since the last one
(``Connector.changed_since``: a change-time column, a file's stamp, an agency's
``since`` parameter), applies them to the registry's risk records
(``schema.registry_risk``: the parts are not read again whole) and computes the
warning level, on ALL records, of every enterprise a change concerns - its own
records, its legal representative's, its registry row. A level that differs from
the one last computed is a ``WarningChanged``; a credit code new to the registry a
``Registered`` (``gateway.events``, where what events may carry is set out).

A source that cannot tell its changes (a table without ``updated_at`` outside a
SQLite file, an agency answering no ``since`` query) is read whole - by key for an
agency that cannot list - at most once per its agency's ``cache_ttl_s``, and
compared record by record. One that tells only that it changed (a file's stamp) is
read whole when it did, but not again before ten times that read's duration has
passed: a large source written to all the time costs the leader a tenth of its
time at most.
Every source is compared whole once per ``changes.reconcile_s`` too: a deleted row
has no change time.

The first poll (and the first after this replica became leader: ``reset``) reads
every source whole and makes no event - unless the cluster's memory
(``gateway.feed_memory``) says what the last leader told: then it tells what
differs, so nothing changed while nobody led goes untold. The first read of a
source that failed until then makes no event.

A level may also change with the date alone (a publicity period ends) or with the
platform's own record facts (an objection upheld, a credit repair: the record
overlay): on a new day, and when the overlay's version changes, every enterprise's
level is computed again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.base import Changes, Connector, Watermark
from connectors.errors import SourceError, SourceUnsupported
from connectors.records import Record
from gateway.events import Event, Registered, WarningChanged
from gateway.feed_memory import FeedMemory
from schema.access import Basis
from schema.registry_index import RegistrySnapshot
from schema.registry_risk import RegistryRisk, RiskRecords, read_by_key
from schema.risk import RISK_TYPES, enterprise_subject, indexed, warning_level_of, warning_of
from schema.rules.columns import RULE_COLUMNS, riskless_counted
from schema.rules.model import RuleSet, WarningLevel
from schema.sources import Sources
from schema.view import CallerView

__all__ = ["ChangeFeed"]

log = logging.getLogger(__name__)

# a source read whole because it changed is not read again before this many times
# the read's duration has passed
_WHOLE_SPACING = 10.0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class _Mark:
    """How far one source (agency x record type) has been read."""

    watermark: Watermark = None
    whole_at: float | None = None  # when it was last read whole (None: never)
    tells: bool = True  # it says what changed (else it is compared whole)
    by_key: bool = False  # an agency answering no ``since`` query: asked by key
    failing: bool = False  # its last read failed (logged once until it is read again)
    not_before: float = 0.0  # after a whole read because it changed: spacing them out


class ChangeFeed:
    """Polls the sources and turns their changes into events (``poll``).

    ``amend`` applies the platform's own record facts to the risk records (the
    record overlay, ``schema.overlay``) and ``amended`` says their version; ``today``
    and ``now`` are the clocks the levels and the events' times come from; ``memory``
    what the cluster's leader last told (``gateway.feed_memory``), written while
    ``leading`` (a replica that lost the lead mid-poll leaves it to the new leader)."""

    def __init__(self, sources: Sources, risk: RegistryRisk, rules: Callable[[], RuleSet], *,
                 today: Callable[[], dt.date] = dt.date.today,
                 amend: Callable[[RiskRecords], RiskRecords] | None = None,
                 amended: Callable[[], int] = lambda: 0,
                 memory: FeedMemory | None = None,
                 leading: Callable[[], bool] = lambda: True,
                 reconcile_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], dt.datetime] = _utc_now) -> None:
        self._sources = sources
        self._risk = risk
        self._rules = rules
        self._today = today
        self._amend = amend
        self._amended = amended
        self._memory = memory
        self._leading = leading
        self._reconcile_s = reconcile_s
        self._clock = clock
        self._now = now
        self._view = CallerView.unrestricted()  # levels on ALL records: no view applies
        self.reset()

    def reset(self) -> None:
        """Forget what was read: the next poll reads every source whole and tells only
        what differs from the cluster's memory, if any (a replica that just became
        leader knows of what the last one told only what that memory says)."""
        self._marks: dict[tuple[str, str], _Mark] = {}
        self._enterprises: dict[str, Record] = {}
        self._people: dict[str, set[str]] = {}  # legal representative -> credit codes
        self._levels: dict[str, WarningLevel] = {}
        self._day: dt.date | None = None
        self._version = 0  # of the record overlay the levels were computed with
        # what changed since the memory was last written
        self._moved: dict[str, WarningLevel] = {}
        self._added: set[str] = set()
        self._removed: set[str] = set()

    @property
    def ready(self) -> bool:
        """Whether the registry has been read (polls from now on make events)."""
        return self._day is not None

    async def poll(self) -> list[Event]:
        """One round: every source's changes applied; the events they make."""
        first = not self.ready
        recalled = await self._memory.recall() if first and self._memory else None
        events: list[Event] = []
        touched = await self._registry_changes(
            events, silent=first and recalled is None,
            known=None if recalled is None else recalled.codes)
        if not self.ready and not self._enterprises and touched is None:
            return events  # the registry could not be read: nothing to compare with
        parts = [(connector, record_type) for record_type in RISK_TYPES
                 for connector in self._sources.providers(record_type)]
        found = await asyncio.gather(*(self._read(c, t) for c, t in parts))
        codes = set(touched or ())
        silent_codes: set[str] = set()
        riskless = riskless_counted(self._rules())
        if recalled is not None and None in found:
            recalled = None  # levels without a source would tell changes that are none
        for (connector, record_type), read in zip(parts, found, strict=True):
            if read is None:
                continue
            changes, silent = read
            hit = self._risk.apply(connector.code, record_type, changes.records,
                                   whole=changes.whole,
                                   risky_only=record_type not in riskless)
            if hit:
                concerned = set(hit.codes)
                for person in hit.people:
                    concerned |= self._people.get(person, set())
                (silent_codes if silent or first else codes).update(concerned)
        today, version = self._today(), self._amended()
        if first and recalled is not None:  # told against what the last leader told
            self._levels = dict(recalled.levels)
            codes, silent_codes = set(self._enterprises), set()
        elif first:  # every level as it is now: what later changes are told against
            codes, silent_codes = set(), set(self._enterprises)
        elif today != self._day or version != self._version:  # no source changed
            codes = set(self._enterprises) - silent_codes
        self._day, self._version = today, version
        events += self._level_changes(codes - silent_codes, silent_codes, today)
        await self._remember(first)
        return events

    async def _remember(self, first: bool) -> None:
        """Write what changed (all of it, after a first poll) to the cluster's memory."""
        if self._memory is not None and self._leading():
            if first:
                await self._memory.replace(self._levels, self._enterprises.keys())
            else:
                await self._memory.update(self._moved, self._added, self._removed)
        self._moved, self._added, self._removed = {}, set(), set()

    async def _registry_changes(self, events: list[Event], *, silent: bool,
                                known: frozenset[str] | None) -> set[str] | None:
        """Apply the registry's changes; the credit codes whose registry row changed
        (None when it could not be read). Credit codes new to this feed - and not
        ``known`` to the last leader - are ``Registered`` events unless ``silent``."""
        registry = self._sources.registry
        read = await self._read(registry, "enterprise", columns=False)
        if read is None:
            return None
        changes, first_read = read
        silent = silent or (first_read and known is None)
        touched: set[str] = set()
        if changes.whole:
            present = {r.credit_code for r in changes.records if r.credit_code}
            for gone in set(self._enterprises) - present:  # left the registry
                self._link(self._enterprises.pop(gone), None)
                self._levels.pop(gone, None)
                self._moved[gone] = WarningLevel.NONE
                self._removed.add(gone)
        at = self._now()
        for record in changes.records:
            code = record.credit_code
            if not code or self._enterprises.get(code) == record:
                continue
            old = self._enterprises.get(code)
            self._enterprises[code] = record
            self._link(old, record)
            touched.add(code)
            if old is None:
                self._added.add(code)
                self._removed.discard(code)
                if not silent and (known is None or code not in known):
                    events.append(_registered(record, at))
        return touched

    def _link(self, old: Record | None, new: Record | None) -> None:
        """Keep ``_people`` (legal representative -> enterprises) as the rows say."""
        for record, add in ((old, False), (new, True)):
            person = None if record is None else record.values.get("legal_rep_id")
            if not isinstance(person, str) or not person or record is None:
                continue
            code = record.credit_code or ""
            if add:
                self._people.setdefault(person, set()).add(code)
            elif code in self._people.get(person, ()):
                self._people[person].discard(code)

    async def _read(self, connector: Connector, record_type: str, *,
                    columns: bool = True) -> tuple[Changes, bool] | None:
        """The source's changes, read whole when due, and whether this is its first
        read (its changes make no event); None when it could not be read (logged; the
        next poll asks again) or, for a source compared whole, it is not due yet."""
        key = (connector.code, record_type)
        mark = self._marks.setdefault(key, _Mark())
        now = self._clock()
        first = mark.whole_at is None
        reconcile = first or now - (mark.whole_at or 0.0) >= self._reconcile_s
        if not reconcile and not mark.tells:
            if now - (mark.whole_at or 0.0) < connector.spec.cache_ttl_s:
                return None  # compared whole once per cache lifetime
            reconcile = True
        if not reconcile and now < mark.not_before:
            return None
        if reconcile:
            mark.by_key = False  # an agency may have learnt ``since`` meanwhile
        try:
            if not mark.by_key:
                try:
                    changes = await connector.changed_since(
                        record_type, None if reconcile else mark.watermark,
                        columns=RULE_COLUMNS if columns else None)
                except SourceUnsupported:
                    mark.by_key = True
            if mark.by_key:
                changes = await self._read_by_key(connector, record_type)
        except SourceError as error:
            if not mark.failing:
                log.warning("change feed: %s %s not read (%s); asking again every poll",
                            connector.code, record_type, error.reason)
            mark.failing = True
            return None
        if mark.failing:
            log.info("change feed: %s %s read again", connector.code, record_type)
            mark.failing = False
        mark.watermark, mark.tells = changes.watermark, changes.watermark is not None
        if changes.whole:
            mark.whole_at = now
            mark.not_before = now + _WHOLE_SPACING * (self._clock() - now)
        return changes, first

    async def _read_by_key(self, connector: Connector, record_type: str) -> Changes:
        """Every record of an agency that can neither list nor tell its changes, asked
        for every enterprise of the registry and legal representative."""
        if not self._enterprises:
            raise SourceUnsupported(connector.code, "cannot be read before the registry")
        ordered = tuple(self._enterprises[code] for code in sorted(self._enterprises))
        snapshot = RegistrySnapshot(ordered, self._clock())
        risky_only = record_type not in riskless_counted(self._rules())
        records = await read_by_key(connector, record_type, snapshot, risky_only)
        return Changes(records, None, True)

    def _level_changes(self, codes: set[str], silent: set[str],
                       today: dt.date) -> list[Event]:
        """The levels of ``codes`` and ``silent`` computed again; an event for each
        of ``codes`` whose level differs from the one last computed."""
        if not codes and not silent:
            return []
        risk = self._risk.merged()
        if self._amend is not None:
            risk = self._amend(risk)
        rules, view, at = self._rules(), self._view, self._now()
        events: list[Event] = []
        for code in sorted(codes | silent):
            record = self._enterprises.get(code)
            if record is None:
                continue
            subject = enterprise_subject(view, record, Basis.ALL)
            found = indexed(view, risk, subject, Basis.ALL)
            level = warning_level_of(rules, found, today)  # reasons only for a change
            before = self._levels.get(code, WarningLevel.NONE)
            self._levels[code] = level
            if level is not before:
                self._moved[code] = level
            if code in silent or level is before:
                continue
            warning = warning_of(rules, found, subject.person_id, today)
            reasons = tuple(dict.fromkeys(reason.rule for reason in warning.reasons))
            events.append(WarningChanged(
                code, _text(record, "name") or code, _text(record, "district_code"),
                _text(record, "industry"), before.value, warning.level.value, reasons,
                warning.agencies, at))
        return events


def _text(record: Record, column: str) -> str | None:
    value = record.values.get(column)
    return value if isinstance(value, str) else None


def _registered(record: Record, at: dt.datetime) -> Registered:
    established = record.values.get("established_on")
    return Registered(
        record.credit_code or "", _text(record, "name") or (record.credit_code or ""),
        _text(record, "district_code"), _text(record, "industry"),
        _text(record, "business_scope"),
        established if isinstance(established, dt.date) else None, at)
