"""A SQLite file or CSV folder that is not there: ``/readyz`` answers 503 naming the
agency (``check-config``'s side is in ``test_cli_commands``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx

from conftest import ServerThread, write_csv, write_sqlite
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.source_files import MissingFile, missing_files

CONFIG = """agencies:
  - code: SAMR
    name: 市场监督管理局
    kind: sql
    url: sqlite+aiosqlite:///samr.db
    provides: [enterprise]
  - code: EPB
    name: 生态环境局
    kind: csv
    path: epb
    provides: [penalty]
  - code: MEM
    name: 内存库
    kind: sql
    url: "sqlite+aiosqlite://"
    provides: [licence]
"""
ENTERPRISE = {"record_id": "E-1", "credit_code": "91110102MA01ABCD1X", "openness": "OPEN"}


def test_missing_files_names_each_agency_and_skips_in_memory_databases(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "gateway.yaml")
    assert missing_files(config.agencies) == [
        MissingFile("SAMR", "SQLite database", tmp_path / "samr.db"),
        MissingFile("EPB", "CSV folder", tmp_path / "epb"),
    ]
    write_sqlite(tmp_path / "samr.db", {"enterprise": [ENTERPRISE]})
    (tmp_path / "epb").mkdir()
    assert missing_files(config.agencies) == []


def test_readyz_is_503_while_a_source_file_is_missing(
    tmp_path: Path, serve: Callable[..., ServerThread]
) -> None:
    (tmp_path / "gateway.yaml").write_text(CONFIG, encoding="utf-8")
    write_sqlite(tmp_path / "samr.db", {"enterprise": [ENTERPRISE]})
    write_csv(tmp_path / "epb" / "penalty.csv", [ENTERPRISE])
    app = create_app(load_config(tmp_path / "gateway.yaml"),
                     AppOptions(rate_limits=False, freeze_heap_after_start=False))
    url = serve(app).url

    ready = httpx.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert "sourceFiles" not in ready.json() and "accessLog" in ready.json()

    (tmp_path / "samr.db").unlink()
    shutil.rmtree(tmp_path / "epb")
    answer = httpx.get(f"{url}/readyz", timeout=10)
    assert answer.status_code == 503
    body = answer.json()
    assert body["ready"] is False
    assert "accessLog" in body  # the access log's report is still there
    assert body["sourceFiles"] == {
        "SAMR": "agency SAMR: SQLite database samr.db does not exist",
        "EPB": "agency EPB: CSV folder epb does not exist",
    }
    assert str(tmp_path) not in answer.text  # file names, not the machine's paths
    assert body["reason"].startswith("SOURCE_FILES_MISSING: agency SAMR")
