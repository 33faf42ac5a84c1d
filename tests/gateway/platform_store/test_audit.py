"""``verify`` names the first entry edited, deleted, inserted or reordered, and a cut
or rewritten tail, on SQLite and PostgreSQL (tampering with SQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from platform_db import BACKENDS, entry, migrated, platform_database, write_entries

from gateway.platform_store.audit import Verdict, verify
from gateway.platform_store.chain import link_hash, stored_row
from gateway.platform_store.store import PlatformStore
from gateway.platform_store.tables import access_log, access_log_anchors


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PlatformStore]:
    """A log of 60 entries in batches of 10, anchored every 20 and on close."""
    async with platform_database(request.param, tmp_path) as settings, \
            migrated(settings) as store:
        await write_entries(store, range(1, 61))
        yield store


async def tampered(store: PlatformStore, *statements: sa.Executable) -> Verdict:
    async with store.engine.begin() as conn:
        for statement in statements:
            await conn.execute(statement)
    return await verify(store)


def renumber(low: int, by: int) -> list[sa.Executable]:
    """Move ids >= low by ``by`` (through negative ids: the key stays unique)."""
    ids = access_log.c.id
    return [sa.update(access_log).where(ids >= low).values(id=-(ids + by)),
            sa.update(access_log).where(ids < 0).values(id=-ids)]


def forged(number: int, prev_hash: str, entry_hash: str | None = None) -> sa.Executable:
    """An entry inserted at id ``number``, hashed like the writer does unless told."""
    row, content_hash = stored_row(entry(number, principal="someone-else"))
    return sa.insert(access_log).values(
        **row, id=number, prev_hash=prev_hash, content_hash=content_hash,
        entry_hash=entry_hash or link_hash(prev_hash, content_hash))


async def hash_of(store: PlatformStore, number: int) -> str:
    async with store.engine.connect() as conn:
        value = await conn.scalar(sa.select(access_log.c.entry_hash)
                                  .where(access_log.c.id == number))
    return str(value)


async def test_an_untouched_log_is_intact(store: PlatformStore) -> None:
    verdict = await verify(store)
    assert verdict == Verdict(True, 60, None, "intact: 60 entries", await hash_of(store, 60))


async def test_an_edited_entry_is_named(store: PlatformStore) -> None:
    verdict = await tampered(store, sa.update(access_log).where(access_log.c.id == 30)
                             .values(principal="someone-else"))
    assert (verdict.intact, verdict.first_bad_id, verdict.count) == (False, 30, 29)
    assert verdict.reason == "tampered: entry 30 was edited (content hash differs)"


async def test_an_edit_with_its_hashes_recomputed_breaks_the_next_link(
    store: PlatformStore,
) -> None:
    _, content_hash = stored_row(entry(35, principal="someone-else"))
    prev = await hash_of(store, 34)
    verdict = await tampered(store, sa.update(access_log).where(access_log.c.id == 35).values(
        principal="someone-else", content_hash=content_hash,
        entry_hash=link_hash(prev, content_hash)))
    assert (verdict.intact, verdict.first_bad_id) == (False, 36)
    assert verdict.reason.endswith("(or entry 35 was rewritten with new hashes)")
    # at an anchor's head, the anchor tells: anchors are at 10, 30, 50 and 60
    _, content_hash = stored_row(entry(30, principal="someone-else"))
    prev = await hash_of(store, 29)
    verdict = await tampered(store, sa.update(access_log).where(access_log.c.id == 30).values(
        principal="someone-else", content_hash=content_hash,
        entry_hash=link_hash(prev, content_hash)))
    assert verdict.first_bad_id == 30
    assert verdict.reason.startswith("tampered: entry 30 was edited (its hashes were "
                                     "recomputed; anchor ")


async def test_a_deleted_entry_is_named(store: PlatformStore) -> None:
    verdict = await tampered(store, sa.delete(access_log).where(access_log.c.id == 30))
    assert (verdict.first_bad_id, verdict.reason) == (
        30, "tampered: entry 30 was deleted (ids jump from 29 to 31)")
    verdict = await tampered(store, *renumber(31, -1))  # and the gap closed
    assert verdict.first_bad_id == 30
    assert verdict.reason.startswith("tampered: entry 30 does not follow entry 29: an entry "
                                     "between them was deleted")


async def test_an_inserted_entry_is_named(store: PlatformStore) -> None:
    verdict = await tampered(store, *renumber(30, 1), forged(30, "f" * 64, "e" * 64))
    assert (verdict.first_bad_id, verdict.count) == (30, 29)
    assert verdict.reason == ("tampered: entry 30 was inserted (its hashes do not chain; "
                              "entry 31 follows entry 29)")


async def test_an_inserted_entry_with_correct_hashes_is_named(store: PlatformStore) -> None:
    prev = await hash_of(store, 29)
    verdict = await tampered(store, *renumber(30, 1), forged(30, prev))
    assert (verdict.first_bad_id, verdict.count) == (30, 29)
    assert verdict.reason == "tampered: entry 30 was inserted (entry 31 follows entry 29)"


async def test_reordered_entries_are_named(store: PlatformStore) -> None:
    ids = access_log.c.id

    def swap(a: int, b: int) -> list[sa.Executable]:
        return [sa.update(access_log).where(ids == a).values(id=-a),
                sa.update(access_log).where(ids == b).values(id=a),
                sa.update(access_log).where(ids == -a).values(id=b)]

    verdict = await tampered(store, *swap(30, 31))
    assert (verdict.first_bad_id, verdict.reason) == (
        30, "tampered: entry 30 was reordered (it follows entry 31 in the chain)")
    verdict = await tampered(store, *swap(30, 31), *swap(12, 45))  # back, then far apart
    assert (verdict.first_bad_id, verdict.reason) == (
        12, "tampered: entry 12 was reordered (it follows entry 44 in the chain)")


async def test_a_truncated_tail_is_found_from_the_anchors(store: PlatformStore) -> None:
    verdict = await tampered(store, sa.delete(access_log).where(access_log.c.id > 52))
    assert (verdict.intact, verdict.count, verdict.first_bad_id) == (False, 52, 53)
    assert verdict.reason.startswith("tampered: the tail was truncated: anchor ")
    assert verdict.reason.endswith("records 60 entries (head "
                                   f"{verdict.reason.split('(head ')[1][:16]}...), "
                                   "the log has 52")
    # cut and written again: the entry at the anchor's head is another one
    await write_entries(store, range(100, 108))
    verdict = await verify(store)
    assert verdict.first_bad_id == 51  # after the last anchor that still matches (50)
    assert verdict.reason.startswith("tampered: entries 51 to 60 were rewritten: anchor ")


async def test_a_missing_table_is_tampering(store: PlatformStore) -> None:
    verdict = await tampered(store, sa.schema.DropTable(access_log_anchors))
    assert verdict == Verdict(False, 0, None, "tampered: table access_log_anchors is missing")
