"""The inspector roster: the configuration's ``inspectors:`` checked with each problem
named, and ``gateway inspectors import FILE.csv`` - every bad row reported by line and
nothing imported, else all rows in one go (and an access-log entry)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conftest import ACME
from gateway.cli import main
from gateway.config import ConfigError, load_config
from gateway.inspection_store import stored_roster
from gateway.platform_store.store import open_store

HEADER = "id,name,agency,unit,avoid\n"


def with_roster(config: Path, roster: str) -> Path:
    config.write_text(config.read_text(encoding="utf-8") + roster, encoding="utf-8")
    return config


def test_the_configured_roster_is_read(user_agencies: dict[str, Any]) -> None:
    config = load_config(with_roster(user_agencies["config"], f"""inspectors:
  - id: R1
    name: 王磊
    agency: REG
    unit: 北京市东城区市场监督管理局
    avoid: [{ACME.lower()}]
  - {{id: E1, name: 陈静, agency: EPB, unit: 执法支队}}
"""))
    assert [(e.id, e.agency, e.unit, e.avoid) for e in config.inspectors] == [
        ("R1", "REG", "北京市东城区市场监督管理局", (ACME,)), ("E1", "EPB", "执法支队", ())]


def test_every_problem_of_the_configured_roster_names_its_entry(
    user_agencies: dict[str, Any],
) -> None:
    path = with_roster(user_agencies["config"], """inspectors:
  - {id: R1, name: 王磊, agency: TAX, unit: 东城所}
  - {id: R2, agency: REG, unit: 朝阳所, avoid: [91110102MA0000001X], rank: 3}
  - {id: R1, name: 李娜, agency: REG, unit: 海淀所}
  - just a text
""")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    problems = raised.value.problems
    assert "agencies.yaml: inspectors[0] (R1): agency: 'TAX' is not an agency of this " \
           "configuration (agencies: COURT, EPB, REG)" in problems
    assert "agencies.yaml: inspectors[1] (R2): name: required, a non-empty text" in problems
    assert any(p.startswith("agencies.yaml: inspectors[1] (R2): avoid: '91110102MA0000001X' "
                            "is not a valid credit code") for p in problems)
    assert "agencies.yaml: inspectors[1] (R2): unknown field 'rank' (known: id, name, " \
           "agency, unit, avoid)" in problems
    assert "agencies.yaml: inspectors[3]: must be a mapping with id, name, agency, unit, " \
           "avoid" in problems
    # the duplicate is found among the valid entries: R1 at [0] is invalid, so none
    assert not any("used more than once" in p for p in problems)


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(
    user_agencies: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = with_roster(user_agencies["config"],
                         "inspectors:\n  - {id: R9, name: 赵六, agency: REG, unit: 东城所}\n")
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeff" + HEADER
                      + f"R1,王磊,REG,东城所,{ACME}\n"
                      + "R2,李娜,NOPE,朝阳所,\n"
                      + "R3,张伟,REG,,91110102MA0000001X\n"
                      + "R1,王磊,REG,海淀所,\n"
                      + "R9,赵六,REG,东城所,\n"
                      + "R4,刘洋,REG,东城所,,extra\n", encoding="utf-8")
    assert main(["inspectors", "import", str(roster), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "roster.csv: line 3 (R2): agency: 'NOPE' is not an agency" in err
    assert "roster.csv: line 4 (R3): unit: required" in err
    assert "roster.csv: line 4 (R3): avoid: '91110102MA0000001X' is not a valid" in err
    assert "roster.csv: line 5 (R1): the id of line 2 again" in err
    assert "roster.csv: line 6 (R9): this id is in the configuration's inspectors:" in err
    assert "roster.csv: line 7: more cells than the header's 5" in err
    assert "nothing imported" in err
    assert not (user_agencies["dir"] / "platform.db").exists()  # not even opened
    roster.write_text("id,name,unit\nR1,王磊,东城所\n", encoding="utf-8")
    assert main(["inspectors", "import", str(roster), "--config", str(config)]) == 1
    assert "line 1: the header must be id,name,agency,unit,avoid (missing: agency" in \
           capsys.readouterr().err


def test_an_import_loads_every_row_and_is_logged(
    user_agencies: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = user_agencies["config"]
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + f"R1,王磊,REG,东城所,{ACME};{ACME.lower()}\n"
                      + "E1,陈静,EPB,执法支队,\n", encoding="utf-8")
    assert main(["inspectors", "import", str(roster), "--config", str(config)]) == 0
    assert "2 inspectors imported from roster.csv (2 added, 0 replaced)" in \
           capsys.readouterr().out
    roster.write_text(HEADER + "R1,王磊,REG,海淀所,\n", encoding="utf-8")
    assert main(["inspectors", "import", str(roster), "--config", str(config)]) == 0
    assert "(0 added, 1 replaced)" in capsys.readouterr().out

    async def stored() -> list[tuple[str, str, tuple[str, ...]]]:
        store = open_store(load_config(config).platform)
        try:
            return [(e.id, e.unit, e.avoid) for e in await stored_roster(store)]
        finally:
            await store.aclose()

    assert asyncio.run(stored()) == [("E1", "执法支队", ()), ("R1", "海淀所", ())]
    with sqlite3.connect(user_agencies["dir"] / "platform.db") as db:
        logged = db.execute("SELECT principal, role, outcome, decisions FROM access_log "
                            "WHERE operation = 'inspectors import'").fetchall()
    assert [(p.startswith("cli:"), r, o, d) for p, r, o, d in logged] == [
        (True, "admin", "ok", '[{"inspectors":"R1,E1"}]'),
        (True, "admin", "ok", '[{"inspectors":"R1"}]')]
