"""``docker/Dockerfile`` and ``docker/compose.yaml``, checked without a Docker engine: a
non-root user, health checks, real paths, a plain install, the load balancer in front of
the three replicas, and the demo's keys and agencies not opened to the network."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

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


# --- docker/compose.yaml: the production topology with the demo as its data ----------

COMPOSE = ROOT / "docker" / "compose.yaml"
NGINX = ROOT / "docker" / "nginx.conf"
GATEWAYS = ("gateway-1", "gateway-2", "gateway-3")
CONDITIONS = ("service_healthy", "service_completed_successfully")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def test_compose_has_the_databases_three_replicas_a_load_balancer_and_the_agencies() -> None:
    assert set(services()) == {"postgres", "redis", "district", "agencies", *GATEWAYS, "lb"}
    for name in GATEWAYS:
        command = services()[name]["command"]
        assert command[:2] == ["gateway", "serve"]
        assert command[command.index("--config") + 1] == "/district/gateway.yaml"
        assert command[command.index("--redis-url") + 1].startswith("redis://redis:")
        assert command[command.index("--port") + 1] == "8000"
    assert services()["agencies"]["command"][:3] == ["gateway", "demo", "serve-agencies"]
    assert "gateway demo generate" in " ".join(services()["district"]["command"])


def test_every_service_has_a_health_check_and_waits_for_what_it_needs() -> None:
    every = services()
    for name, service in every.items():
        check = service.get("healthcheck", {})
        if one_shot(service):  # done when it exits: its dependants wait for that
            continue
        assert check.get("test") and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        if check["test"][1] == "python":
            compile(check["test"][3], f"<{name} healthcheck>", "exec")
        for needed, how in service.get("depends_on", {}).items():
            assert needed in every, f"{name} depends on unknown {needed}"
            assert how["condition"] in CONDITIONS, name
            if how["condition"] == "service_healthy":
                assert not one_shot(every[needed]) and every[needed].get("healthcheck"), needed
            else:
                assert one_shot(every[needed]), needed
    assert set(every["lb"]["depends_on"]) == set(GATEWAYS)


def test_only_the_load_balancer_publishes_a_port() -> None:
    published = {name: service["ports"] for name, service in services().items()
                 if service.get("ports")}
    assert published == {"lb": ["8080:8080"]}
    assert "listen 8080;" in NGINX.read_text(encoding="utf-8")


def test_built_images_mounted_files_and_pinned_images_exist() -> None:
    for name, service in services().items():
        if "build" in service:
            context = (COMPOSE.parent / service["build"]["context"]).resolve()
            assert context == ROOT, name
            assert (context / service["build"]["dockerfile"]).is_file(), name
        else:
            _, _, tag = service["image"].partition(":")
            assert tag and tag != "latest", f"{name}: pin the image's version"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).is_file(), f"{name}: {source}"
            else:
                assert source in compose()["volumes"], f"{name}: {source}"


def test_nginx_balances_the_three_gateway_services_by_least_connections() -> None:
    text = NGINX.read_text(encoding="utf-8")
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", text, re.S)
    assert upstream is not None
    name, body = upstream.groups()
    assert f"proxy_pass http://{name};" in text
    assert "least_conn;" in body
    servers = re.findall(r"^\s*server ([\w-]+):(\d+) (.*);", body, re.M)
    assert [(host, port) for host, port, _ in servers] == [(g, "8000") for g in GATEWAYS]
    assert all("max_fails=" in options and "fail_timeout=" in options
               for _, _, options in servers)  # passive health checks


def test_the_agencies_raw_rows_and_the_demo_keys_stay_off_the_load_balancer() -> None:
    every = services()
    assert compose()["networks"]["backend"]["internal"] is True
    assert every["lb"]["networks"] == ["edge"]
    for name in ("agencies", "postgres", "redis", "district"):
        assert every[name]["networks"] == ["backend"], name
    assert "--demo-keys-anywhere" not in COMPOSE.read_text(encoding="utf-8")


def test_the_replicas_configuration_keeps_the_access_log_and_policies_in_postgres(
    tmp_path: Path,
) -> None:
    """The district service appends district-platform.yaml to the generated
    configuration: the result is valid and names the compose file's PostgreSQL."""
    from gateway.config import load_config
    from gateway.demo.writer import write_config

    path = write_config(tmp_path, http_base_url="http://agencies:9001")  # as demo generate
    generated = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert not {"platform", "policies"} & set(generated)  # appended keys would be doubled
    appended = (ROOT / "docker" / "district-platform.yaml").read_text(encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8") + appended, encoding="utf-8")
    config = load_config(path)
    assert (config.platform.backend, config.platform.schema) == ("postgresql", "platform")
    assert "@postgres:5432/" in config.platform.database
    postgres = services()["postgres"]["environment"]
    assert f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@" in \
        config.platform.database
    assert config.policies.in_database


def _compose_command() -> list[str] | None:
    """``docker compose`` where the plugin runs, else ``docker-compose``, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither 'docker compose' nor 'docker-compose' is installed (the "
                    "structure checks above still ran)")
    result = subprocess.run([*command, "-f", str(COMPOSE), "config", "--quiet"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
