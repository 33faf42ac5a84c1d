from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.credit_code import (
    ALPHABET,
    credit_code_problem,
    is_valid_credit_code,
    with_check_char,
)

VALID = ["914403001922038216", "91110000600037341L", "91350100M000100Y43"]


@pytest.mark.parametrize("code", VALID)
def test_design_examples_are_valid(code: str) -> None:
    assert is_valid_credit_code(code)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4Z", "outside the GB 32100-2015 alphabet: Z"),
        ("91350100M000100Y44", "check character is 4, expected 3"),
        ("9135010", "must be 18 characters"),
        ("9135A100M000100Y43", "division code"),
        ("91350100M000100I43", "alphabet: I"),
    ],
)
def test_invalid_codes_say_why(code: str, reason: str) -> None:
    problem = credit_code_problem(code)
    assert problem is not None and reason in problem


first17 = st.text(alphabet=ALPHABET, min_size=17, max_size=17).map(
    lambda s: s[:2] + "".join(c if c.isdigit() else "0" for c in s[2:8]) + s[8:]
)


@given(first17)
def test_any_code_with_its_check_char_is_valid(body: str) -> None:
    assert is_valid_credit_code(with_check_char(body))


@given(first17, st.integers(0, 17), st.sampled_from(ALPHABET))
def test_changing_one_character_is_detected(body: str, position: int, char: str) -> None:
    code = with_check_char(body)
    changed = code[:position] + char + code[position + 1 :]
    if changed != code:
        assert not is_valid_credit_code(changed)
