"""The access policy of one replica when it lives in the platform database.

``DatabasePolicies`` holds the policy in force in this process and the database
version it is (the same number on every replica). ``follow`` (a lifespan task)
seeds the database from the policies folder if it holds no policy yet, loads it,
then looks for newer versions: at once when a notification arrives
(``gateway.policy_channel``), and every ``poll_s`` seconds by reading the version in
the database (so with Redis down a change arrives at most ``poll_s`` late).

A newer version is loaded, checked (``build_policy``, and the rule documents:
``gateway.rule_documents``) and swapped in at once: the policy, its version, the rule
documents when they changed (``on_rules``: the warning, grade and restriction rules,
the restriction catalogue's schemas, the rate limits, the audit alert rules), and
whatever the app derives from the policy (``on_change``: the public schema, the
answer cache). No replica answers under an old version after seeing a
newer one: from the moment a newer version is seen until it is loaded, ``ready``
holds requests (at most ``wait_s``) and then tells the caller to retry
(``POLICY_UPDATING``). The replica that makes a change puts it in force before
answering (``set_field_class``, ``add_rule``, ``remove_rule``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from connectors.standard import Openness
from gateway import policy_db
from gateway.platform_store.store import PlatformStore, describe_error
from gateway.policy_channel import PolicyChannel
from gateway.policy_db import PolicyChangeRefused, StoredPolicy
from gateway.policy_files import PolicyError, build_policy
from gateway.rule_documents import RuleDocuments, RuleDocumentsError, load_rule_documents
from schema.access import AccessPolicy
from schema.policy_admin import ChangeRefused, StoreUnavailable

__all__ = ["DatabasePolicies", "PolicyAdmin"]

log = logging.getLogger("gateway.policies")

OnChange = Callable[[AccessPolicy, AccessPolicy], None]
OnRules = Callable[[RuleDocuments], None]


class DatabasePolicies:
    """The policy in force here (``current``, ``version``) and how it follows the
    database. ``initial`` (the folder's policy) is only a placeholder: until the first
    load ``ready`` refuses requests."""

    def __init__(self, store: PlatformStore, initial: AccessPolicy, *, folder: Path,
                 poll_s: float, channel: PolicyChannel | None = None,
                 wait_s: float = 2.0) -> None:
        self._store = store
        self._policy = initial
        self._folder = folder
        self._poll_s = poll_s
        self._channel = channel
        self._wait_s = wait_s
        self._listeners: list[OnChange] = []
        self._rule_listeners: list[OnRules] = []
        self._documents: dict[str, str] | None = None  # the rule documents' texts in force
        self.rules: RuleDocuments | None = None  # loaded from them; None before the first load
        self.version = 0  # the database version in force here; 0 before the first load
        self.store_id = ""
        self._seen = 1  # the newest version known to exist (1: at least the seed)
        self._kick = asyncio.Event()  # look at the database now
        self._applied = asyncio.Event()  # replaced after each load (wakes the waiters)
        self._loading = asyncio.Lock()

    def current(self) -> AccessPolicy:
        return self._policy

    def on_change(self, listener: OnChange) -> None:
        """Call ``listener(old, new)`` right after a new policy is swapped in (without
        awaiting in between: no request sees the one without the other)."""
        self._listeners.append(listener)

    def on_rules(self, listener: OnRules) -> None:
        """Call ``listener(rules)`` when a version with other rule documents than the
        ones in force is swapped in (and at the first load), before the ``on_change``
        listeners and without awaiting in between."""
        self._rule_listeners.append(listener)

    @property
    def behind(self) -> bool:
        """A newer version has been seen and is not in force yet."""
        return self._seen > self.version

    async def ready(self, wait_s: float | None = None) -> bool:
        """True when no newer version than the one in force is known, waiting for
        one being loaded at most ``wait_s`` (default: the one given at construction);
        False: the caller should be told to retry."""
        if not self.behind:  # every request asks: the usual answer costs a comparison
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._wait_s if wait_s is None else wait_s)
        while self.behind:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._applied.wait(), remaining)
            except TimeoutError:
                return False
        return True

    def seen(self, version: int) -> None:
        """A notification or a poll found ``version``: hold requests until it is in
        force, and load it now."""
        if version > self._seen:
            self._seen = version
        if self.behind:
            self._kick.set()

    def notified(self, store_id: str, version: int) -> None:
        if self.store_id and store_id == self.store_id:
            self.seen(version)

    async def follow(self, before: Callable[[], Awaitable[None]] | None = None) -> None:
        """Seed, load, then keep up with the database until cancelled. ``before`` is
        awaited first (the platform's migrations)."""
        if before is not None:
            await before()
        delay = 0.5
        while True:
            try:
                if await policy_db.seed(self._store, self._folder):
                    log.info("access policy documents seeded into the platform database from %s",
                             self._folder)
                await self.refresh()
                break
            except Exception as exc:  # the database is away: retried, requests wait
                log.error("access policy not loaded from the platform database (%s); "
                          "retrying in %.1f s", describe_error(exc), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._poll_s)
        listening = (None if self._channel is None else asyncio.create_task(
            self._channel.listen(self.notified, self._kick.set)))
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), self._poll_s)
                self._kick.clear()
                try:
                    await self.refresh()
                except Exception as exc:  # logged; the next poll tries again
                    log.error("access policy version not checked (%s)", describe_error(exc))
        finally:
            if listening is not None:
                listening.cancel()

    async def refresh(self) -> None:
        """Load the database's policy when it is newer than the one in force."""
        async with self._loading:
            latest = await policy_db.stored_version(self._store)
            # the database is the truth: a notification of a version it does not hold
            # (another database's, a stray message) holds requests no longer
            self._seen = max(latest, self.version)
            if latest <= self.version:
                return
            stored = await policy_db.load(self._store)
            try:
                policy = build_policy(stored.data())
                rules = self._rules_of(stored)
            except (PolicyError, RuleDocumentsError) as error:  # written by hand?
                # requests wait, then 503 POLICY_UPDATING
                log.error("access policy version %d in the platform database does not "
                          "load; requests are refused until it is fixed: %s",
                          stored.version, error)
                raise
            self._apply(stored, policy, rules)

    def _rules_of(self, stored: StoredPolicy) -> RuleDocuments:
        """The rule documents of ``stored``, loaded (those in force if unchanged)."""
        if self.rules is not None and stored.documents == self._documents:
            return self.rules
        return load_rule_documents(stored.documents)

    def _apply(self, stored: StoredPolicy, policy: AccessPolicy, rules: RuleDocuments) -> None:
        if stored.version <= self.version:
            return
        old, self._policy = self._policy, policy
        self.version = stored.version
        self.store_id = stored.store_id
        self.seen(stored.version)
        if rules is not self.rules:
            self.rules, self._documents = rules, stored.documents
            for on_rules in self._rule_listeners:
                on_rules(rules)
        for listener in self._listeners:
            listener(old, policy)
        woken, self._applied = self._applied, asyncio.Event()
        woken.set()
        log.info("access policy version %d in force", stored.version)

    async def change(self, make: Callable[[], Awaitable[tuple[StoredPolicy, AccessPolicy]]],
                     ) -> StoredPolicy:
        """Run a change (a ``policy_db`` function), put its version in force here and
        tell the replicas."""
        async with self._loading:
            stored, policy = await make()
            self._apply(stored, policy, self._rules_of(stored))
        if self._channel is not None:
            await self._channel.publish(stored.store_id, stored.version)
        return stored

    @property
    def store(self) -> PlatformStore:
        return self._store

    def admin(self, principal: str) -> PolicyAdmin:
        """The ``PolicyAdminPort`` for one admin's request."""
        return PolicyAdmin(self, principal)


class PolicyAdmin:
    """``schema.policy_admin.PolicyAdminPort`` over the platform database."""

    def __init__(self, policies: DatabasePolicies, principal: str) -> None:
        self._policies = policies
        self._principal = principal

    async def set_field_class(self, graph_type: str, field: str, openness: Openness,
                              reason: str) -> Openness:
        store = self._policies.store
        try:
            await self._policies.change(lambda: policy_db.set_field_class(
                store, graph_type, field, openness.value, principal=self._principal,
                reason=reason))
        except PolicyChangeRefused as error:
            raise ChangeRefused(str(error)) from None
        except (SQLAlchemyError, OSError) as error:  # unreachable, a lock not granted
            raise StoreUnavailable(describe_error(error)) from None
        return openness
