"""Checking the access log's chain (``verify``) and exporting it (``export``).

``verify`` reads the log in id order, in chunks, and recomputes everything from the
stored columns (``chain.py`` defines the hashes). It stops at the first entry that
is wrong and says what happened to it:

- **edited**: the content recomputed from the columns has another hash than the one
  stored (or the stored hashes do not agree with each other);
- **deleted**: ids jump (1, 2, 4), or an entry does not follow its predecessor and
  no other entry does either;
- **inserted**: an entry whose hashes do not chain, where a later entry follows the
  one before it (a forged entry with correct hashes is found at the next entry,
  which still follows the entry before the forgery);
- **reordered**: an entry whose predecessor in the chain comes later by id;
- **truncated**: an anchor counts more entries than the log has;
- **rewritten**: the entry at an anchor's head has another hash than the anchor
  recorded (the tail was cut and written again): named from the entry after the
  last anchor that still matches.

What it cannot see: someone who can write to the database and rewrites the whole
chain and its anchors consistently. Keep the head that ``gateway audit verify``
prints (or exports) somewhere else to catch that.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform_store.chain import CHAIN_COLUMNS, GENESIS, entry_of_row, link_hash
from gateway.platform_store.store import PlatformStore
from gateway.platform_store.tables import access_log, access_log_anchors

__all__ = ["Verdict", "export", "verify"]

_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Verdict:
    """The chain is ``intact`` with ``count`` entries, or ``first_bad_id`` is where it
    is not, and ``reason`` says what was done there. ``head_hash`` is the
    ``entry_hash`` of the last good entry."""

    intact: bool
    count: int
    first_bad_id: int | None
    reason: str
    head_hash: str = GENESIS


async def verify(store: PlatformStore, chunk: int = _CHUNK) -> Verdict:
    """Check the whole chain and its anchors (entries appended meanwhile are left
    for the next run)."""
    async with store.engine.connect() as conn:
        missing = await conn.run_sync(_missing_tables, store.settings.schema)
        if missing:
            return Verdict(False, 0, None, f"tampered: table {missing} is missing")
        # anchors first: any anchor read here covers entries the next query sees
        last_anchor = await conn.scalar(sa.select(sa.func.max(access_log_anchors.c.id)))
        top = await conn.scalar(sa.select(sa.func.max(access_log.c.id))) or 0
        await conn.rollback()
    anchor_limit = int(last_anchor or 0)
    expected, prev, count = 1, GENESIS, 0
    anchored, anchored_hash = 0, GENESIS  # the last entry an anchor confirmed
    # an anchor that disagrees with its head entry is reported once the next entry is
    # seen: if that entry does not follow either, the two together say more
    disagreeing: dict[str, Any] | None = None
    while expected <= top:
        async with store.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(access_log).where(access_log.c.id >= expected,
                                            access_log.c.id <= top)
                .order_by(access_log.c.id).limit(chunk))).mappings().all()
            if not rows:
                break
            anchors = await _anchors(conn, rows[0]["id"], rows[-1]["id"], anchor_limit)
            for row in rows:
                row_id = int(row["id"])
                if row_id != expected:
                    return _gap(expected, row_id, count, prev)
                if row["prev_hash"] != prev:
                    if disagreeing is not None and disagreeing["head_hash"] == row["prev_hash"]:
                        return Verdict(False, count - 1, row_id - 1, (
                            f"tampered: entry {row_id - 1} was edited (its hashes were "
                            f"recomputed; anchor {disagreeing['id']} and entry {row_id} still "
                            f"hold its original hash)"), row["prev_hash"])
                    return await _broken_link(conn, row, prev, count)
                if disagreeing is not None:
                    return _rewritten(disagreeing, anchored, anchored_hash)
                problem = _content_problem(row)
                if problem:
                    return Verdict(False, count, row_id, f"tampered: entry {row_id} was "
                                   f"edited ({problem})", prev)
                for anchor in anchors.get(row_id, ()):
                    if anchor["entry_count"] != row_id or anchor["head_hash"] != row["entry_hash"]:
                        disagreeing = {**anchor, "found": row["entry_hash"]}
                        break
                    anchored, anchored_hash = row_id, row["entry_hash"]
                prev = row["entry_hash"]
                count += 1
                expected += 1
    if disagreeing is not None:
        return _rewritten(disagreeing, anchored, anchored_hash)
    async with store.engine.connect() as conn:
        longest = (await conn.execute(
            sa.select(access_log_anchors).where(access_log_anchors.c.id <= anchor_limit)
            .order_by(access_log_anchors.c.entry_count.desc()).limit(1))).mappings().first()
    if longest is not None and longest["entry_count"] > count:
        return Verdict(False, count, count + 1, (
            f"tampered: the tail was truncated: anchor {longest['id']} of "
            f"{longest['at']:%Y-%m-%d %H:%M:%S} UTC records {longest['entry_count']} entries "
            f"(head {longest['head_hash'][:16]}...), the log has {count}"), prev)
    return Verdict(True, count, None, f"intact: {count} entries", prev)


def _rewritten(anchor: dict[str, Any], anchored: int, anchored_hash: str) -> Verdict:
    head = int(anchor["head_id"])
    return Verdict(False, anchored, anchored + 1, (
        f"tampered: entries {anchored + 1} to {head} were rewritten: anchor {anchor['id']} "
        f"of {anchor['at']:%Y-%m-%d %H:%M:%S} UTC recorded {anchor['entry_count']} entries "
        f"with head {anchor['head_hash'][:16]}..., entry {head} is "
        f"{anchor['found'][:16]}..."), anchored_hash)


def _missing_tables(conn: sa.Connection, schema: str | None) -> str | None:
    inspector = sa.inspect(conn)
    for table in (access_log, access_log_anchors):
        if not inspector.has_table(table.name, schema=schema):
            return table.name
    return None


async def _anchors(conn: AsyncConnection, low: int, high: int,
                   limit: int) -> dict[int, list[dict[str, Any]]]:
    rows = (await conn.execute(
        sa.select(access_log_anchors).where(access_log_anchors.c.head_id.between(low, high),
                                            access_log_anchors.c.id <= limit))).mappings()
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(int(row["head_id"]), []).append(dict(row))
    return found


def _content_problem(row: Any) -> str | None:
    try:
        recomputed = entry_of_row(row).content_hash()
    except (ValueError, TypeError, KeyError, AttributeError):
        return "a column does not hold what the writer stores"
    if recomputed != row["content_hash"]:
        return "content hash differs"
    if link_hash(row["prev_hash"], row["content_hash"]) != row["entry_hash"]:
        return "entry hash differs"
    return None


def _gap(expected: int, found: int, count: int, prev: str) -> Verdict:
    which = (f"entry {expected} was" if found == expected + 1
             else f"entries {expected} to {found - 1} were")
    return Verdict(False, count, expected, f"tampered: {which} deleted (ids jump from "
                   f"{expected - 1} to {found})", prev)


async def _broken_link(conn: AsyncConnection, row: Any, prev: str, count: int) -> Verdict:
    """Entry ``row`` does not follow the entry before it: find out why."""
    row_id = int(row["id"])
    # where the entry's own predecessor is, and which entry follows the one before it
    predecessor = await conn.scalar(sa.select(sa.func.min(access_log.c.id))
                                    .where(access_log.c.entry_hash == row["prev_hash"]))
    successor = await conn.scalar(sa.select(sa.func.min(access_log.c.id))
                                  .where(access_log.c.prev_hash == prev,
                                         access_log.c.id > row_id))
    if predecessor is not None and predecessor > row_id:
        return Verdict(False, count, row_id, f"tampered: entry {row_id} was reordered "
                       f"(it follows entry {predecessor} in the chain)", prev)
    if predecessor is not None and predecessor < row_id - 1:
        first = predecessor + 1
        which = (f"entry {first} was" if first == row_id - 1
                 else f"entries {first} to {row_id - 1} were")
        return Verdict(False, first - 1, first, (
            f"tampered: {which} inserted (entry {row_id} follows entry {predecessor})"),
            row["prev_hash"])
    if successor is not None:
        which = (f"entry {row_id} was" if successor == row_id + 1
                 else f"entries {row_id} to {successor - 1} were")
        return Verdict(False, count, row_id, f"tampered: {which} inserted (its hashes do "
                       f"not chain; entry {successor} follows entry {row_id - 1})", prev)
    return Verdict(False, count, row_id, (
        f"tampered: entry {row_id} does not follow entry {row_id - 1}: an entry between "
        f"them was deleted (or entry {row_id - 1} was rewritten with new hashes)"), prev)


async def export(store: PlatformStore, out: TextIO, start: dt.datetime | None = None,
                 end: dt.datetime | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 chunk: int = _CHUNK) -> int:
    """Write the entries with ``start <= at < end`` as JSON lines, in chain order:
    ``id``, the entry's fields (its canonical content) and ``prev_hash``,
    ``content_hash``, ``entry_hash``. ``progress(done, total)`` is called per chunk.
    Returns the number written."""
    where = []
    if start is not None:
        where.append(access_log.c.at >= start)
    if end is not None:
        where.append(access_log.c.at < end)
    async with store.engine.connect() as conn:
        total = int(await conn.scalar(sa.select(sa.func.count()).select_from(access_log)
                                      .where(*where)) or 0)
        top = int(await conn.scalar(sa.select(sa.func.max(access_log.c.id))) or 0)
        await conn.rollback()
    done, after = 0, 0
    if progress is not None:
        progress(0, total)
    while after < top:
        async with store.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(access_log).where(access_log.c.id > after, access_log.c.id <= top,
                                            *where)
                .order_by(access_log.c.id).limit(chunk))).mappings().all()
        if not rows:
            break
        for row in rows:
            out.write(json.dumps(_exported(row), ensure_ascii=False) + "\n")
        done += len(rows)
        after = int(rows[-1]["id"])
        if progress is not None:
            progress(done, total)
    return done


def _exported(row: Any) -> dict[str, Any]:
    """One export line: the entry's canonical content between its id and its hashes,
    so that an archive can recompute ``content_hash`` from the line alone. A row that
    no longer parses (tampered) is exported as stored."""
    try:
        content = json.loads(entry_of_row(row).content())
    except (ValueError, TypeError, KeyError, AttributeError):
        content = {key: (value.isoformat() if isinstance(value, dt.datetime) else value)
                   for key, value in row.items()
                   if key not in CHAIN_COLUMNS}
    return {"id": row["id"], **content, "prev_hash": row["prev_hash"],
            "content_hash": row["content_hash"], "entry_hash": row["entry_hash"]}
