"""The csv connector against real files in a folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conftest import ACME, BETA, write_csv
from connectors.csv_folder import CsvConnector
from connectors.errors import SourceUnavailable
from connectors.records import RowProblem
from connectors.spec import AgencySpec


def licence(rid: str, code: str, number: str, **extra: Any) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "openness": "完全开放", "risk_level": "",
            "xkzh": number, "licence_name": "食品经营许可证", "valid_from": "2024-01-01",
            "status": "VALID", **extra}


def make(folder: Path, problems: list[RowProblem]) -> CsvConnector:
    spec = AgencySpec(code="FDA", name="食品药品监督管理局", kind="csv", location=str(folder),
                      provides=("licence", "penalty"), columns={"licence": {"licence_no": "xkzh"}})
    return CsvConnector(spec, report=problems.append)


async def test_reads_bom_files_with_renames_and_extra_columns(tmp_path: Path) -> None:
    write_csv(tmp_path / "licence.csv", [licence("1", ACME, "JY1", remark="x"),
                                         licence("2", ACME, "JY2", remark="y")])
    problems: list[RowProblem] = []
    source = make(tmp_path, problems)
    result = await source.fetch("licence", "credit_code", [BETA, ACME])
    assert result[0] == []
    assert not isinstance(result[1], Exception)
    assert [r.values["licence_no"] for r in result[1]] == ["JY1", "JY2"]
    assert problems == []


async def test_a_replaced_file_is_read_again(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "licence.csv", [licence("1", ACME, "JY1")])
    source = make(tmp_path, [])
    assert len(await source.scan("licence")) == 1
    write_csv(path, [licence("1", ACME, "JY1"), licence("2", BETA, "JY2")], bom=False)
    os.utime(path, ns=(1, 1))  # a different stamp even within one mtime tick
    assert len(await source.scan("licence")) == 2


async def test_missing_file_is_a_source_failure(tmp_path: Path) -> None:
    source = make(tmp_path, [])
    with pytest.raises(SourceUnavailable) as caught:
        await source.fetch("penalty", "credit_code", [ACME])
    assert caught.value.agency == "FDA"
    assert str(tmp_path) not in caught.value.reason
    assert await source.health() is True
    assert await make(tmp_path / "gone", []).health() is False


def penalty(rid: str, code: str, person: str) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "person_id": person, "openness": "OPEN",
            "risk_level": "MEDIUM", "decision_no": f"食药罚〔2026〕{rid}号",
            "penalty_type": "FINE", "amount": "5000", "decided_on": "2026-03-01"}


async def test_fetch_by_person_finds_records_without_credit_code(tmp_path: Path) -> None:
    write_csv(tmp_path / "penalty.csv", [
        penalty("1", ACME, "P7"), penalty("2", "", "P7"), penalty("3", "", "P8"),
        penalty("4", "", ""),
    ])
    problems: list[RowProblem] = []
    source = make(tmp_path, problems)
    on_p7, on_p8, on_nobody = await source.fetch("penalty", "person_id", ["P7", "P8", "P9"])
    (on_acme,) = await source.fetch("penalty", "credit_code", [ACME])
    assert isinstance(on_p7, list) and isinstance(on_p8, list) and isinstance(on_acme, list)
    assert [r.record_id for r in on_p7] == ["1", "2"]
    assert [(r.record_id, r.credit_code) for r in on_p8] == [("3", None)]
    assert on_nobody == []
    assert [r.record_id for r in on_acme] == ["1"]
    assert problems == []
    assert sorted(r.record_id for r in await source.scan("penalty")) == ["1", "2", "3"]
    assert [(p.record_id, p.reason) for p in problems] == [
        ("4", "missing credit_code and person_id; row left out")]
