"""The values of a double-random draw (``schema.inspection_draw``): plain data."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Candidate", "Draw", "DrawError", "DrawPlan", "DrawnItem", "Inspector"]


class DrawError(Exception):
    """The draw cannot be made as asked: the message says which input and why (an
    enterprise no eligible inspector may visit, a candidate given twice, ...)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """An enterprise that may be drawn, with what the weights read."""

    credit_code: str
    registering_agency: str | None  # 登记机关, the registry's registering_agency
    warning: str  # "NONE" | "YELLOW" | "ORANGE" | "RED"
    grade: str  # "A" | "B" | "C" | "D"


@dataclass(frozen=True, slots=True)
class Inspector:
    """A law-enforcement inspector (执法检查人员) of the roster."""

    id: str
    name: str
    agency: str
    unit: str  # the inspector's unit, compared with an enterprise's registering agency
    avoid: frozenset[str] = frozenset()  # credit codes never to visit (回避)


@dataclass(frozen=True, slots=True)
class DrawPlan:
    """What a draw needs of an inspection plan."""

    plan_id: str
    agencies: tuple[str, ...]  # several: a cross-agency plan (联合抽查)
    count: int  # how many enterprises to draw
    inspectors_per_visit: int = 2


@dataclass(frozen=True, slots=True)
class DrawnItem:
    """One drawn enterprise and the inspectors who visit it."""

    credit_code: str
    inspectors: tuple[str, ...]  # inspector ids, in the order they were chosen
    mandatory: bool  # on the special list (重点监管名单): drawn whatever the seed
    probability: float = 1.0  # its inclusion probability in this draw


@dataclass(frozen=True, slots=True)
class Draw:
    """A draw: its items by credit code, and the digests that let anyone check it."""

    items: tuple[DrawnItem, ...]
    digest: str  # sha256 hex over the inputs digest and every item
    inputs_digest: str  # sha256 hex of the canonical inputs
    over_count: int = 0  # special-list enterprises drawn beyond the plan's count
    short_count: int = 0  # enterprises the count asked for that could not be drawn
