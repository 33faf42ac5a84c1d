"""The conftest's service checks: a test marked ``postgres`` or ``redis`` is skipped with
a one-line reason when its service cannot be reached, and fails with that line when
GATEWAY_TEST_SERVICES=required (as .ci/run sets it). Run in a pytest of its own,
pointed at a closed port by GATEWAY_TEST_POSTGRES_URL / GATEWAY_TEST_REDIS_URL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import free_port

TESTS = Path(__file__).resolve().parent

SAMPLE = '''
import pytest

@pytest.mark.postgres
def test_needs_postgres():
    pass

@pytest.mark.redis
def test_needs_redis():
    pass

def test_needs_neither():
    pass

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request):
    return request.param

def test_each_backend(backend):
    pass

def test_with_the_fixture(redis_url):
    pass
'''


def run_sample(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """pytest on ``SAMPLE`` with the project's conftest loaded as a plugin."""
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("GATEWAY_TEST_")}
    env.update(environment, PYTHONPATH=os.pathsep.join([str(TESTS), str(TESTS.parent)]),
               COLUMNS="500")  # summary lines whole
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-rsE",
         "-q", "test_sample.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def closed() -> dict[str, str]:
    """Service URLs at ports nothing listens on."""
    return {"GATEWAY_TEST_POSTGRES_URL":
            f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test",
            "GATEWAY_TEST_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}


def skip_reasons(output: str) -> list[str]:
    """Each skipped test's reason, from pytest's short summary (``SKIPPED [n] where:
    reason`` lines, one per distinct place and reason)."""
    reasons = []
    for line in output.splitlines():
        found = re.match(r"SKIPPED \[(\d+)\] \S+:\d+: (.*)$", line)
        if found:
            reasons += [found.group(2)] * int(found.group(1))
    return reasons


def test_unreachable_services_skip_with_a_one_line_reason(
    tmp_path: Path, closed: dict[str, str]
) -> None:
    result = run_sample(tmp_path, **closed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed, 4 skipped" in result.stdout, result.stdout
    postgres_port = closed["GATEWAY_TEST_POSTGRES_URL"].split(":")[-1].split("/")[0]
    redis_port = closed["GATEWAY_TEST_REDIS_URL"].split(":")[-1].split("/")[0]
    skipped = skip_reasons(result.stdout)
    assert len(skipped) == 4, result.stdout
    assert sum(r.startswith(f"PostgreSQL at 127.0.0.1:{postgres_port} is not reachable: ")
               for r in skipped) == 2, skipped
    assert sum(r.startswith(f"Redis at 127.0.0.1:{redis_port} is not reachable: ")
               for r in skipped) == 2, skipped
    assert all("refused" in r.lower() and "\n" not in r for r in skipped), skipped


def test_required_services_fail_with_the_same_line(
    tmp_path: Path, closed: dict[str, str]
) -> None:
    result = run_sample(tmp_path, GATEWAY_TEST_SERVICES="required", **closed)
    assert result.returncode == 1, result.stdout + result.stderr
    # failed in setup, before the test: pytest counts them as errors
    assert "2 passed, 4 errors" in result.stdout, result.stdout
    failed = [line for line in result.stdout.splitlines() if line.startswith("ERROR ")]
    assert len(failed) == 4, result.stdout
    assert sum(" - Failed: PostgreSQL at 127.0.0.1:" in line for line in failed) == 2, failed
    assert sum(" - Failed: Redis at 127.0.0.1:" in line for line in failed) == 2, failed
    assert all(" is not reachable: " in line for line in failed), failed
    assert "Traceback" not in result.stdout


@pytest.mark.postgres
@pytest.mark.redis
def test_the_machines_services_are_reachable(tmp_path: Path) -> None:
    """With the machine's services (default URLs), the sample runs every test."""
    result = run_sample(tmp_path, GATEWAY_TEST_SERVICES="required")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout, result.stdout
