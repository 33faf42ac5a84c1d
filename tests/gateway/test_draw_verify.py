"""``gateway draw verify``: a plan's draws made again from their stored inputs, a
tampered draw caught (its items, or inputs, items and digests rewritten together
against the digest the access log kept), on SQLite and PostgreSQL; and the platform
database away as INSPECTIONS_UNAVAILABLE."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from inspection_world import (
    DRAW,
    PLAN,
    PUBLIC,
    PUBLISH,
    REG,
    ask,
    code,
    data,
    inspections_config,
    log_entries,
    plan,
    start,
)

from conftest import ServerThread
from gateway.app import AppOptions, create_app
from gateway.cli import main
from gateway.config import load_config


@pytest.fixture
def config(user_agencies: dict[str, Any]) -> Path:
    return inspections_config(user_agencies)


@pytest.fixture
def server(config: Path, serve: Callable[..., ServerThread]) -> ServerThread:
    return start(config, serve)


def test_verify_recomputes_the_draw_and_detects_a_tampered_one(
    server: ServerThread, config: Path, user_agencies: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan_id = plan(server)
    data(server, DRAW, REG, plan=plan_id, seed="公开 2026")
    log_entries(user_agencies["dir"], "inspection draw")  # the draw's entry is written
    assert main(["draw", "verify", plan_id, "--config", str(config)]) == 0
    assert "identical" in capsys.readouterr().out
    with sqlite3.connect(user_agencies["dir"] / "platform.db") as db:
        (items,) = db.execute("SELECT items FROM inspection_draws").fetchone()
        drawn = json.loads(items)
        drawn[0][1] = ["R3", drawn[0][1][1]]  # the registering agency's own inspector
        db.execute("UPDATE inspection_draws SET items = ?", (json.dumps(drawn),))
    assert main(["draw", "verify", plan_id, "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"{drawn[0][0]}: inspectors R3" in out and "differs" in out
    assert main(["draw", "verify", "99", "--config", str(config)]) == 2
    assert [e["outcome"] for e in log_entries(user_agencies["dir"], "inspection verify", 2)
            ] == ["ok", "refused"]


def test_verify_detects_inputs_and_digests_rewritten_together(
    server: ServerThread, config: Path, user_agencies: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Whoever rewrites the inputs, the items and the digests consistently still
    meets the digest the hash-chained access log kept."""
    from schema.inspection_draw import draw_from_canonical

    plan_id = plan(server, count=1)
    data(server, DRAW, REG, plan=plan_id, seed="s")
    log_entries(user_agencies["dir"], "inspection draw")
    with sqlite3.connect(user_agencies["dir"] / "platform.db") as db:
        (inputs,) = db.execute("SELECT inputs FROM inspection_draws").fetchone()
        forged = json.loads(inputs)
        forged["seed"] = "forged"
        text = json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        again = draw_from_canonical(text.encode())
        db.execute("UPDATE inspection_draws SET inputs = ?, seed = ?, digest = ?, "
                   "inputs_digest = ?, items = ?",
                   (text, "forged", again.digest, again.inputs_digest,
                    json.dumps([[i.credit_code, list(i.inspectors), i.mandatory]
                                for i in again.items])))
    assert main(["draw", "verify", plan_id, "--config", str(config)]) == 1
    assert "the access log recorded digest" in capsys.readouterr().out


@pytest.mark.postgres
def test_plans_are_drawn_and_verified_on_postgresql(
    config: Path, postgres_url: str, postgres_schema: str, serve: Callable[..., ServerThread],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config.write_text(config.read_text(encoding="utf-8") + f"""platform:
  database: {postgres_url}
  schema: {postgres_schema}
""", encoding="utf-8")
    server = serve(create_app(load_config(config), AppOptions(freeze_heap_after_start=False)))
    plan_id = plan(server)
    first = data(server, DRAW, REG, plan=plan_id, seed="s")["drawInspection"]
    assert code(ask(server, DRAW, REG, plan=plan_id, seed="t")) == "PLAN_ALREADY_DRAWN"
    again = data(server, DRAW, REG, plan=plan_id, seed="t", reason="r")["drawInspection"]
    assert again["redraws"] == 1 and first["digest"] != again["digest"]
    data(server, PUBLISH, REG, plan=plan_id)
    assert data(server, PLAN, PUBLIC, plan=plan_id)["inspectionPlan"]["draw"]["digest"] == \
        again["digest"]
    assert main(["draw", "verify", plan_id, "--config", str(config)]) == 0
    assert "2 draw(s) verified" in capsys.readouterr().out


async def test_the_platform_database_away_is_inspections_unavailable() -> None:
    """No masked internal error: the port says the database cannot be used now."""
    from gateway.callers import Caller
    from gateway.inspections import Inspections
    from gateway.platform_store.settings import PlatformSettings
    from gateway.platform_store.store import open_store
    from policies import policy_dir
    from schema.access import Clearance
    from schema.inspection_port import InspectionRefused
    from schema.rules.inspections import load_inspections

    # nothing listens on port 1: the connection is refused
    store = open_store(PlatformSettings("postgresql+asyncpg://gateway@127.0.0.1:1/platform"))
    weights = load_inspections(policy_dir())
    port = Inspections(store, (), lambda: weights, log=None, records=None).for_caller(
        Caller("p", Clearance("department", "REG")), "127.0.0.1", "r")
    try:
        with pytest.raises(InspectionRefused) as refused:
            await port.plan(1)
    finally:
        await store.aclose()
    assert refused.value.code == "INSPECTIONS_UNAVAILABLE"
    message = str(refused.value)
    assert message.startswith("The platform database cannot be used now (")
    assert message.endswith("); retry later.") and "Traceback" not in message
