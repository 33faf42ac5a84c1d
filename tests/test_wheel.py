"""A plain install works: the wheel, installed into a fresh virtual environment and run
from a folder outside the repository, prints its version and serves the demo.

Nothing leaks in from the source tree: the sources are copied before the build, the
commands run from an empty folder, and the test checks that the packages imported are
the installed ones.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "connectors", "schema", "policies")
QUERY = """query($c: String!) { enterprise(creditCode: $c) { name
  judgmentDefaults(period: ALL) { agency { code } } } sources { code available } }"""


def run(*command: str | Path, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False, env=_clean_env())
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env() -> dict[str, str]:
    """This process's environment without anything pointing at the repository or its venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "GATEWAY_POLICIES", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, source, cwd=source)
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", folder, cwd=folder)
    run(folder / "bin" / "python", "-m", "pip", "install", "--quiet",
        "--disable-pip-version-check", wheel, cwd=folder, timeout=900)
    return folder


@pytest.mark.slow
def test_the_wheel_holds_the_rules_and_graphiqls_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for rules in sorted((ROOT / "policies").glob("*")):
        if rules.suffix in (".yaml", ".conf", ".csv"):
            assert f"policies/{rules.name}" in names, rules.name
    assets = ROOT / "gateway" / "static" / "graphiql"
    for asset in sorted(assets.glob("*.js")) if assets.is_dir() else []:
        assert f"gateway/static/graphiql/{asset.name}" in names, asset.name


@pytest.mark.slow
def test_the_installed_wheel_prints_its_version_and_serves_the_demo(
    venv: Path, tmp_path: Path
) -> None:
    where = run(venv / "bin" / "python", "-c",
                "import gateway, policies; print(gateway.__file__); "
                "print(policies.policy_dir())", cwd=tmp_path)
    assert all(Path(line).is_relative_to(venv) for line in where.split()), where
    assert run(venv / "bin" / "gateway", "--version", cwd=tmp_path).strip() == (
        f"gateway {version('regulatory-graph')}")

    port = free_port()
    server = subprocess.Popen(
        [str(venv / "bin" / "gateway"), "serve", "--port", str(port),
         "--demo-dir", str(tmp_path / "demo")],
        cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**_clean_env(), "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the installed gateway did not start"
            time.sleep(0.3)
        showcase = json.loads((tmp_path / "demo" / "demo.json").read_text(encoding="utf-8"))[
            "showcase_credit_code"]
        body = httpx.post(f"{url}/graphql", json={"query": QUERY, "variables": {"c": showcase}},
                          headers={"Authorization": "Bearer demo-admin-key"}, timeout=30).json()
        assert "errors" not in body, body
        assert body["data"]["enterprise"]["name"]
        assert all(source["available"] for source in body["data"]["sources"]), body
        page = httpx.get(f"{url}/graphql", headers={"accept": "text/html"}, timeout=10)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]
    assert "Traceback" not in output, output
    assert "Model:" not in output  # casbin's model dump stays out of INFO
