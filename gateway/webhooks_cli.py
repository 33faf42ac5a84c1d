"""``gateway webhooks dead-letters|retry ID``: the webhook deliveries that failed every
attempt (table ``webhook_dead_letters``), and sending one again.

::

    gateway webhooks dead-letters --config gateway.yaml          # DEAD ones (--all: every)
    # 3  fda-case-system  warningChanges  91110102MA0000001X  5 attempts
    #    2026-12-02 09:14:05 UTC  DEAD  HTTP 503              (one line each)
    gateway webhooks retry 3 --config gateway.yaml                # exit 0 when delivered

``retry`` sends the letter's exact body to the webhook as configured now (its URL and
secret: a rotated secret signs it), signed afresh, with ``--attempts`` tries (default
3, doubling from 1 s); delivered, the letter is marked DELIVERED, otherwise it stays
DEAD with the new error. Each retry is an access-log entry (operation ``webhook
retry``, principal ``cli:<user>``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from typing import Any

import httpx

from gateway.cli_log import log_cli_step
from gateway.config import GatewayConfig, command_config
from gateway.platform_store.entry import text_hash
from gateway.platform_store.store import PlatformStore, describe_error, open_store
from gateway.webhooks import (
    DEAD,
    DeadLetter,
    Delivery,
    WebhookSender,
    dead_letters,
    load_dead_letter,
    note_retry,
)

__all__ = ["add_webhooks_commands"]


def add_webhooks_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``webhooks dead-letters`` and ``webhooks retry ID``."""
    webhooks = commands.add_parser(
        "webhooks", help="webhook deliveries that failed every attempt: list, send again")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    listed = webhook_commands.add_parser("dead-letters", help="list the dead letters")
    listed.add_argument("--config", required=True, help="the gateway's configuration file")
    listed.add_argument("--all", action="store_true",
                        help="also those delivered by a retry since")
    listed.set_defaults(run=_run)
    retry = webhook_commands.add_parser("retry", help="send a dead letter again")
    retry.add_argument("id", type=int, help="the dead letter's id (see dead-letters)")
    retry.add_argument("--config", required=True, help="the gateway's configuration file")
    retry.add_argument("--attempts", type=int, default=3,
                       help="tries before it stays dead (default 3, doubling from 1 s)")
    retry.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    config = command_config(args.config)
    if config is None:
        return 2
    return asyncio.run(_command(config, args))


async def _command(config: GatewayConfig, args: argparse.Namespace) -> int:
    store = open_store(config.platform)
    try:
        await store.migrate()
        if args.webhooks_command == "dead-letters":
            letters = await dead_letters(store, None if args.all else DEAD)
            for letter in letters:
                print(_line(letter))
            if not letters:
                print("no dead letters" if args.all else "no dead letters waiting")
            return 0
        return await _retry(store, config, args)
    except Exception as error:  # the database is away, a driver error
        print(f"cannot use the platform database {config.platform.shown()}: "
              f"{describe_error(error)}", file=sys.stderr)
        return 2
    finally:
        await store.aclose()


def _line(letter: DeadLetter) -> str:
    return "  ".join((str(letter.id), letter.webhook_id, letter.event,
                      letter.credit_code or "-", f"{letter.attempts} attempts",
                      f"{letter.failed_at:%Y-%m-%d %H:%M:%S} UTC", letter.status,
                      letter.last_error))


async def _retry(store: PlatformStore, config: GatewayConfig, args: argparse.Namespace) -> int:
    letter = await load_dead_letter(store, args.id)
    if letter is None:
        print(f"no dead letter {args.id} (see gateway webhooks dead-letters --all)",
              file=sys.stderr)
        return 2
    spec = next((w for w in config.webhooks if w.id == letter.webhook_id), None)
    if spec is None:
        print(f"dead letter {letter.id} is for webhook {letter.webhook_id}, which "
              f"{args.config} no longer configures", file=sys.stderr)
        return 2
    if letter.status != DEAD:
        print(f"dead letter {letter.id} was delivered already ({letter.status})",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    at = dt.datetime.now(dt.UTC)
    async with httpx.AsyncClient(trust_env=False) as client:
        sender = WebhookSender(client, None, attempts=max(1, args.attempts))
        attempts, error = await sender.send(spec, Delivery(
            letter.webhook_id, letter.event, letter.body, letter.credit_code))
    await note_retry(store, letter.id, attempts, error, dt.datetime.now(dt.UTC))
    decision = {"deadLetter": str(letter.id), "webhook": letter.webhook_id,
                "event": letter.event, "delivered": "yes" if error is None else "no"}
    await log_cli_step(
        store, "webhook retry", query_hash=text_hash(f"webhook retry {letter.id}"), at=at,
        started=started, decisions=(decision,),
        credit_codes=() if letter.credit_code is None else (letter.credit_code,),
        refusal_code="" if error is None else "WEBHOOK_UNDELIVERED")
    if error is None:
        print(f"dead letter {letter.id} delivered to {spec.id} ({attempts} attempt"
              f"{'s' if attempts > 1 else ''})")
        return 0
    print(f"dead letter {letter.id} not delivered after {attempts} attempts: {error}; "
          "it stays dead", file=sys.stderr)
    return 1
