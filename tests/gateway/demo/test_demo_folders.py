"""Whose folder is it: ``gateway serve --demo-dir`` rewrites only the bundled demo it
made; ``gateway demo generate`` writes only new, empty or demo folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.demo.generate import generate_district
from gateway.demo.writer import (
    BUNDLED_DEMO,
    GENERATED_DISTRICT,
    MARKER_NAME,
    STAMP_NAME,
    bundled_demo_refusal,
    generate_refusal,
    is_bundled_demo,
    made_as,
    write_demo,
)
from gateway.demo_mode import DemoDirError, prepare_demo

_BASE = "http://127.0.0.1:9001"


@pytest.fixture(scope="module")
def small_district_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated district of 30 enterprises (as ``gateway demo generate`` writes it)."""
    folder = tmp_path_factory.mktemp("district")
    write_demo(generate_district(enterprises=30, seed=7), folder, http_base_url=_BASE)
    return folder


def test_the_marker_says_who_wrote_the_folder(tmp_path: Path) -> None:
    district = generate_district(enterprises=20, seed=3)
    write_demo(district, tmp_path / "bundled", http_base_url=_BASE, made_as=BUNDLED_DEMO)
    write_demo(district, tmp_path / "generated", http_base_url=_BASE)
    assert made_as(tmp_path / "bundled") == BUNDLED_DEMO
    assert is_bundled_demo(tmp_path / "bundled")
    assert made_as(tmp_path / "generated") == GENERATED_DISTRICT
    assert not is_bundled_demo(tmp_path / "generated")
    assert made_as(tmp_path / "nothing") is None


def test_a_folder_from_before_the_marker_is_judged_by_its_stamp(tmp_path: Path) -> None:
    for name, seed, enterprises in (("demo", 20261123, 2000), ("big", 20261123, 100_000)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / STAMP_NAME).write_text(json.dumps({"seed": seed, "enterprises": enterprises}),
                                         encoding="utf-8")
    assert made_as(tmp_path / "demo") == BUNDLED_DEMO  # the bundled demo's seed and size
    assert made_as(tmp_path / "big") == GENERATED_DISTRICT


def test_the_bundled_demo_may_go_only_where_nothing_else_is(tmp_path: Path) -> None:
    assert bundled_demo_refusal(tmp_path / "new") is None
    empty = tmp_path / "empty"
    empty.mkdir()
    assert bundled_demo_refusal(empty) is None
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine", encoding="utf-8")
    refusal = bundled_demo_refusal(theirs)
    assert refusal is not None and "did not create" in refusal
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    assert "is a file" in (bundled_demo_refusal(a_file) or "")


def test_serve_refuses_a_generated_district_and_leaves_it_as_it_was(
    small_district_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {path: path.stat().st_mtime_ns for path in small_district_dir.rglob("*")}
    with pytest.raises(DemoDirError, match="gateway demo generate"):
        prepare_demo(small_district_dir)
    assert main(["serve", "--port", "0", "--demo-dir", str(small_district_dir)]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"cannot start: --demo-dir {small_district_dir} holds a district "
                              f"made by 'gateway demo generate'")
    assert f"gateway serve --config {small_district_dir / 'gateway.yaml'}" in message
    assert {path: path.stat().st_mtime_ns for path in small_district_dir.rglob("*")} == before


def test_serve_refuses_a_folder_of_someone_elses_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "report.xlsx").write_bytes(b"not ours")
    assert main(["serve", "--port", "0", "--demo-dir", str(tmp_path)]) == 2
    assert "the gateway did not create" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]


def test_the_bundled_demo_is_written_with_its_marker(tmp_path: Path) -> None:
    setup = prepare_demo(tmp_path / "demo")
    setup.agencies.close()
    assert is_bundled_demo(tmp_path / "demo")
    assert (tmp_path / "demo" / MARKER_NAME).read_text(encoding="utf-8").startswith(BUNDLED_DEMO)
    again = prepare_demo(tmp_path / "demo")  # its own folder: accepted again
    again.agencies.close()


def test_generate_refuses_a_folder_of_someone_elses_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "thesis.tex").write_text("x", encoding="utf-8")
    assert generate_refusal(tmp_path) is not None
    assert main(["demo", "generate", "--out", str(tmp_path), "--enterprises", "10"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


def test_generate_prints_the_two_commands_that_serve_the_district(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "district"
    assert main(["demo", "generate", "--out", str(out), "--enterprises", "10",
                 "--http-base-url", "http://127.0.0.1:9123"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2:] == [f"  gateway demo serve-agencies --data-dir {out} --port 9123",
                          f"  gateway serve --config {out / 'gateway.yaml'}"]
    assert made_as(out) == GENERATED_DISTRICT
    # a district it wrote before may be written again
    assert main(["demo", "generate", "--out", str(out), "--enterprises", "12"]) == 0
