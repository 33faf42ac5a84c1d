"""The access policy in the platform database (``policies.store: database``).

Four tables (``gateway.platform_store.tables``): ``policy_field_classes`` (type,
field, openness), ``policy_rules`` (the Casbin ``p`` lines as rows, ptype and
v0..v5, as casbin's SQLAlchemy adapter keeps them), ``policy_documents`` (the other
policy files by name: model.conf, derivation.yaml, the rule files) and
``policy_versions`` (one row per version: when, who, the change as JSON with
``before`` and ``after``, why). The highest version is the policy in force.

``seed`` fills them from a policies folder once (the first gateway to start, under
the ``policies`` lock). Every change (``set_field_class``, ``add_rule``,
``remove_rule``, ``set_document``) is one transaction under that lock: read the policy, change it,
check the result exactly as ``load_policy`` checks files (``build_policy``; a rule
document as the gateway checks it at start, ``gateway.rule_documents``), write
it with the next version and its history row, commit. A change the check refuses
raises ``PolicyChangeRefused`` and leaves the database as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform_store.store import PlatformStore
from gateway.platform_store.tables import (
    policy_documents,
    policy_field_classes,
    policy_rules,
    policy_versions,
)
from gateway.policy_files import PolicyData, PolicyError, build_policy, read_policy_data
from gateway.rule_documents import RuleDocumentsError, check_document
from schema.access import AccessPolicy

__all__ = ["PolicyChangeRefused", "StoredPolicy", "VersionRow", "add_rule", "history",
           "load", "remove_rule", "seed", "set_document", "set_field_class", "stored_version"]

_IN_DATABASE = "(platform database)"
_WHERE = {
    "model.conf": f"model.conf {_IN_DATABASE}",
    "policy.csv": f"policy rules {_IN_DATABASE}",
    "fields.yaml": f"field classes {_IN_DATABASE}",
    "derivation.yaml": f"derivation.yaml {_IN_DATABASE}",
}
# the folder's files kept as documents (policy.csv and fields.yaml become rows)
_DOCUMENT_SUFFIXES = (".conf", ".yaml")
_AS_ROWS = ("policy.csv", "fields.yaml")


class PolicyChangeRefused(Exception):
    """A change the policy's checks refuse (the message says why); nothing changed."""


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """One version of the policy as the database holds it."""

    version: int
    store_id: str  # made at seeding: tells this database's notifications from others'
    classes: dict[str, dict[str, str]]  # GraphQL type -> field -> openness
    rules: list[tuple[int, tuple[str, ...]]]  # (row id, the six values of a p line)
    documents: dict[str, str]  # file name -> text

    def data(self) -> PolicyData:
        """What ``build_policy`` checks; messages name the database's tables."""
        return _data(self.classes, [values for _, values in self.rules],
                     self.documents, [f"rule {row_id}" for row_id, _ in self.rules])


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One row of the history."""

    version: int
    changed_at: dt.datetime
    principal: str
    change: dict[str, Any]
    reason: str


def _data(classes: dict[str, dict[str, str]], rules: Sequence[Sequence[str]],
          documents: dict[str, str], labels: Sequence[str] | None = None) -> PolicyData:
    derivation_text = documents.get("derivation.yaml")
    try:
        derivation = None if derivation_text is None else yaml.safe_load(derivation_text)
    except yaml.YAMLError:
        raise PolicyError(f"{_WHERE['derivation.yaml']}: is not valid YAML") from None
    labels = labels or [f"rule {n}" for n in range(1, len(rules) + 1)]
    return PolicyData(model=documents.get("model.conf", ""),
                      rules=list(zip(labels, rules, strict=True)), classes=classes,
                      derivation=derivation, where=_WHERE)


def _check(classes: dict[str, dict[str, str]], rules: Sequence[Sequence[str]],
           documents: dict[str, str]) -> AccessPolicy:
    try:
        return build_policy(_data(classes, rules, documents))
    except PolicyError as error:
        problems = [line.strip() for line in str(error).splitlines()]
        raise PolicyChangeRefused(" ".join(problems)) from None


async def stored_version(store: PlatformStore) -> int:
    """The version in force (0 before seeding)."""
    async with store.engine.connect() as conn:
        found = await conn.scalar(sa.select(sa.func.max(policy_versions.c.version)))
    return int(found or 0)


async def seed(store: PlatformStore, folder: Path) -> bool:
    """Fill the policy tables from ``folder`` unless they hold a policy already (once
    across processes: under the ``policies`` lock). True when this call seeded.

    A database seeded by an earlier gateway version lacks the rule files added since
    (``inspections.yaml``, ``statistics.yaml``, ...): those are added from ``folder``
    as a new version of their own, so they too are read from, and changed in, the
    database; the documents it holds are never replaced."""
    data, documents = await asyncio.to_thread(_folder, folder)
    async with store.transaction("policies") as conn:
        version = int(await conn.scalar(sa.select(sa.func.max(policy_versions.c.version)))
                      or 0)
        if version:
            present = set((await conn.scalars(sa.select(policy_documents.c.name))).all())
            missing = {name: text for name, text in documents.items() if name not in present}
            if not missing:
                return False
            await conn.execute(policy_documents.insert(),
                               [{"name": name, "text": text} for name, text in missing.items()])
            await _record(conn, version + 1, "seed",
                          {"kind": "seed-documents", "seeded_from": str(folder),
                           "names": sorted(missing)},
                          "rule files new in this gateway version")
            return True
        rows = [{"graph_type": str(graph_type), "field": str(field), "openness": str(level)}
                for graph_type, fields in data.classes.items() for field, level in fields.items()]
        if rows:
            await conn.execute(policy_field_classes.insert(), rows)
        for _, values in data.rules:
            await conn.execute(policy_rules.insert().values(_rule_row(values)))
        if documents:
            await conn.execute(policy_documents.insert(),
                               [{"name": name, "text": text} for name, text in documents.items()])
        await _record(conn, 1, "seed", {"kind": "seed", "seeded_from": str(folder),
                                        "store_id": uuid.uuid4().hex},
                      "first start: seeded from the policies folder")
    return True


def _folder(folder: Path) -> tuple[PolicyData, dict[str, str]]:
    data = read_policy_data(folder)
    build_policy(data)  # a folder the gateway would refuse is not seeded either
    documents = {path.name: path.read_text(encoding="utf-8")
                 for path in sorted(folder.iterdir())
                 if path.suffix in _DOCUMENT_SUFFIXES and path.name not in _AS_ROWS}
    return data, documents


async def load(store: PlatformStore) -> StoredPolicy:
    """The policy in force, read in one transaction (``PolicyError`` if not seeded)."""
    async with store.transaction("policies") as conn:
        return await _read(conn)


async def history(store: PlatformStore) -> list[VersionRow]:
    """Every version, oldest first."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(policy_versions)
                                  .order_by(policy_versions.c.version))
        return [VersionRow(int(r.version), r.changed_at, r.principal, json.loads(r.change),
                           r.reason) for r in rows]


async def set_field_class(store: PlatformStore, graph_type: str, field: str, openness: str,
                          *, principal: str, reason: str = "",
                          ) -> tuple[StoredPolicy, AccessPolicy]:
    """Class ``graph_type.field`` (GraphQL names) as ``openness``; a new version."""

    def edit(current: StoredPolicy) -> tuple[StoredPolicy, dict[str, Any]]:
        before = current.classes.get(graph_type, {}).get(field)
        if before is None:
            known = current.classes.get(graph_type)
            raise PolicyChangeRefused(
                f"{graph_type}.{field}: no such field" if known is not None else
                f"{graph_type}: not a record type (known: {', '.join(sorted(current.classes))})")
        classes = {t: dict(f) for t, f in current.classes.items()}
        classes[graph_type][field] = openness
        change = {"kind": "set-field-class", "type": graph_type, "field": field,
                  "before": before, "after": openness}
        return _replace(current, classes=classes), change

    async def write(conn: AsyncConnection) -> None:
        await conn.execute(policy_field_classes.update()
                           .where(policy_field_classes.c.graph_type == graph_type,
                                  policy_field_classes.c.field == field)
                           .values(openness=openness))

    return await _change(store, principal, reason, edit, write)


async def add_rule(store: PlatformStore, values: Sequence[str], *, principal: str,
                   reason: str = "") -> tuple[StoredPolicy, AccessPolicy]:
    """Add the policy line ``p, <values>`` (role, purpose, object, openness, owner,
    allow|deny); a new version."""
    rule = tuple(values)

    def edit(current: StoredPolicy) -> tuple[StoredPolicy, dict[str, Any]]:
        if any(existing == rule for _, existing in current.rules):
            raise PolicyChangeRefused(f"the rule p, {', '.join(rule)} is in force already")
        rules = [*current.rules, (0, rule)]
        change = {"kind": "add-rule", "before": None, "after": _line(rule)}
        return _replace(current, rules=rules), change

    async def write(conn: AsyncConnection) -> None:
        await conn.execute(policy_rules.insert().values(_rule_row(rule)))

    return await _change(store, principal, reason, edit, write)


async def remove_rule(store: PlatformStore, values: Sequence[str], *, principal: str,
                      reason: str = "") -> tuple[StoredPolicy, AccessPolicy]:
    """Remove the policy line ``p, <values>``; a new version."""
    rule = tuple(values)
    removed: list[int] = []

    def edit(current: StoredPolicy) -> tuple[StoredPolicy, dict[str, Any]]:
        removed[:] = [row_id for row_id, existing in current.rules if existing == rule]
        if not removed:
            raise PolicyChangeRefused(f"no rule p, {', '.join(rule)} is in force")
        rules = [(row_id, existing) for row_id, existing in current.rules
                 if row_id not in removed]
        change = {"kind": "remove-rule", "before": _line(rule), "after": None}
        return _replace(current, rules=rules), change

    async def write(conn: AsyncConnection) -> None:
        await conn.execute(policy_rules.delete().where(policy_rules.c.id.in_(removed)))

    return await _change(store, principal, reason, edit, write)


async def set_document(store: PlatformStore, name: str, text: str, *, principal: str,
                       reason: str = "") -> tuple[StoredPolicy, AccessPolicy]:
    """Replace the document ``name`` (a file the database was seeded with, e.g.
    warnings.yaml) by ``text``, checked as at start; a new version. The history keeps
    the texts' SHA-256 and sizes and how many lines changed, not the texts."""

    def edit(current: StoredPolicy) -> tuple[StoredPolicy, dict[str, Any]]:
        before = current.documents.get(name)
        if before is None:
            rows = (" (field classes and policy rules are rows: use set-field-class, "
                    "add-rule, remove-rule)" if name in _AS_ROWS else "")
            raise PolicyChangeRefused(
                f"{name}: not a document of the policy{rows}; the documents: "
                f"{', '.join(sorted(current.documents))}")
        if before == text:
            raise PolicyChangeRefused(f"{name}: this text is in force already")
        try:
            check_document(current.documents, name, text)
        except RuleDocumentsError as error:
            raise PolicyChangeRefused(" ".join(error.problems)) from None
        added, removed = _lines_changed(before, text)
        change = {"kind": "set-file", "name": name, "before": _digest(before),
                  "after": _digest(text), "lines_added": added, "lines_removed": removed}
        return _replace(current, documents={**current.documents, name: text}), change

    async def write(conn: AsyncConnection) -> None:
        await conn.execute(policy_documents.update()
                           .where(policy_documents.c.name == name).values(text=text))

    return await _change(store, principal, reason, edit, write)


def _digest(text: str) -> dict[str, Any]:
    data = text.encode("utf-8")
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _lines_changed(before: str, after: str) -> tuple[int, int]:
    """Lines (added, removed) from ``before`` to ``after``."""
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(),
                                      autojunk=False)
    for tag, start, end, new_start, new_end in matcher.get_opcodes():
        if tag != "equal":
            removed += end - start
            added += new_end - new_start
    return added, removed


_Edit = Callable[[StoredPolicy], tuple[StoredPolicy, dict[str, Any]]]


async def _change(store: PlatformStore, principal: str, reason: str, edit: _Edit,
                  write: Callable[[AsyncConnection], Any]) -> tuple[StoredPolicy, AccessPolicy]:
    async with store.transaction("policies") as conn:
        current = await _read(conn)
        changed, change = edit(current)
        policy = _check(changed.classes, [values for _, values in changed.rules],
                        changed.documents)
        await write(conn)
        version = current.version + 1
        await _record(conn, version, principal, change, reason)
        return _replace(changed, version=version), policy


def _replace(policy: StoredPolicy, **changes: Any) -> StoredPolicy:
    values = {"version": policy.version, "store_id": policy.store_id,
              "classes": policy.classes, "rules": policy.rules,
              "documents": policy.documents, **changes}
    return StoredPolicy(**values)


async def _read(conn: AsyncConnection) -> StoredPolicy:
    latest = await conn.scalar(sa.select(sa.func.max(policy_versions.c.version)))
    if latest is None:
        raise PolicyError("the platform database holds no access policy yet: the gateway "
                          "seeds it from the policies folder at its first start")
    first = await conn.scalar(sa.select(policy_versions.c.change)
                              .where(policy_versions.c.version == 1))
    store_id = str(json.loads(first or "{}").get("store_id", ""))
    classes: dict[str, dict[str, str]] = {}
    for row in await conn.execute(sa.select(policy_field_classes)):
        classes.setdefault(row.graph_type, {})[row.field] = row.openness
    rules: list[tuple[int, tuple[str, ...]]] = [
        (int(row.id), (row.v0, row.v1, row.v2, row.v3, row.v4, row.v5))
             for row in await conn.execute(sa.select(policy_rules)
                                           .where(policy_rules.c.ptype == "p")
                                           .order_by(policy_rules.c.id))]
    documents = {row.name: row.text
                 for row in await conn.execute(sa.select(policy_documents))}
    return StoredPolicy(int(latest), store_id, classes, rules, documents)


async def _record(conn: AsyncConnection, version: int, principal: str,
                  change: dict[str, Any], reason: str) -> None:
    await conn.execute(policy_versions.insert().values(
        version=version, changed_at=dt.datetime.now(dt.UTC), principal=principal,
        change=json.dumps(change, ensure_ascii=False, sort_keys=True), reason=reason))


def _rule_row(values: Sequence[str]) -> dict[str, str]:
    padded = [*values, "", "", "", "", "", ""][:6]
    return {"ptype": "p", **{f"v{i}": str(value) for i, value in enumerate(padded)}}


def _line(rule: Sequence[str]) -> str:
    return ", ".join(["p", *rule])
