"""pycasbin's ``Enforcer`` with its matcher parsed once, not at every decision.

pycasbin builds a ``SimpleEval`` for each ``enforce`` call, and its constructor runs
``ast.parse`` over the matcher text every time. That cost most of a clearance's first
decisions (231 for one enterprise: 112-123 ms), and on CPython 3.11 ``ast.parse`` in
one thread while another thread compiles code can fail with ``SystemError: AST
constructor recursion depth mismatch`` (CPython gh-106905): a department's enterprise
query once came back null so in a test process running several servers. Here the
parsed tree is kept per matcher text and each decision still gets an evaluator of its
own (the evaluator binds its handlers to itself, so one is not shared); the tree is
only read by the evaluator.
"""

from __future__ import annotations

import ast
from typing import Any

import casbin
from casbin.util.expression import SimpleEval

__all__ = ["ParsedOnceEnforcer"]


class ParsedOnceEnforcer(casbin.Enforcer):  # type: ignore[misc]  # casbin is untyped
    """``casbin.Enforcer`` whose matcher expressions are parsed once per text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._parsed: dict[str, tuple[str, ast.expr]] = {}
        super().__init__(*args, **kwargs)

    def _get_expression(self, expr: str, functions: Any = None) -> SimpleEval:
        kept = self._parsed.get(expr)
        if kept is None:  # pycasbin's own translation (&&, ||, !) and parse, once
            evaluator = casbin.Enforcer._get_expression(expr, functions)
            self._parsed[expr] = (evaluator.expr, evaluator.ast_parsed_value)
            return evaluator
        evaluator = SimpleEval("", functions)  # an empty text is not parsed
        evaluator.expr, evaluator.ast_parsed_value = kept
        return evaluator
