"""Where bad source rows are reported: logged once each and kept for inspection."""

from __future__ import annotations

import logging
from collections import OrderedDict

from connectors.records import RowProblem

__all__ = ["ProblemLog"]

logger = logging.getLogger("connectors.problems")


class ProblemLog:
    """A bounded, de-duplicated log of ``RowProblem``s.

    Each distinct problem is logged once at WARNING (agency, type, record id, reason);
    the most recent ``limit`` are kept so an operator command can list them.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._seen: OrderedDict[RowProblem, None] = OrderedDict()

    def report(self, problem: RowProblem) -> None:
        if problem in self._seen:
            self._seen.move_to_end(problem)
            return
        self._seen[problem] = None
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        logger.warning("bad source row: %s", problem)

    def problems(self) -> list[RowProblem]:
        return list(self._seen)

    def __len__(self) -> int:
        return len(self._seen)
