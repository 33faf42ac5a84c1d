"""``docker/Dockerfile``, checked without a Docker engine: a non-root user, a health
check, real paths, a plain install, and the demo's keys not opened to the network."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip())
            for text in joined]


def of(kind: str) -> list[str]:
    return [arguments for instruction, arguments in instructions() if instruction == kind]


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    users = of("USER")
    assert users, "no USER instruction: the gateway would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    stages = [i for i, (kind, _) in enumerate(instructions()) if kind in ("USER", "CMD")]
    assert [instructions()[i][0] for i in stages][-2:] == ["USER", "CMD"]


def test_the_health_check_asks_healthz_with_python() -> None:
    (check,) = of("HEALTHCHECK")
    assert "CMD" in check and "/healthz" in check
    command = json.loads(check[check.index("CMD") + 3:].strip())
    assert command[0] == "python"  # the slim image has no curl
    compile(command[2], "<healthcheck>", "exec")  # the one-liner is valid Python


def test_every_copied_path_exists_in_the_repository() -> None:
    copies = of("COPY")
    assert copies
    for arguments in copies:
        *sources, _ = shlex.split(arguments)
        for source in sources:
            assert (ROOT / source).exists(), source
    copied = {shlex.split(arguments)[0] for arguments in copies}
    assert {"gateway", "connectors", "schema", "policies"} <= copied


def test_the_install_is_plain_and_the_demo_keys_stay_on_loopback() -> None:
    runs = " ".join(of("RUN"))
    assert "pip install --no-cache-dir ." in runs and "-e ." not in runs
    (command,) = of("CMD")
    assert "--host 0.0.0.0" in command
    assert "--demo-keys-anywhere" not in command
