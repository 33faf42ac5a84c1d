"""Planned records: the showcase's, and the coverage enterprises' (data, then one function).

The demo must answer the same way whatever day it is generated on. The record
cycle is the calendar year (``policies/warnings.yaml``): on 1 January only records
dated that day are current, while listings in force count whatever year they were
listed. So every planned date is counted back from ``as_of``: a *current* record is
``days_back`` days before it but never before 1 January of its year (on 1 January
it is dated 1 January), a listing is listed ``days_back`` days before ``as_of``, and
a *history* record is more than a year old.

``COVERAGE`` gives one enterprise per combination below, so on any day the demo
holds every warning level (NONE, YELLOW, ORANGE, RED), every credit grade (A-D) and
every restriction decision the data alone can give (ALLOWED, RESTRICTED,
PROHIBITED; INDETERMINATE needs an agency that cannot be read), with records dated
on ``as_of`` itself. Their records are OPEN, so every caller's view holds them, and
their legal representatives represent nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.demo.records import RecordMaker
from gateway.demo.registry import Enterprise

__all__ = ["COVERAGE", "SHOWCASE", "Planned", "Profile", "plant"]

@dataclass(frozen=True, slots=True)
class Planned:
    """One planned record.

    ``record_type`` is a standard record type; an ``inspection`` with an empty
    ``risk`` is a passed spot check. ``when`` is ``current`` (this record cycle),
    ``history`` (``days_back`` must exceed 365) or, for listings, ``listed``.
    ``kind`` fixes a penalty's type. ``on_person``: the record names the legal
    representative.
    """

    agency: str
    record_type: str
    days_back: int
    risk: str
    when: str = "current"
    kind: str = ""
    on_person: bool = False
    openness: str = "OPEN"


@dataclass(frozen=True, slots=True)
class Profile:
    """A coverage enterprise: its planned records and what the rules make of them."""

    warning: str
    grade: str
    records: tuple[Planned, ...]


COVERAGE: tuple[Profile, ...] = (
    # no risk record: NONE, A, every action ALLOWED; a passed spot check today
    Profile("NONE", "A", (Planned("SAMR", "inspection", 0, ""),)),
    # a business anomaly in force: YELLOW, B (HONOUR restricted)
    Profile("YELLOW", "B", (Planned("SAMR", "anomaly", 20, "LOW", "listed"),)),
    # a medium-risk fine today: YELLOW, C (licences restricted)
    Profile("YELLOW", "C", (Planned("SAMR", "penalty", 0, "MEDIUM", kind="FINE"),)),
    # three failed spot checks by one agency this year: ORANGE (repeated), B
    Profile("ORANGE", "B", (Planned("FDA", "inspection", 0, "LOW"),
                            Planned("FDA", "inspection", 30, "LOW"),
                            Planned("FDA", "inspection", 60, "LOW"))),
    # a high-risk judgment default in force: ORANGE, C
    Profile("ORANGE", "C", (Planned("COURT", "judgment_default", 200, "HIGH", "listed"),)),
    # two agencies this year: RED, C
    Profile("RED", "C", (Planned("EPB", "penalty", 0, "MEDIUM", kind="FINE"),
                         Planned("FIRE", "inspection", 3, "LOW"))),
    # on the serious violation list for over a year, and a tax fine today: RED, D
    # (PROHIBITED)
    Profile("RED", "D", (Planned("SAMR", "serious_violation", 500, "HIGH", "listed"),
                         Planned("TAX", "penalty", 0, "LOW", kind="FINE"))),
)

# The showcase: records from every agency, openness OPEN / CONDITIONAL / NOT_OPEN in
# turn, some on the legal representative, current ones and history. On any day:
# RED (SAMR, TAX, EPB, FDA and COURT count; FIRE's warning-only penalty never does),
# grade C (a medium-risk penalty, a judgment default in force), and for the public
# (OPEN records only) RED as well. Lists are newest first, then by agency and record
# id: current records of one type are dated in that order (FIRE, SAMR 1, SAMR 2, TAX
# penalties; EPB, FDA spot checks), so a list has the same order on 1 January, when
# they all fall on that day, as on any other.
SHOWCASE: tuple[Planned, ...] = (
    Planned("SAMR", "penalty", 12, "LOW", kind="FINE"),
    Planned("SAMR", "penalty", 25, "MEDIUM", kind="FINE", on_person=True,
            openness="CONDITIONAL"),
    Planned("SAMR", "anomaly", 75, "LOW", "listed", openness="NOT_OPEN"),
    Planned("SAMR", "inspection", 430, "LOW", "history"),
    Planned("TAX", "penalty", 40, "MEDIUM", kind="FINE", openness="CONDITIONAL"),
    Planned("EPB", "penalty", 600, "HIGH", "history", kind="PRODUCTION_SUSPENSION",
            openness="NOT_OPEN"),
    Planned("EPB", "inspection", 5, "LOW"),
    Planned("FDA", "penalty", 800, "MEDIUM", "history", kind="CONFISCATION",
            openness="CONDITIONAL"),
    Planned("FDA", "inspection", 50, "LOW", openness="NOT_OPEN"),
    Planned("COURT", "judgment_default", 300, "MEDIUM", "listed"),
    Planned("COURT", "judgment_default", 150, "HIGH", "listed", on_person=True,
            openness="CONDITIONAL"),
    Planned("FIRE", "penalty", 5, "LOW", kind="WARNING", openness="NOT_OPEN"),
    Planned("FIRE", "inspection", 500, "LOW", "history"),
)


def plant(maker: RecordMaker, enterprise: Enterprise, records: tuple[Planned, ...]) -> None:
    """Add ``records`` about ``enterprise``, dated relative to ``maker``'s ``as_of``."""
    for record in records:
        if record.when == "current":
            on = maker.this_year(record.days_back)
        else:
            if record.when == "history" and record.days_back <= 366:
                raise ValueError("a history record must be more than a year old")
            on = maker.end - record.days_back
        maker.planned(on, _maker(maker, enterprise, record), risk_level=record.risk)


def _maker(maker: RecordMaker, ent: Enterprise, record: Planned) -> Callable[[], None]:
    agency, openness = record.agency, record.openness
    if record.record_type == "penalty":
        return lambda: maker.penalty(agency, ent, openness, record.on_person, record.kind or None)
    if record.record_type == "inspection":
        return lambda: maker.inspection(agency, ent, failed=bool(record.risk), openness=openness)
    if record.record_type == "judgment_default":
        return lambda: maker.judgment_default(ent, openness, record.on_person)
    return lambda: maker.listing(agency, record.record_type, ent, openness)

