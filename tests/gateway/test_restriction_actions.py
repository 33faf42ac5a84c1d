"""A gateway started on a catalogue with one more action offers it in the
RestrictionAction enum and decides it; the resolver is given the catalogue's code."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from conftest import ACME, ADMIN, ServerThread
from gateway.app import AppOptions, create_app
from gateway.config import load_config
from gateway.policy_files import DEFAULT_POLICY_DIR

ENUM = '{ __type(name: "RestrictionAction") { enumValues { name description } } }'


def graph(server: ServerThread, query: str) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/graphql", json={"query": query}, headers=ADMIN,
                          timeout=15)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_an_action_added_to_the_catalogue_is_offered_and_decided(
    user_agencies: dict[str, Any], serve: Callable[..., ServerThread], tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, policies)
    catalogue = policies / "restrictions.yaml"
    catalogue.write_text(catalogue.read_text(encoding="utf-8") + """  pilot-scheme:
    name: 试点事项 (pilot scheme)
    rules:
      - {grade: A, decision: RESTRICTED, measure: "试点期间从严审查 (strict review)"}
      - {grade: B, decision: RESTRICTED, measure: "试点期间从严审查 (strict review)"}
      - {grade: C, decision: RESTRICTED, measure: "试点期间从严审查 (strict review)"}
      - {grade: D, decision: RESTRICTED, measure: "试点期间从严审查 (strict review)"}
""", encoding="utf-8")
    config = load_config(user_agencies["config"])
    options = AppOptions(policy_dir=policies, freeze_heap_after_start=False)
    server = serve(create_app(config, options))
    values = {v["name"]: v["description"]
              for v in graph(server, ENUM)["data"]["__type"]["enumValues"]}
    assert values["PILOT_SCHEME"] == "试点事项 (pilot scheme) (catalogue code pilot-scheme)"
    assert "LICENCE_APPLICATION" in values
    answer = graph(server, '{ restrictionCheck(creditCode: "%s", action: PILOT_SCHEME) '
                           '{ action decision reasons { measure } } }' % ACME)
    assert "errors" not in answer, answer
    check = answer["data"]["restrictionCheck"]
    assert check["action"] == "pilot-scheme"
    assert check["decision"] in ("RESTRICTED", "INDETERMINATE")
    shipped = serve(create_app(config, AppOptions(freeze_heap_after_start=False)))
    assert "PILOT_SCHEME" not in {v["name"] for v in
                                  graph(shipped, ENUM)["data"]["__type"]["enumValues"]}

