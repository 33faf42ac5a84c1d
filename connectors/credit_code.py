"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

An 18-character code: registration authority (1), entity type (1), division code
(6 digits), organisation code (9) and a check character. The check character is
computed over the first 17 characters with weights ``3**(i-1) mod 31``.

>>> is_valid_credit_code("91350100M000100Y43")
True
>>> with_check_char("91350100M000100Y4")
'91350100M000100Y43'
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "ALPHABET",
    "check_char",
    "credit_code_problem",
    "is_valid_credit_code",
    "with_check_char",
]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def check_char(first17: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def with_check_char(first17: str) -> str:
    """Append the check character to 17 characters."""
    return first17 + check_char(first17)


@lru_cache(maxsize=262_144)  # a pure function of its argument; codes recur in every batch
def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid credit code, or ``None`` when it is."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    bad = sorted({char for char in code if char not in _VALUES})
    if bad:
        return f"contains characters outside the GB 32100-2015 alphabet: {''.join(bad)}"
    if not code[2:8].isdigit():
        return "positions 3-8 (division code) must be digits"
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, expected {expected}"
    return None


def is_valid_credit_code(code: str) -> bool:
    """True when ``code`` passes the GB 32100-2015 check."""
    return credit_code_problem(code) is None
