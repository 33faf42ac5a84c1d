"""The ``gateway`` command line: version, help with defaults, one-line argument errors,
``check-config --config`` and the sources' files, a busy port, quiet casbin."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from conftest import free_port, write_sqlite
from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]


def write_config(folder: Path, *, csv_folder: bool = False) -> Path:
    """A configuration of SAMR (SQLite ``samr.db``) and, optionally, EPB (CSV ``epb/``)."""
    epb = """
  - code: EPB
    name: 生态环境局
    kind: csv
    path: epb
    provides: [penalty]
""" if csv_folder else ""
    path = folder / "gateway.yaml"
    path.write_text(f"""agencies:
  - code: SAMR
    name: 市场监督管理局
    kind: sql
    url: sqlite+aiosqlite:///samr.db
    provides: [enterprise]
{epb}""", encoding="utf-8")
    return path


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"gateway {version('regulatory-graph')}"


@pytest.mark.parametrize(("command", "shown"), [
    (["serve"], ["(default: 8000)", "(default: 127.0.0.1)", "(default: .demo-data)",
                 "(default: info)", "(default: 64)"]),
    (["demo", "generate"], ["(default: 2000)", "(default: http://127.0.0.1:9001)"]),
    (["demo", "serve-agencies"], ["(default: 9001)"]),
])
def test_help_shows_the_defaults(command: list[str], shown: list[str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # help text wraps anywhere
    for default in shown:
        assert default in out, default
    assert "(default: None)" not in out and "(default: False)" not in out


def test_a_bad_log_level_is_one_line_naming_the_choices() -> None:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--log-level", "loud"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "--log-level: invalid choice: 'loud'" in lines[0]
    assert "'debug'" in lines[0] and "'trace'" in lines[0]


def test_casbin_does_not_print_its_model_at_info() -> None:
    script = ("import logging, sys\n"
              "from gateway.cli import configure_logging\n"
              "from gateway.policy_files import DEFAULT_POLICY_DIR, load_policy\n"
              "if sys.argv[1] == 'cli':\n"
              "    configure_logging('info')\n"
              "else:\n"
              "    logging.basicConfig(level=logging.INFO)\n"
              "load_policy(DEFAULT_POLICY_DIR)\n")
    runs = {how: subprocess.run([sys.executable, "-c", script, how], cwd=ROOT,
                                capture_output=True, text=True, timeout=60, check=False)
            for how in ("plain", "cli")}
    assert "Model:" in runs["plain"].stderr  # casbin does print it at INFO ...
    assert runs["cli"].returncode == 0, runs["cli"].stderr
    assert "Model:" not in runs["cli"].stderr  # ... not under the gateway's logging
    assert "casbin" not in runs["cli"].stderr


def test_check_config_takes_config_like_check_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sqlite(tmp_path / "samr.db", {"enterprise": [{"credit_code": "x"}]})
    config = write_config(tmp_path)
    assert main(["check-config", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert f"{config}: OK - 1 agencies" in captured.out
    assert "deprecated" not in captured.err


def test_check_config_positional_file_still_works_with_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sqlite(tmp_path / "samr.db", {"enterprise": [{"credit_code": "x"}]})
    config = write_config(tmp_path)
    assert main(["check-config", str(config)]) == 0
    captured = capsys.readouterr()
    assert f"{config}: OK" in captured.out
    notice = captured.err.strip().splitlines()
    assert notice == [f"note: 'gateway check-config FILE' is deprecated; use "
                      f"'gateway check-config --config {config}'"]


def test_check_config_without_a_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "gateway check-config: error: the following arguments are required: --config FILE "
        "(see 'gateway check-config --help')"]


def test_check_config_fails_on_a_missing_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["check-config", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert "OK" not in captured.out
    assert captured.err.strip().splitlines() == [
        f"{config}: agency SAMR: SQLite database {tmp_path / 'samr.db'} does not exist"]
    assert not (tmp_path / "samr.db").exists()  # the check made no empty database


def test_check_config_fails_on_an_empty_sqlite_file_and_a_missing_csv_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "samr.db").touch()  # what connecting to a mistyped path leaves
    config = write_config(tmp_path, csv_folder=True)
    assert main(["check-config", "--config", str(config)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{config}: agency SAMR: SQLite database {tmp_path / 'samr.db'} is empty "
        f"(0 bytes, no tables)",
        f"{config}: agency EPB: CSV folder {tmp_path / 'epb'} does not exist",
    ]


def test_serve_on_a_busy_port_says_so_first_and_prepares_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    demo_dir = tmp_path / "demo"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        code = main(["serve", "--port", str(port), "--demo-dir", str(demo_dir)])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"cannot start: port {port} on 127.0.0.1 is in use (another gateway?); choose "
        f"another with --port"]
    assert not demo_dir.exists()


def test_serve_on_an_unknown_host_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "no-such-host.invalid", "--port", str(free_port())]) == 2
    assert capsys.readouterr().err.strip() == (
        "cannot start: --host no-such-host.invalid is not an address or a known host name")
