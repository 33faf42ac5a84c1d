"""``gateway policy ...``: change the access policy kept in the platform database.

    gateway policy set-field-class Penalty amount CONDITIONAL --config gateway.yaml \\
        --reason "amounts under review"
    gateway policy add-rule --config gateway.yaml \\
        "p, auditor, ^STATISTICS$, Penalty.*, CONDITIONAL, *, allow"
    gateway policy remove-rule --config gateway.yaml \\
        "p, auditor, ^STATISTICS$, Penalty.*, CONDITIONAL, *, allow"
    gateway policy history --config gateway.yaml
    gateway policy show warnings.yaml --config gateway.yaml > warnings.yaml
    gateway policy set-file warnings.yaml warnings.yaml --config gateway.yaml \\
        --reason "orange from 2 records"

A rule is the Casbin line as policy.csv holds it, in quotes (the shell would expand
``*``); the leading ``p,`` may be left out. ``set-file`` replaces one of the documents
the database was seeded with (the rule files, model.conf, derivation.yaml) by a file's
text (``-``: standard input); ``show`` prints one. Each change is one transaction
with the next version and a history row, checked as the gateway checks its policy and
rule files at start; it leaves an entry in the access log (principal
``cli:<os user>``) and is published on Redis (``--redis-url``) so running replicas
apply it at once (they poll the database anyway). Exit 0 done, 1 refused (nothing
changed), 2 cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from gateway.cli_log import cli_principal, log_cli_step
from gateway.config import GatewayConfig, command_config
from gateway.platform_store.entry import text_hash
from gateway.platform_store.store import PlatformStore, describe_error, open_store
from gateway.policy_channel import PolicyChannel
from gateway.policy_db import (
    PolicyChangeRefused,
    StoredPolicy,
    VersionRow,
    add_rule,
    history,
    load,
    remove_rule,
    seed,
    set_document,
    set_field_class,
)
from gateway.policy_files import PolicyError
from policies import policy_dir
from schema.access import AccessPolicy

__all__ = ["add_policy_commands", "describe_change", "rule_values"]

_Change = Callable[[PlatformStore, str, str], Awaitable[tuple[StoredPolicy, AccessPolicy]]]


def add_policy_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``policy set-field-class|add-rule|remove-rule|set-file|show|history``."""
    policy = commands.add_parser(
        "policy", help="change the access policy kept in the platform database "
                       "(policies.store: database) and read its history")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)

    def common(parser: argparse.ArgumentParser, changes: bool = True) -> None:
        parser.add_argument("--config", required=True, help="the gateway's configuration file")
        parser.add_argument("--policies",
                            default=os.environ.get("GATEWAY_POLICIES") or str(policy_dir()),
                            help="the policies folder that seeds a database holding no "
                                 "policy yet ($GATEWAY_POLICIES, else the bundled rules)")
        if changes:
            parser.add_argument("--reason", default="", help="why (kept in the history)")
            parser.add_argument("--redis-url", default=os.environ.get("GATEWAY_REDIS_URL"),
                                help="tell running replicas at once over Redis (default: "
                                     "$GATEWAY_REDIS_URL; unset: they see it by polling)")

    field_class = policy_commands.add_parser(
        "set-field-class", help="class a record type's field: OPEN, CONDITIONAL or NOT_OPEN")
    field_class.add_argument("type", help="record type (GraphQL name), e.g. Penalty")
    field_class.add_argument("field", help="field (GraphQL name), e.g. amount")
    field_class.add_argument("openness", help="OPEN | CONDITIONAL | NOT_OPEN")
    common(field_class)
    field_class.set_defaults(run=_run)
    for name, helped in (("add-rule", "add a policy line"),
                         ("remove-rule", "remove a policy line")):
        rule = policy_commands.add_parser(
            name, help=f'{helped}: "p, role, purpose, object, openness, owner, allow|deny" '
                       "(in quotes)")
        rule.add_argument("rule", nargs="+",
                          help='the Casbin line, e.g. "p, auditor, ^STATISTICS$, Penalty.*, '
                               'CONDITIONAL, *, allow"')
        common(rule)
        rule.set_defaults(run=_run)
    document = policy_commands.add_parser(
        "set-file", help="replace a policy document (a rule file such as warnings.yaml, "
                         "model.conf, derivation.yaml) by the text of FILE")
    document.add_argument("name", help="the document, e.g. warnings.yaml (see show)")
    document.add_argument("file", help="the file with its new text (- for standard input)")
    common(document)
    document.set_defaults(run=_run)
    text = policy_commands.add_parser(
        "show", help="print the text of a policy document in force (to edit it, then "
                     "set-file)")
    text.add_argument("name", help="the document, e.g. warnings.yaml")
    common(text, changes=False)
    text.set_defaults(run=_run)
    shown = policy_commands.add_parser(
        "history", help="every version: when, who, what, why")
    common(shown, changes=False)
    shown.set_defaults(run=_run)


def rule_values(words: Sequence[str]) -> list[str]:
    """The values of a policy line given as one text or as words (the ``p`` optional)."""
    values = [value.strip() for value in " ".join(words).split(",")]
    if values and values[0] == "p":
        values = values[1:]
    return values


def describe_change(row: VersionRow) -> str:
    """What a version changed, in a few words."""
    change = row.change
    kind = change.get("kind")
    if kind == "set-field-class":
        return (f"{change.get('type')}.{change.get('field')}: {change.get('before')} -> "
                f"{change.get('after')}")
    if kind == "add-rule":
        return f"added {change.get('after')}"
    if kind == "remove-rule":
        return f"removed {change.get('before')}"
    if kind == "set-file":
        before, after = change.get("before") or {}, change.get("after") or {}
        return (f"{change.get('name')}: {_digest(before)} -> {_digest(after)}, "
                f"+{change.get('lines_added')} -{change.get('lines_removed')} lines")
    if kind == "seed":
        return f"seeded from {change.get('seeded_from')}"
    if kind == "seed-documents":
        return (f"added {', '.join(change.get('names') or [])} from "
                f"{change.get('seeded_from')}")
    return str(change)


def _digest(facts: dict[str, Any]) -> str:
    return f"sha256 {str(facts.get('sha256'))[:12]} ({facts.get('bytes')} bytes)"


def _run(args: argparse.Namespace) -> int:
    config = command_config(args.config)
    if config is None:
        return 2
    if not config.policies.in_database:
        print(f"POLICY_STORE_READ_ONLY: {args.config} keeps the access policy in files "
              f"(policies.store: files): edit the policies folder, or set "
              f"policies.store: database to change it here", file=sys.stderr)
        return 2
    return asyncio.run(_command(config, args))


async def _command(config: GatewayConfig, args: argparse.Namespace) -> int:
    store = open_store(config.platform)
    try:
        await store.migrate()
        await seed(store, Path(args.policies))
        if args.policy_command == "history":
            _print_history(await history(store))
            return 0
        if args.policy_command == "show":
            return _show((await load(store)).documents, args.name)
        return await _change(store, args)
    except PolicyError as error:
        print(f"the policies folder cannot seed the database: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the database is away, a driver error
        print(f"cannot use the platform database {config.platform.shown()}: "
              f"{describe_error(error)}", file=sys.stderr)
        return 2
    finally:
        await store.aclose()


async def _change(store: PlatformStore, args: argparse.Namespace) -> int:
    principal = cli_principal()
    operation = f"policy {args.policy_command}"
    make: _Change
    if args.policy_command == "set-file":
        try:
            text = _read(args.file)
        except (OSError, UnicodeDecodeError) as error:
            print(f"cannot read {args.file}: {error}", file=sys.stderr)
            return 2
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        words = [args.name, f"(sha256 {digest[:12]})"]

        def make(s: PlatformStore, who: str, why: str) -> Any:
            return set_document(s, args.name, text, principal=who, reason=why)
    elif args.policy_command == "set-field-class":
        words = [args.type, args.field, args.openness]

        def make(s: PlatformStore, who: str, why: str) -> Any:
            return set_field_class(s, args.type, args.field, args.openness,
                                   principal=who, reason=why)
    else:
        values = rule_values(args.rule)
        words = values
        change_rule = add_rule if args.policy_command == "add-rule" else remove_rule

        def make(s: PlatformStore, who: str, why: str) -> Any:
            return change_rule(s, values, principal=who, reason=why)

    started = time.perf_counter()
    at = dt.datetime.now(dt.UTC)
    refusal = ""
    try:
        stored, _ = await make(store, principal, args.reason)
    except PolicyChangeRefused as error:
        refusal = "POLICY_CHANGE_REFUSED"
        print(f"{refusal}: the change was refused, nothing changed: {error}", file=sys.stderr)
    finally:
        await log_cli_step(store, operation, query_hash=text_hash(" ".join([operation, *words])),
                           variables_hash=text_hash(args.reason or None), at=at,
                           started=started, refusal_code=refusal)
    if refusal:
        return 1
    print(f"policy version {stored.version}: {operation} {' '.join(words)}")
    if args.redis_url:
        channel = PolicyChannel(args.redis_url)
        try:
            if not await channel.publish(stored.store_id, stored.version):
                print("Redis cannot be reached: replicas will apply the change when they "
                      "next poll the database", file=sys.stderr)
        finally:
            await channel.aclose()
    return 0


def _read(file: str) -> str:
    """The text of ``file`` (UTF-8; ``-``: standard input)."""
    if file == "-":
        return sys.stdin.buffer.read().decode("utf-8")
    return Path(file).read_text(encoding="utf-8")


def _show(documents: dict[str, str], name: str) -> int:
    text = documents.get(name)
    if text is None:
        print(f"{name}: not a document of the policy; the documents: "
              f"{', '.join(sorted(documents))}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _print_history(rows: Sequence[VersionRow]) -> None:
    table = [("version", "when (UTC)", "who", "what", "why")]
    table += [(str(r.version), r.changed_at.strftime("%Y-%m-%d %H:%M:%S"), r.principal,
               describe_change(r), r.reason) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        cells = [value.ljust(width) for value, width in zip(row[:4], widths, strict=True)]
        print("  ".join([*cells, row[4]]).rstrip())
