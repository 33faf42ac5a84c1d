"""Writing the demo district: SQLite, CSV and JSON sources plus the gateway configuration."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from connectors.standard import spec_for
from gateway.config import load_config
from gateway.demo.generate import District, generate_district
from gateway.demo.writer import read_stamp, stamp_matches, write_config, write_demo

_BASE = "http://127.0.0.1:8765/agencies"


@pytest.fixture(scope="module")
def district() -> District:
    return generate_district(enterprises=300)


@pytest.fixture
def written(district: District, tmp_path: Path) -> Path:
    write_demo(district, tmp_path / "demo", http_base_url=_BASE)
    return tmp_path / "demo"


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]


def _indexed(connection: sqlite3.Connection, table: str) -> set[str]:
    names = [row[1] for row in connection.execute(f'PRAGMA index_list("{table}")')]
    return {connection.execute(f'PRAGMA index_info("{name}")').fetchone()[2] for name in names}


def test_samr_database_has_one_standard_table_per_type(written: Path, district: District) -> None:
    with sqlite3.connect(written / "samr.db") as connection:
        for record_type, rows in district.rows["SAMR"].items():
            assert _columns(connection, record_type) == list(spec_for(record_type).all_columns())
            count = connection.execute(f'SELECT count(*) FROM "{record_type}"').fetchone()[0]
            assert count == len(rows)
        assert _indexed(connection, "enterprise") == {"credit_code", "legal_rep_id"}
        assert _indexed(connection, "penalty") == {"credit_code", "person_id"}
        assert _indexed(connection, "person") == {"person_id"}
        first = connection.execute(
            "SELECT name, legal_rep_id FROM enterprise WHERE credit_code = ?",
            (district.showcase_credit_code,),
        ).fetchone()
        assert first == (district.rows["SAMR"]["enterprise"][0]["name"],
                         district.showcase_person_id)
        blank = connection.execute("SELECT count(*) FROM penalty WHERE person_id = ''")
        assert blank.fetchone()[0] == 0  # empty strings are stored as NULL


def test_tax_database_uses_non_standard_names(written: Path, district: District) -> None:
    with sqlite3.connect(written / "tax.db") as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"tax_penalty", "major_tax_violation"}
        columns = _columns(connection, "tax_penalty")
        assert "wsh" in columns and "cfrq" in columns
        assert "decision_no" not in columns and "decided_on" not in columns
        assert _indexed(connection, "tax_penalty") == {"credit_code", "person_id"}
        first = district.rows["TAX"]["penalty"][0]
        found = connection.execute("SELECT wsh, cfrq FROM tax_penalty WHERE record_id = ?",
                                   (first["record_id"],)).fetchone()
        assert found == (first["decision_no"], first["decided_on"])


def test_csv_folders_have_bom_header_and_every_row(written: Path, district: District) -> None:
    for agency, extra in (("EPB", []), ("FDA", ["remark"])):
        for record_type, rows in district.rows[agency].items():
            path = written / agency.lower() / f"{record_type}.csv"
            assert path.read_bytes().startswith(b"\xef\xbb\xbfrecord_id,")
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader)
                body = list(reader)
            assert header == [*spec_for(record_type).all_columns(), *extra]
            assert [line[0] for line in body] == [row["record_id"] for row in rows]
    with (written / "epb" / "penalty.csv").open(encoding="utf-8-sig", newline="") as handle:
        bad = [row for row in csv.DictReader(handle) if row["record_id"].startswith("EPB-BAD")]
    assert {row["openness"] for row in bad} >= {"MAYBE"}


def test_http_agencies_are_written_as_json(written: Path, district: District) -> None:
    court = json.loads((written / "court.json").read_text(encoding="utf-8"))
    assert court == district.rows["COURT"]
    fire = json.loads((written / "fire.json").read_text(encoding="utf-8"))
    assert set(fire) == {"penalty", "inspection"}


def test_config_follows_the_standard_and_validates(written: Path) -> None:
    path = written / "gateway.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and "generated" in text.splitlines()[0]
    document = yaml.safe_load(text)
    roles = {p["id"]: p["role"] for p in document["principals"]}
    assert sorted(roles.values()) == ["admin", "approval", "auditor", "department",
                                      "enterprise", "supervisor"]
    agencies = {agency["code"]: agency for agency in document["agencies"]}
    assert list(agencies) == ["SAMR", "TAX", "EPB", "FDA", "COURT", "FIRE"]
    assert agencies["SAMR"]["url"] == "sqlite+aiosqlite:///samr.db"
    assert agencies["TAX"]["tables"] == {"penalty": "tax_penalty",
                                         "serious_violation": "major_tax_violation"}
    assert agencies["TAX"]["columns"] == {"penalty": {"decision_no": "wsh", "decided_on": "cfrq"}}
    assert (agencies["EPB"]["kind"], agencies["EPB"]["path"]) == ("csv", "epb")
    assert agencies["COURT"]["base_url"] == f"{_BASE}/court"
    assert agencies["FIRE"]["base_url"] == f"{_BASE}/fire"
    assert all(a["timeout_s"] == 10 and a["cache_ttl_s"] == 60 for a in agencies.values())
    assert "市场监督管理局" in text  # written as UTF-8, not escaped
    config = load_config(path)
    assert config.registry.code == "SAMR"
    epb = config.agency("EPB")
    assert epb is not None
    assert Path(epb.location) == (written / "epb").resolve()


def test_write_config_alone_rewrites_only_the_config(written: Path) -> None:
    before = (written / "samr.db").stat().st_mtime_ns
    path = write_config(written, http_base_url="http://127.0.0.1:9999/")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    urls = [a.get("base_url") for a in document["agencies"] if a["kind"] == "http"]
    assert urls == ["http://127.0.0.1:9999/court", "http://127.0.0.1:9999/fire"]
    assert (written / "samr.db").stat().st_mtime_ns == before


def test_stamp_round_trips_and_matches(written: Path, district: District) -> None:
    stamp = read_stamp(written)
    assert stamp is not None
    assert stamp["seed"] == district.seed
    assert stamp["enterprises"] == 300
    assert stamp["showcase_credit_code"] == district.showcase_credit_code
    assert stamp["showcase_person_id"] == district.showcase_person_id
    assert stamp["counts"]["COURT"]["judgment_default"] == len(
        district.rows["COURT"]["judgment_default"])
    assert stamp_matches(written, seed=district.seed, enterprises=300)
    assert not stamp_matches(written, seed=district.seed, enterprises=2000)


def test_missing_or_corrupt_stamp_reads_as_none(tmp_path: Path) -> None:
    assert read_stamp(tmp_path) is None
    (tmp_path / "demo.json").write_text("{not json", encoding="utf-8")
    assert read_stamp(tmp_path) is None
    assert not stamp_matches(tmp_path, seed=1, enterprises=1)


def test_rewriting_replaces_the_data(written: Path) -> None:
    other = generate_district(enterprises=50, seed=5)
    write_demo(other, written, http_base_url=_BASE)
    with sqlite3.connect(written / "samr.db") as connection:
        assert connection.execute("SELECT count(*) FROM enterprise").fetchone()[0] == 50
    assert stamp_matches(written, seed=5, enterprises=50)
    assert not list(written.glob(".*.tmp"))


def test_default_district_is_written_quickly(tmp_path: Path) -> None:
    district = generate_district()
    started = time.perf_counter()
    write_demo(district, tmp_path, http_base_url=_BASE)
    assert time.perf_counter() - started < 3
