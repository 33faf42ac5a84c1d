"""The bundled demo is regenerated when it is a week old or from an earlier year."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from gateway.demo.freshness import DEMO_VALIDITY, stale_reason
from gateway.demo.generate import generate_district
from gateway.demo.writer import read_stamp, write_demo
from gateway.demo_mode import DemoDirError, prepare_demo

DAY = dt.date(2027, 3, 10)


def _stamped(day: dt.date) -> dict[str, str]:
    return {"as_of": day.isoformat()}


@pytest.mark.parametrize(("generated", "today", "stale"), [
    (DAY, DAY, False),
    (DAY, DAY + DEMO_VALIDITY - dt.timedelta(days=1), False),
    (DAY, DAY + DEMO_VALIDITY, True),
    (dt.date(2026, 12, 31), dt.date(2027, 1, 1), True),  # a new record cycle, one day on
    (DAY, DAY - dt.timedelta(days=1), True),  # generated "in the future": the clock moved
])
def test_stale_after_the_validity_or_across_a_new_year(
    generated: dt.date, today: dt.date, stale: bool
) -> None:
    assert (stale_reason(_stamped(generated), today) is not None) is stale


def test_a_stamp_without_a_generation_day_is_stale() -> None:
    assert stale_reason({}, DAY) == "its stamp has no generation day"
    assert stale_reason({"as_of": "soon"}, DAY) == "its stamp has no generation day"


def _prepare(folder: Path, today: dt.date) -> dict[str, object]:
    setup = prepare_demo(folder, today=today)
    setup.agencies.close()
    stamp = read_stamp(folder)
    assert stamp is not None
    return stamp


def test_the_bundled_demo_is_reused_while_valid_and_regenerated_when_stale(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "demo"
    caplog.set_level(logging.INFO, logger="gateway")
    assert _prepare(folder, DAY)["as_of"] == DAY.isoformat()
    written = (folder / "samr.db").stat().st_mtime_ns

    later = DAY + DEMO_VALIDITY - dt.timedelta(days=1)
    assert _prepare(folder, later)["as_of"] == DAY.isoformat()
    assert (folder / "samr.db").stat().st_mtime_ns == written
    assert not [r for r in caplog.records if "regenerating" in r.getMessage()]

    week = DAY + DEMO_VALIDITY
    assert _prepare(folder, week)["as_of"] == week.isoformat()
    [line] = [r.getMessage() for r in caplog.records if "regenerating" in r.getMessage()]
    assert line == (f"regenerating the demo in {folder}: it was generated on {DAY}, "
                    f"{DEMO_VALIDITY.days} days ago (valid for {DEMO_VALIDITY.days})")


def test_the_bundled_demo_is_regenerated_on_the_first_day_of_a_year(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    _prepare(folder, dt.date(2027, 12, 31))
    assert _prepare(folder, dt.date(2028, 1, 1))["as_of"] == "2028-01-01"


def test_a_stale_generated_district_is_never_rewritten(tmp_path: Path) -> None:
    """Only the bundled demo is regenerated: a district made by ``gateway demo generate``
    keeps its files, however old (the folder rule is ``bundled_demo_refusal``'s)."""
    folder = tmp_path / "mine"
    write_demo(generate_district(enterprises=20, as_of=dt.date(2025, 5, 1)), folder,
               http_base_url="http://127.0.0.1:9001")
    before = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}
    with pytest.raises(DemoDirError):
        prepare_demo(folder, today=DAY)
    assert {path.name: path.stat().st_mtime_ns for path in folder.iterdir()} == before
    stamp = read_stamp(folder)
    assert stamp is not None and stamp["as_of"] == "2025-05-01"
