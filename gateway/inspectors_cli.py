"""``gateway inspectors import FILE.csv``: load inspectors (执法检查人员名录) into the
platform database, where every gateway of the configuration draws them from.

    gateway inspectors import roster.csv --config gateway.yaml

The file is UTF-8 CSV (a BOM is fine) with the header ``id,name,agency,unit,avoid``;
``avoid`` holds credit codes separated by ``;`` (may be empty or left out)::

    id,name,agency,unit,avoid
    SAMR-101,王磊,SAMR,北京市西城区市场监督管理局,91110102MA0000001N;91110102MA0000002R

Every row is checked as the configuration's ``inspectors:`` are
(``gateway.inspector_settings``), against the configuration's agencies. One bad row
and nothing is imported: each problem is printed with its line number. A row whose id
is already imported replaces it; an id the configuration's ``inspectors:`` has is
refused (one roster, one entry per inspector). The import is one transaction and an
entry in the access log (operation ``inspectors import``, principal ``cli:<os
user>``). Exit 0 done, 1 refused (bad rows), 2 cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.cli_log import cli_principal, log_cli_step
from gateway.config import GatewayConfig, command_config
from gateway.inspection_store import import_roster
from gateway.inspector_settings import RosterEntry, check_entry
from gateway.platform_store.entry import text_hash
from gateway.platform_store.store import describe_error, open_store

__all__ = ["add_inspectors_commands", "read_roster"]

COLUMNS = ("id", "name", "agency", "unit", "avoid")
_REQUIRED = ("id", "name", "agency", "unit")


def add_inspectors_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``inspectors import``."""
    inspectors = commands.add_parser(
        "inspectors", help="the inspector roster of double-random inspections (双随机)")
    inspector_commands = inspectors.add_subparsers(dest="inspectors_command", required=True)
    load = inspector_commands.add_parser(
        "import", help="add or replace inspectors from a CSV file (columns id,name,agency,"
                       "unit,avoid; avoid: credit codes separated by ;): all rows or none")
    load.add_argument("file", help="the CSV file (UTF-8)")
    load.add_argument("--config", required=True, help="the gateway's configuration file")
    load.set_defaults(run=_run)


def read_roster(path: Path, config: GatewayConfig) -> tuple[list[RosterEntry], list[str]]:
    """The entries of a roster CSV and the problems of its rows (each with its line);
    entries count only when there are no problems."""
    shown = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return [], [f"{shown}: cannot be read as UTF-8 text ({error})"]
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or ()]
    missing = [c for c in _REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        return [], [f"{shown}: line 1: the header must be {','.join(COLUMNS)} "
                    f"(missing: {', '.join(missing) or '-'}; unknown: "
                    f"{', '.join(unknown) or '-'})"]
    problems: list[str] = []
    entries: list[RosterEntry] = []
    lines: dict[str, int] = {}
    agencies = {a.code for a in config.agencies}
    configured = {e.id for e in config.inspectors}
    for row in reader:
        line = reader.line_num
        if None in row:  # more cells than the header has
            problems.append(f"{shown}: line {line}: more cells than the header's "
                            f"{len(header)}")
            continue
        raw = {key.strip(): (value or "").strip() for key, value in row.items()}
        avoid = [code for code in raw.pop("avoid", "").split(";") if code.strip()]
        entry = check_entry({**raw, "avoid": avoid}, f"{shown}: line {line}", agencies,
                            problems)
        if entry is None:
            continue
        if entry.id in configured:
            problems.append(f"{shown}: line {line} ({entry.id}): this id is in the "
                            f"configuration's inspectors: already; change one of them")
        elif entry.id in lines:
            problems.append(f"{shown}: line {line} ({entry.id}): the id of line "
                            f"{lines[entry.id]} again")
        else:
            lines[entry.id] = line
            entries.append(entry)
    if not entries and not problems:
        problems.append(f"{shown}: no inspectors (only a header)")
    return entries, problems


def _run(args: argparse.Namespace) -> int:
    config = command_config(args.config)
    if config is None:
        return 2
    entries, problems = read_roster(Path(args.file), config)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"nothing imported: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    path = Path(args.file)
    return asyncio.run(_import(config, entries, path.name, text_hash(path.read_bytes())))


async def _import(config: GatewayConfig, entries: Sequence[RosterEntry], name: str,
                  file_hash: str) -> int:
    store = open_store(config.platform)
    started = time.perf_counter()
    try:
        await store.migrate()
        added, replaced = await import_roster(store, entries, principal=cli_principal())
        await log_cli_step(store, "inspectors import", query_hash=file_hash, started=started,
                           decisions=({"inspectors": ",".join(e.id for e in entries)},))
    except Exception as error:  # the database is away, a driver error
        print(f"cannot use the platform database {config.platform.shown()}: "
              f"{describe_error(error)}", file=sys.stderr)
        return 2
    finally:
        await store.aclose()
    print(f"{len(entries)} inspectors imported from {name} ({added} added, "
          f"{replaced} replaced)")
    return 0
