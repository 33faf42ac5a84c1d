"""The GraphQL answer as JSON bytes: UTF-8 as it is, no spaces.

orjson writes the same bytes as ``json.dumps(data, ensure_ascii=False,
separators=(",", ":")).encode()`` for what an answer holds (strings, numbers, booleans,
null, lists, objects with string keys; a float with an exponent is the same number
written ``1.5e-7`` instead of ``1.5e-07``), 7 times faster: a 1,000-enterprise page
(530 KB) took 7.7 ms with the standard library and 1.1 ms with orjson, 3-4% of the
page over HTTP (README "Performance"). A value orjson refuses (a key that is not a
string, an integer beyond 64 bits) is written by the standard library instead.
"""

from __future__ import annotations

import json

import orjson

__all__ = ["encode_answer"]


def encode_answer(data: object) -> bytes:
    """``data`` as compact UTF-8 JSON (names and reasons are Chinese: \\u escapes
    would only bloat them)."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError included
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
