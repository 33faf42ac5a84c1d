"""The ``supervisor`` role (督办): bound to an agency like a department, in the
configuration and for ``gateway keys new``; it sees what the agency's departments see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import h
from connectors.standard import Openness
from gateway.cli import main
from gateway.config import ConfigError, load_config
from gateway.policy_files import DEFAULT_POLICY_DIR, load_policy
from schema.access import Clearance


def test_a_supervisor_needs_an_agency(user_agencies: dict[str, Any]) -> None:
    path: Path = user_agencies["config"]
    path.write_text(path.read_text(encoding="utf-8") + f"""  - id: epb-supervisor
    key_sha256: "{h('epb-supervisor-key')}"
    role: supervisor
""", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert ("agencies.yaml: principals[2] (epb-supervisor): agency: required for role "
            "supervisor") in raised.value.problems
    path.write_text(path.read_text(encoding="utf-8") + "    agency: EPB\n", encoding="utf-8")
    [supervisor] = [p for p in load_config(path).principals if p.role == "supervisor"]
    assert supervisor.agency == "EPB"


def test_keys_new_asks_a_supervisor_for_its_agency(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "--role", "supervisor"]) == 2
    assert "--agency is required for role supervisor" in capsys.readouterr().err
    assert main(["keys", "new", "--role", "supervisor", "--agency", "EPB"]) == 0
    assert "role: supervisor" in capsys.readouterr().out


@pytest.mark.parametrize("purpose", ["", "INSPECTION"])
def test_a_supervisor_sees_what_its_agencys_departments_see(purpose: str) -> None:
    policy = load_policy(DEFAULT_POLICY_DIR)
    for obj in ("Penalty", "Penalty.amount", "Person.idNumber", "Enterprise.legalRepId"):
        for openness in Openness:
            for owner in ("EPB", "SAMR"):
                decisions = {role: policy.allowed(Clearance(role, "EPB", purpose), obj,
                                                  openness, owner)
                             for role in ("department", "supervisor")}
                assert decisions["supervisor"] == decisions["department"], (obj, openness,
                                                                            owner)
