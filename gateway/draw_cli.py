"""``gateway draw verify PLAN_ID``: make a plan's draws again from their stored inputs
and say whether what is kept is what the draw gives.

    gateway draw verify 3 --config gateway.yaml

For every draw of the plan (the first and each redraw) the canonical inputs kept with
it (plan, seed, the registry's candidates with their warning levels and grades at
``drawnAt``, the roster, the weights) are drawn again with the pure engine
(``schema.inspection_draw.draw_from_canonical``) and compared with what is stored:
the items (enterprises and inspectors), the digests, the seed and plan the inputs
name, and the digest written into the access log when the draw was made (the
hash-chained log, ``gateway audit verify``, keeps that one honest). Each difference
is printed. Exit 0 identical, 1 something differs, 2 cannot run (no such plan, not
drawn, no database). The check itself is an access-log entry (``inspection verify``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from gateway.cli_log import log_cli_step
from gateway.config import GatewayConfig, command_config
from gateway.inspection_store import draws, load_plan
from gateway.platform_store.entry import text_hash
from gateway.platform_store.store import PlatformStore, describe_error, open_store
from gateway.platform_store.tables import access_log
from schema.inspection_draw import DrawError, draw_from_canonical
from schema.inspection_port import Plan, PlanDraw

__all__ = ["add_draw_commands", "differences"]


def add_draw_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``draw verify``."""
    draw = commands.add_parser("draw", help="double-random draws (双随机): verify")
    draw_commands = draw.add_subparsers(dest="draw_command", required=True)
    verify = draw_commands.add_parser(
        "verify", help="make a plan's draws again from their stored inputs: exit 0 "
                       "identical, 1 printing what differs")
    verify.add_argument("plan_id", type=int, help="the plan's id (InspectionPlan.id)")
    verify.add_argument("--config", required=True, help="the gateway's configuration file")
    verify.set_defaults(run=_run)


def differences(plan: Plan, kept: PlanDraw, logged: Mapping[str, str] | None) -> list[str]:
    """What differs between the stored draw ``kept`` and the draw made again from its
    inputs (and the digest the access log holds, ``logged``); empty when nothing."""
    where = f"draw {kept.seq} of plan {plan.id}"
    try:
        again = draw_from_canonical(kept.inputs)
        inputs = json.loads(kept.inputs)
    except (DrawError, ValueError) as error:
        return [f"{where}: its stored inputs cannot be drawn again: {error}"]
    found: list[str] = []
    named = inputs.get("plan") or {}
    wanted = {"plan_id": str(plan.id), "agencies": sorted(plan.agencies),
              "count": plan.count, "inspectors_per_visit": plan.inspectors_per_visit}
    for key, value in wanted.items():
        if named.get(key) != value:
            found.append(f"{where}: the inputs' plan {key} is {named.get(key)!r}, the plan's "
                         f"is {value!r}")
    if inputs.get("seed") != kept.seed:
        found.append(f"{where}: seed {kept.seed!r} stored, {inputs.get('seed')!r} in the "
                     f"inputs")
    if again.inputs_digest != kept.inputs_digest:
        found.append(f"{where}: inputs digest {kept.inputs_digest} stored, the inputs give "
                     f"{again.inputs_digest}")
    made = {item.credit_code: item.inspectors for item in again.items}
    stored = dict(kept.items)
    for code in sorted(made.keys() - stored.keys()):
        found.append(f"{where}: {code} is drawn by the inputs but missing from the stored items")
    for code in sorted(stored.keys() - made.keys()):
        found.append(f"{where}: {code} is in the stored items but not drawn by the inputs")
    for code in sorted(made.keys() & stored.keys()):
        if made[code] != stored[code]:
            found.append(f"{where}: {code}: inspectors {', '.join(stored[code])} stored, "
                         f"the draw sends {', '.join(made[code])}")
    special = {item.credit_code for item in again.items if item.mandatory}
    for code in sorted(special ^ kept.mandatory):
        found.append(f"{where}: {code}: stored as {'' if code in kept.mandatory else 'not '}"
                     f"on the special list, the draw says the opposite")
    if again.digest != kept.digest:
        found.append(f"{where}: digest {kept.digest} stored, the draw gives {again.digest}")
    if logged is not None and logged.get("digest") != again.digest:
        found.append(f"{where}: the access log recorded digest {logged.get('digest')}, the "
                     f"draw gives {again.digest}")
    return found


async def _logged_draws(store: PlatformStore, plan_id: int) -> dict[int, Mapping[str, str]]:
    """seq -> what the access log's ``inspection draw`` entries of the plan say."""
    found: dict[int, Mapping[str, str]] = {}
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(access_log.c.decisions).where(
            access_log.c.operation == "inspection draw", access_log.c.outcome == "ok"))
        for (text,) in rows:
            for decision in json.loads(text):
                if decision.get("planId") == str(plan_id) and "seq" in decision:
                    found[int(decision["seq"])] = decision
    return found


def _run(args: argparse.Namespace) -> int:
    config = command_config(args.config)
    if config is None:
        return 2
    return asyncio.run(_verify(config, args.plan_id))


async def _verify(config: GatewayConfig, plan_id: int) -> int:
    store = open_store(config.platform)
    try:
        await store.migrate()
        plan = await load_plan(store, plan_id)
        if plan is None:
            print(f"there is no inspection plan {plan_id} in {config.platform.shown()}",
                  file=sys.stderr)
            return 2
        kept = await draws(store, plan_id)
        if not kept:
            print(f"plan {plan_id} ({plan.name}) is not drawn yet: nothing to verify",
                  file=sys.stderr)
            return 2
        logged = await _logged_draws(store, plan_id)
        found: list[str] = []
        for each in kept:
            if each.seq not in logged:
                print(f"note: draw {each.seq} of plan {plan_id} has no access-log entry "
                      f"(drawn by a gateway that kept no access log?)", file=sys.stderr)
            found += differences(plan, each, logged.get(each.seq))
        await _note(store, plan_id, "DRAW_DIFFERS" if found else "")
    except Exception as error:  # the database is away, a driver error
        print(f"cannot use the platform database {config.platform.shown()}: "
              f"{describe_error(error)}", file=sys.stderr)
        return 2
    finally:
        await store.aclose()
    for line in found:
        print(line)
    if found:
        print(f"plan {plan_id}: the stored draw differs from the draw its inputs give "
              f"({len(found)} difference(s))")
        return 1
    latest = kept[-1]
    print(f"plan {plan_id}: {len(kept)} draw(s) verified; the draw in force (seed "
          f"{latest.seed!r}, {len(latest.items)} enterprises) is identical, digest "
          f"{latest.digest}")
    return 0


async def _note(store: PlatformStore, plan_id: int, refusal: str) -> None:
    decision = {"planId": str(plan_id), "verified": "no" if refusal else "yes"}
    await log_cli_step(store, "inspection verify",
                       query_hash=text_hash(json.dumps(decision, sort_keys=True)),
                       decisions=(decision,), refusal_code=refusal)
