"""The access policy in the platform database, on SQLite and PostgreSQL: seeded once
from the policies folder, changed one checked version at a time with its history,
refused changes leave everything as it was."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from platform_db import BACKENDS, migrated, platform_database

from connectors.standard import Openness
from gateway import policy_db
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.store import PlatformStore, open_store
from gateway.policy_db import PolicyChangeRefused
from gateway.policy_files import DEFAULT_POLICY_DIR, build_policy, read_policy_data
from schema.access import Clearance

STATISTICS_RULE = ("auditor", "^STATISTICS$", "Penalty.*", "CONDITIONAL", "*", "allow")
STATISTICIAN = Clearance("auditor", "", "STATISTICS")


@pytest.fixture(params=BACKENDS)
async def settings(request: pytest.FixtureRequest,
                   tmp_path: Path) -> AsyncIterator[PlatformSettings]:
    async with platform_database(request.param, tmp_path) as value:
        yield value


@pytest.fixture
async def store(settings: PlatformSettings) -> AsyncIterator[PlatformStore]:
    async with migrated(settings) as opened:
        await policy_db.seed(opened, DEFAULT_POLICY_DIR)
        yield opened


async def test_two_gateways_starting_at_once_seed_once(settings: PlatformSettings) -> None:
    stores = [open_store(settings) for _ in range(2)]
    try:
        await stores[0].migrate()
        seeded = await asyncio.gather(*(policy_db.seed(s, DEFAULT_POLICY_DIR) for s in stores))
        assert sorted(seeded) == [False, True]
        stored = await policy_db.load(stores[1])
    finally:
        for s in stores:
            await s.aclose()
    folder = read_policy_data(DEFAULT_POLICY_DIR)
    assert stored.version == 1 and len(stored.store_id) == 32
    assert stored.classes == folder.classes
    assert [values for _, values in stored.rules] == [tuple(v) for _, v in folder.rules]
    assert set(stored.documents) >= {"model.conf", "derivation.yaml", "warnings.yaml"}
    assert "fields.yaml" not in stored.documents and "policy.csv" not in stored.documents
    # what the database holds builds the same policy the folder does
    assert build_policy(stored.data()).classes == build_policy(folder).classes


async def test_a_field_class_change_is_a_new_version_with_its_history(
    store: PlatformStore,
) -> None:
    stored, policy = await policy_db.set_field_class(
        store, "Penalty", "amount", "CONDITIONAL", principal="test-admin",
        reason="amounts under review")
    assert stored.version == 2
    assert policy.classes.fields("Penalty")["amount"] is Openness.CONDITIONAL
    assert (await policy_db.load(store)).classes["Penalty"]["amount"] == "CONDITIONAL"
    assert await policy_db.stored_version(store) == 2
    seeded, changed = await policy_db.history(store)
    assert (seeded.version, seeded.principal, seeded.change["kind"]) == (1, "seed", "seed")
    assert (changed.version, changed.principal, changed.reason) == (
        2, "test-admin", "amounts under review")
    assert changed.change == {"kind": "set-field-class", "type": "Penalty", "field": "amount",
                              "before": "OPEN", "after": "CONDITIONAL"}
    assert changed.changed_at >= seeded.changed_at


async def test_a_rule_added_then_removed_grants_then_withdraws(store: PlatformStore) -> None:
    before = build_policy((await policy_db.load(store)).data())
    assert not before.allowed(STATISTICIAN, "Penalty", Openness.CONDITIONAL, "SAMR")
    added, policy = await policy_db.add_rule(store, STATISTICS_RULE, principal="p")
    assert policy.allowed(STATISTICIAN, "Penalty", Openness.CONDITIONAL, "SAMR")
    removed, policy = await policy_db.remove_rule(store, STATISTICS_RULE, principal="p",
                                                  reason="statistics done")
    assert not policy.allowed(STATISTICIAN, "Penalty", Openness.CONDITIONAL, "SAMR")
    assert (added.version, removed.version) == (2, 3)
    rows = await policy_db.history(store)
    line = "p, " + ", ".join(STATISTICS_RULE)
    assert [r.change for r in rows[1:]] == [
        {"kind": "add-rule", "before": None, "after": line},
        {"kind": "remove-rule", "before": line, "after": None}]


Change = Callable[[PlatformStore], Awaitable[Any]]
REFUSED: dict[str, tuple[Change, str]] = {
    "unknown type": (lambda s: policy_db.set_field_class(
        s, "Fine", "amount", "OPEN", principal="p"), "Fine: not a record type"),
    "unknown field": (lambda s: policy_db.set_field_class(
        s, "Penalty", "fineAmount", "OPEN", principal="p"), "Penalty.fineAmount: no such field"),
    "a field that is never null": (lambda s: policy_db.set_field_class(
        s, "Enterprise", "creditCode", "NOT_OPEN", principal="p"),
        "Enterprise.creditCode: must be OPEN"),
    "an unknown class": (lambda s: policy_db.set_field_class(
        s, "Penalty", "amount", "SECRET", principal="p"), "class must be one of"),
    "a rule for an unknown role": (lambda s: policy_db.add_rule(
        s, ("inspector", "*", "*", "OPEN", "*", "allow"), principal="p"),
        "unknown role 'inspector'"),
    "a rule of five values": (lambda s: policy_db.add_rule(
        s, ("auditor", "*", "*", "OPEN", "allow"), principal="p"), "needs 6 values"),
    "a rule on an unknown field": (lambda s: policy_db.add_rule(
        s, ("auditor", "*", "Penalty.fine", "OPEN", "*", "allow"), principal="p"),
        "unknown object 'Penalty.fine'"),
    "a rule in force already": (lambda s: policy_db.add_rule(
        s, ("public", "*", "*", "OPEN", "*", "allow"), principal="p"), "in force already"),
    "removing a rule not in force": (lambda s: policy_db.remove_rule(
        s, STATISTICS_RULE, principal="p"), "no rule p, auditor"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_a_refused_change_changes_nothing(store: PlatformStore, case: str) -> None:
    change, reason = REFUSED[case]
    before = await policy_db.load(store)
    with pytest.raises(PolicyChangeRefused, match=None) as refused:
        await change(store)
    assert reason in str(refused.value)
    assert "\n" not in str(refused.value)
    assert await policy_db.load(store) == before
    assert len(await policy_db.history(store)) == 1
