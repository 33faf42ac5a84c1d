"""Every risk record of the registry, read whole and kept for each agency's cache lifetime.

A warning or grade filter over the whole registry needs every enterprise's risk
records. Asking each agency for 100,000 keys through the loaders and the record
cache cost more than the rules; here each agency's records of each risk type are read
in one go - a table scan where the source can list them (``sql``, ``csv``), one call
for every registry credit code and legal representative where it cannot (``http``)
- and grouped by credit code and by person id. Records carry only the columns the
rules read (``schema.rules.columns``): they never leave this module's readers.

Each part (agency x record type) is read again once it is older than its agency's
``cache_ttl_s``, the freshness contract of every cached record: a record an agency
adds is counted within that time, and the parts of the other agencies are kept. A
part that cannot be read again is served stale for ``stale_if_error_s`` more (noted
like any stale copy), then reported missing. Records are raw - before authorization:
the caller's view is applied where levels are computed (``schema.listing``).

Where the change feed runs (``gateway.change_feed``, on the cluster's leader), parts
are not read again whole: the feed applies each agency's changed records (``apply``)
and the part counts as read at that moment; only the subjects a change concerns are
copied into the records served next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from connectors.base import Connector
from connectors.errors import SourceError
from connectors.records import Record
from schema.collector import collector_paused
from schema.registry_index import RegistrySnapshot
from schema.risk import PERSON_RISK_TYPES, RISK_TYPES
from schema.rules.columns import RULE_COLUMNS

__all__ = ["RegistryRisk", "RiskRecords", "Touched", "read_by_key"]

_PERSON_TYPES = frozenset(PERSON_RISK_TYPES)


@dataclass(frozen=True, slots=True)
class _Part:
    """One agency's records of one type - those to find by credit code and those to
    find by person id (for a scan, the same list) - and when (and over which registry
    snapshot, for an agency asked by key) they were read."""

    by_code: list[Record]
    by_person: list[Record]
    read_at: float
    registry_at: float | None
    risky_only: bool  # only the records with a risk level were read
    version: float  # when its records last changed (read whole, or a change applied)


@dataclass(frozen=True, slots=True)
class Touched:
    """The subjects whose records a change concerned (before or after it)."""

    codes: frozenset[str]
    people: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.codes or self.people)


@dataclass(frozen=True, slots=True)
class RiskRecords:
    """The registry's risk records at one moment (raw, every agency that answered)."""

    by_code: Mapping[str, list[Record]]
    by_person: Mapping[str, list[Record]]
    # agencies that could not be read (their records are missing)
    failed: tuple[SourceError, ...] = ()
    # changes whenever a part is read again: levels computed from these records are
    # kept under it (``schema.risk_index``)
    version: tuple[float, ...] = field(default=())
    missing: frozenset[str] = field(init=False)  # the failed agencies' codes

    def __post_init__(self) -> None:
        object.__setattr__(self, "missing", frozenset(e.agency for e in self.failed))


class RegistryRisk:
    """Keeps every provider's risk records fresh enough; one per running gateway."""

    def __init__(self, providers: Callable[[str], tuple[Connector, ...]], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._providers = providers
        self._clock = clock
        self._parts: dict[tuple[str, str], _Part] = {}
        self._current: RiskRecords | None = None
        self._lock = asyncio.Lock()
        self._riskless: frozenset[str] = frozenset()  # as last asked (``records``)

    async def records(self, snapshot: RegistrySnapshot, ages: dict[str, float],
                      stale: dict[str, float], riskless: frozenset[str]) -> RiskRecords:
        """Every risk record, parts older than their agency's ``cache_ttl_s`` read
        again first. ``ages`` and ``stale`` (a request's ``Loaders.ages`` / ``.stale``)
        get, per agency, the age of the oldest part used and of a stale part served.
        Records without a risk level are read only of the ``riskless`` types (those the
        rules may count: ``schema.rules.columns.riskless_counted``)."""
        async with self._lock:
            self._riskless = riskless
            wanted = [(connector, record_type) for record_type in RISK_TYPES
                      for connector in self._providers(record_type)]
            due = [(c, t) for c, t in wanted if self._due(c, t, snapshot)]
            failed: list[SourceError] = []
            if due:
                with collector_paused():
                    read = await self._read_all(due, snapshot)
                for (connector, record_type), part in zip(due, read, strict=True):
                    if isinstance(part, _Part):
                        kept = self._parts.get((connector.code, record_type))
                        if kept is None or kept.read_at <= part.read_at:  # not a change
                            self._parts[(connector.code, record_type)] = part  # applied since
                    elif not self._usable(connector, record_type):
                        self._parts.pop((connector.code, record_type), None)
                        failed.append(part)
                self._current = None
            now = self._clock()
            for connector, record_type in wanted:
                kept = self._parts.get((connector.code, record_type))
                if kept is None:
                    continue
                age = now - kept.read_at
                code = connector.code
                ages[code] = max(ages.get(code, 0.0), age)
                if age > connector.spec.cache_ttl_s:
                    stale[code] = max(stale.get(code, 0.0), age)
            if self._current is None or failed:
                with collector_paused():
                    self._current = self._merge(wanted, tuple(failed))
            return self._current

    def _due(self, connector: Connector, record_type: str, snapshot: RegistrySnapshot) -> bool:
        kept = self._parts.get((connector.code, record_type))
        if kept is None or self._clock() - kept.read_at > connector.spec.cache_ttl_s:
            return True
        if kept.risky_only and record_type in self._riskless:
            return True  # the rules now count records this part left out
        # an agency asked by key was asked for the enterprises of an older registry
        return kept.registry_at is not None and kept.registry_at != snapshot.built_at

    def _usable(self, connector: Connector, record_type: str) -> bool:
        """May the part kept be served although it could not be read again?"""
        kept = self._parts.get((connector.code, record_type))
        spec = connector.spec
        return kept is not None and (
            self._clock() - kept.read_at <= spec.cache_ttl_s + spec.stale_if_error_s)

    async def _read_all(self, due: list[tuple[Connector, str]],
                        snapshot: RegistrySnapshot) -> list[_Part | SourceError]:
        """Read the parts due: the agencies answering by key all at once, the ones read
        in this process (their rows parsed here) one after another meanwhile - run
        together they only contend for the one interpreter, and took longer."""
        local = [(c, t) for c, t in due if c.listable]
        remote = [(c, t) for c, t in due if not c.listable]

        async def one_by_one() -> list[_Part | SourceError]:
            return [await self._read(c, t, snapshot) for c, t in local]

        async def at_once() -> list[_Part | SourceError]:
            return list(await asyncio.gather(*(self._read(c, t, snapshot) for c, t in remote)))

        found, asked = await asyncio.gather(one_by_one(), at_once())
        parts = dict(zip(local + remote, found + asked, strict=True))
        return [parts[item] for item in due]

    async def _read(self, connector: Connector, record_type: str,
                    snapshot: RegistrySnapshot) -> _Part | SourceError:
        read_at = self._clock()
        risky_only = record_type not in self._riskless
        try:
            if connector.listable:
                records = await connector.scan(record_type, columns=RULE_COLUMNS,
                                               risky_only=risky_only)
                return _Part(records, records, read_at, None, risky_only, read_at)
            return await _asked(connector, record_type, snapshot, read_at, risky_only)
        except SourceError as error:
            return error

    def apply(self, agency: str, record_type: str, records: Sequence[Record], *,
              whole: bool, risky_only: bool, registry_at: float | None = None) -> Touched:
        """Apply one agency's records of ``record_type`` as read by the change feed:
        changed records replace those of the same record id (a record without a risk
        level removes its earlier version when ``risky_only``), or - ``whole`` - they
        are every record of the part (one not among them is gone). The part counts as
        read now. Returns the credit codes and person ids whose records changed."""
        key = (agency, record_type)
        kept = self._parts.get(key)
        now = self._clock()
        if kept is not None and not whole and not records and kept.risky_only == risky_only:
            self._parts[key] = replace(kept, read_at=now, registry_at=registry_at)
            return Touched(frozenset(), frozenset())  # the usual poll: nothing changed
        old: dict[str, Record] = {}
        if kept is not None:
            for record in (*kept.by_code, *kept.by_person):
                old.setdefault(record.record_id, record)
        new: dict[str, Record] = {} if whole else dict(old)
        for record in records:
            if risky_only and record.risk_level is None:
                new.pop(record.record_id, None)
            else:
                new[record.record_id] = record
        changed = [(old.get(i), new.get(i)) for i in old.keys() | new.keys()
                   if old.get(i) != new.get(i)]
        if kept is not None and not changed and kept.risky_only == risky_only:
            self._parts[key] = replace(kept, read_at=now, registry_at=registry_at)
            return Touched(frozenset(), frozenset())
        codes = {r.credit_code for pair in changed for r in pair if r is not None and r.credit_code}
        people = {r.person_id for pair in changed for r in pair
                  if r is not None and r.person_id and record_type in _PERSON_TYPES}
        listed = list(new.values())
        self._parts[key] = _Part(listed, listed, now, registry_at, risky_only, now)
        current = self._current
        if current is not None and kept is not None and kept.risky_only == risky_only:
            self._current = self._patched(current, key, listed, codes, people)
        else:
            self._current = None  # merged again when next asked
        return Touched(frozenset(codes), frozenset(people))

    def _patched(self, current: RiskRecords, key: tuple[str, str], listed: list[Record],
                 codes: set[str], people: set[str]) -> RiskRecords:
        """``current`` with the part ``key``'s records of the subjects touched replaced:
        only those subjects' lists are copied; the records served before stay as they
        were (a reader may hold them)."""
        agency, record_type = key
        by_code, by_person = dict(current.by_code), dict(current.by_person)
        for into, wanted, by_code_of in ((by_code, codes, True), (by_person, people, False)):
            fresh: dict[str, list[Record]] = {subject: [] for subject in wanted}
            for record in listed:
                subject = record.credit_code if by_code_of else record.person_id
                if subject is not None and subject in fresh:
                    fresh[subject].append(record)
            for subject, records in fresh.items():
                others = [r for r in into.get(subject, ())
                          if r.agency != agency or r.record_type != record_type]
                if others or records:
                    into[subject] = others + records
                else:
                    into.pop(subject, None)
        version = tuple(part.version for part in self._parts.values())
        return RiskRecords(by_code, by_person, current.failed, version)

    def merged(self) -> RiskRecords:
        """The records held now, without reading any agency (the change feed's view):
        merged from the parts when a change left them unmerged."""
        if self._current is None:
            wanted = [(connector, record_type) for record_type in RISK_TYPES
                      for connector in self._providers(record_type)]
            with collector_paused():
                self._current = self._merge(wanted, ())
        return self._current

    def _merge(self, wanted: list[tuple[Connector, str]],
               failed: tuple[SourceError, ...]) -> RiskRecords:
        by_code: dict[str, list[Record]] = {}
        by_person: dict[str, list[Record]] = {}
        version = []
        for connector, record_type in wanted:
            part = self._parts.get((connector.code, record_type))
            if part is None:
                continue
            version.append(part.version)
            for record in part.by_code:
                code = record.credit_code
                if code:
                    found = by_code.get(code)
                    if found is None:
                        by_code[code] = [record]
                    else:
                        found.append(record)
            if record_type not in _PERSON_TYPES:
                continue
            for record in part.by_person:
                person = record.person_id
                if person:
                    found = by_person.get(person)
                    if found is None:
                        by_person[person] = [record]
                    else:
                        found.append(record)
        return RiskRecords(by_code, by_person, failed, tuple(version))


async def read_by_key(connector: Connector, record_type: str, snapshot: RegistrySnapshot,
                      risky_only: bool) -> list[Record]:
    """Every record of an agency that cannot list them (nor tell its changes), asked
    for every registry credit code and legal representative; each record once."""
    part = await _asked(connector, record_type, snapshot, 0.0, risky_only)
    seen: dict[str, Record] = {}
    for record in (*part.by_code, *part.by_person):
        seen.setdefault(record.record_id, record)
    return list(seen.values())


async def _asked(connector: Connector, record_type: str, snapshot: RegistrySnapshot,
                 read_at: float, risky_only: bool) -> _Part:
    """A part of an agency that cannot list: its records for every registry credit
    code (and legal representative, for person-keyed types). Raises the first key's
    failure: a part with holes would count as complete."""
    codes = list(snapshot.codes)
    people = sorted(snapshot.by_person) if record_type in _PERSON_TYPES else []
    asked = [connector.fetch(record_type, "credit_code", codes, columns=RULE_COLUMNS,
                             risky_only=risky_only)]
    if people:
        asked.append(connector.fetch(record_type, "person_id", people, columns=RULE_COLUMNS,
                                     risky_only=risky_only))
    results = await asyncio.gather(*asked)
    found: list[list[Record]] = [[], []]
    for into, per_key in zip(found, results, strict=False):
        for records in per_key:
            if isinstance(records, SourceError):
                raise records
            into.extend(records)
    return _Part(found[0], found[1], read_at, snapshot.built_at, risky_only, read_at)
