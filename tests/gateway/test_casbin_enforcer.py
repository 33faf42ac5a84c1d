"""The Casbin enforcer with its matcher parsed once (gateway.casbin_enforcer): the same
decisions as pycasbin's own for every request the shipped policy can be asked, and
``ast.parse`` once per matcher instead of at every decision."""

from __future__ import annotations

import ast
import itertools
import threading
from pathlib import Path

import casbin
import pytest
from casbin.util import expression

from gateway.casbin_enforcer import ParsedOnceEnforcer
from gateway.policy_files import DEFAULT_POLICY_DIR, _RulesAdapter, read_policy_data

ROLES = ("public", "department", "approval", "auditor", "admin", "stranger")
AGENCIES = ("", "SAMR", "COURT", "EPB")
PURPOSES = ("", "INSPECTION", "LICENCE_APPROVAL", "PROCUREMENT", "OTHER")
OBJECTS = ("Penalty", "Penalty.amount", "Enterprise.legalRepName", "Licence.licenceNo",
           "JudgmentDefault", "Enterprise.warning")
OPENNESS = ("NOT_OPEN", "CONDITIONAL", "OPEN")
OWNERS = ("SAMR", "COURT", "EPB")


def enforcers(folder: Path = DEFAULT_POLICY_DIR) -> tuple[casbin.Enforcer, ParsedOnceEnforcer]:
    data = read_policy_data(folder)
    made = []
    for kind in (casbin.Enforcer, ParsedOnceEnforcer):
        model = casbin.Model()
        model.load_model_from_text(data.model)
        made.append(kind(model, _RulesAdapter([values for _, values in data.rules])))
    return made[0], made[1]


def test_every_decision_is_pycasbins_own() -> None:
    plain, parsed_once = enforcers()
    requests = list(itertools.product(ROLES, AGENCIES, PURPOSES, OBJECTS, OPENNESS, OWNERS))
    decisions = [bool(parsed_once.enforce(*request)) for request in requests]
    assert decisions == [bool(plain.enforce(*request)) for request in requests]
    assert True in decisions and False in decisions  # the requests cover both outcomes


def test_the_matcher_is_parsed_once_not_at_every_decision(
        monkeypatch: pytest.MonkeyPatch) -> None:
    plain, parsed_once = enforcers()
    parses: list[str] = []
    real_parse = ast.parse

    def counted(source: str) -> ast.Module:
        parses.append(source)
        return real_parse(source)

    monkeypatch.setattr(expression.ast, "parse", counted)
    for request in itertools.islice(
            itertools.product(ROLES, AGENCIES, PURPOSES, OBJECTS, OPENNESS, OWNERS), 200):
        parsed_once.enforce(*request)
    assert len(parses) == 1
    plain.enforce(*next(iter(itertools.product(ROLES, AGENCIES, PURPOSES, OBJECTS,
                                               OPENNESS, OWNERS))))
    assert len(parses) == 2  # pycasbin's own parses at each decision


def test_decisions_while_another_thread_compiles_code() -> None:
    """No ``ast.parse`` per decision, so no CPython 3.11 AST-constructor race with a
    thread compiling at the same time (gh-106905)."""
    _, parsed_once = enforcers()
    parsed_once.enforce(*next(iter(itertools.product(ROLES, AGENCIES, PURPOSES, OBJECTS,
                                                     OPENNESS, OWNERS))))
    stop = threading.Event()

    def compile_in_a_loop() -> None:
        while not stop.is_set():
            compile("(" * 50 + "1" + ")" * 50, "<other thread>", "eval")

    other = threading.Thread(target=compile_in_a_loop)
    other.start()
    try:
        for request in itertools.product(ROLES, AGENCIES, PURPOSES, OBJECTS, OPENNESS,
                                         OWNERS):
            parsed_once.enforce(*request)
    finally:
        stop.set()
        other.join()
