"""Answers are written by orjson with the bytes the standard library would write (but
for the exponent of very large or small floats: the same numbers)."""

from __future__ import annotations

import json

import pytest

from gateway.answer_json import encode_answer


def _stdlib(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


ANSWERS: list[object] = [
    {"data": {"enterprise": {"name": "北京某某科技有限公司", "amount": 24800.0,
                             "ratio": 0.1, "count": 3,
                             "open": True, "removedOn": None, "list": [], "empty": {}}}},
    {"errors": [{"message": "A \"quoted\" reason\twith\ncontrol \x01 chars \u2028 and 🚀",
                 "path": ["enterprise", 0, "penalties"],
                 "extensions": {"code": "SOURCE_UNAVAILABLE"}}], "data": None},
    {"data": {"enterprises": {"edges": [{"node": {"creditCode": f"9111{i:014d}",
                                                   "score": i / 7}} for i in range(200)]}}},
]


@pytest.mark.parametrize("data", ANSWERS)
def test_the_same_bytes_as_the_standard_library(data: object) -> None:
    assert encode_answer(data) == _stdlib(data)


@pytest.mark.parametrize("data", [{"data": {1: "a key that is a number"}},
                                  {"data": {"n": 2**70}}])
def test_what_orjson_refuses_is_written_by_the_standard_library(data: object) -> None:
    assert encode_answer(data) == _stdlib(data)


def test_floats_with_an_exponent_are_the_same_numbers() -> None:
    data = {"data": {"big": 1e21, "small": 1.5e-7, "negative": -2.5e-12}}
    assert json.loads(encode_answer(data)) == data
    assert encode_answer(data) == b'{"data":{"big":1e+21,"small":1.5e-7,"negative":-2.5e-12}}'
