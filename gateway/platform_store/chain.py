"""The hash chain of the access log, and an entry's row form.

Definitions (what ``gateway audit verify`` recomputes):

- ``content_hash = sha256(entry.content())`` in lower-case hex: the canonical JSON of
  the entry's fields (``AccessEntry.content``);
- ``entry_hash = sha256(ascii(prev_hash + content_hash))``: the two 64-character hex
  strings concatenated, hashed, in lower-case hex;
- ``prev_hash`` of entry 1 is ``GENESIS`` (64 zeros); of entry *n* the ``entry_hash``
  of entry *n - 1*. Ids run 1, 2, 3... without gaps, in chain order.

An entry is stored as it is read back: ``stored_row`` turns an entry into the exact
values its row will hold (sorted lists, UTC time to the microsecond, NUL characters
replaced, which PostgreSQL text cannot hold), so the hash written is the hash
recomputed from the row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gateway.platform_store.entry import AccessEntry, content_of

__all__ = ["CHAIN_COLUMNS", "GENESIS", "entry_of_content", "entry_of_row", "link_hash",
           "stored_row"]

GENESIS = "0" * 64
CHAIN_COLUMNS = ("id", "prev_hash", "content_hash", "entry_hash")  # the rest: the entry
_JSON_COLUMNS = ("credit_codes", "person_ids", "fields", "redactions", "decisions")
_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def link_hash(prev_hash: str, content_hash: str) -> str:
    """``entry_hash`` of an entry whose predecessor's hash is ``prev_hash``."""
    return hashlib.sha256((prev_hash + content_hash).encode("ascii")).hexdigest()


def stored_row(entry: AccessEntry) -> tuple[dict[str, Any], str]:
    """The ``access_log`` columns of an entry (without the chain's) exactly as
    ``entry_of_row`` reads them back, and the content hash of what they hold. From
    the entry's document as it is hashed, not from its content read back (a third of
    the time)."""
    document = entry.document()
    content = content_of(document)
    if type(document["latency_ms"]) is not float or b"\\u0000" in content:
        # a whole number comes back from the column as a float; NUL cannot be kept
        document = entry_of_content(_without_nul(json.loads(content))).document()
        content = content_of(document)
    row = {**document, "at": dt.datetime.fromisoformat(document["at"])}
    for column in _JSON_COLUMNS:
        row[column] = _json(document[column])
    return row, hashlib.sha256(content).hexdigest()


def entry_of_content(data: Mapping[str, Any]) -> AccessEntry:
    """An entry from its canonical content (``json.loads(entry.content())``)."""
    values = dict(data)
    values["at"] = dt.datetime.fromisoformat(data["at"]).astimezone(dt.UTC)
    values["credit_codes"] = tuple(data["credit_codes"])
    values["person_ids"] = tuple(data["person_ids"])
    values["fields"] = {path: tuple(labels) for path, labels in data["fields"].items()}
    values["redactions"] = dict(data["redactions"])
    values["decisions"] = tuple(dict(d) for d in data["decisions"])
    values["latency_ms"] = float(data["latency_ms"])
    return AccessEntry(**values)


def entry_of_row(row: Mapping[Any, Any]) -> AccessEntry:
    """The entry an ``access_log`` row holds (raises on a row that is not JSON)."""
    data = {key: value for key, value in row.items() if key not in CHAIN_COLUMNS}
    for column in _JSON_COLUMNS:
        data[column] = json.loads(data[column])
    at = data["at"]
    data["at"] = at.isoformat() if isinstance(at, dt.datetime) else str(at)
    return entry_of_content(data)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value
