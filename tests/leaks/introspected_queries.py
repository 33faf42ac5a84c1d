"""Queries for every field a caller can reach, built from that caller's introspection.

``all_field_queries`` reads the schema the caller is served through the standard
introspection query (as a client would), then, for every root field, writes one
query that selects every field reachable below it - interfaces expanded into every
implementing type, each object type at most twice on a path, arguments filled from
the dataset - in a few variants of its arguments (periods, filters, dates).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import get_introspection_query

__all__ = ["Args", "Plan", "all_field_queries", "introspect"]

Execute = Callable[[str, dict[str, Any]], str]


@dataclass(frozen=True)
class Args:
    """Values to fill arguments with."""

    credit_codes: Sequence[str]
    person_ids: Sequence[str]
    today: dt.date
    page: int = 5


def introspect(execute: Execute) -> dict[str, Any]:
    """The caller's schema, by name, as the introspection query reports it."""
    answer = json.loads(execute(get_introspection_query(descriptions=False), {}))
    assert not answer["errors"], answer["errors"]
    types: dict[str, Any] = {t["name"]: t for t in answer["data"]["__schema"]["types"]}
    return types


def _named(ref: Mapping[str, Any]) -> tuple[str, str]:
    while ref.get("ofType") is not None:
        ref = ref["ofType"]
    return ref["name"], ref["kind"]


def _literal(value: object, ref: Mapping[str, Any], types: Mapping[str, Any]) -> str:
    """``value`` written as a GraphQL literal of the type ``ref`` (enums bare)."""
    named, kind = _named(ref)
    if isinstance(value, list):
        inner = ref
        while inner["kind"] in ("NON_NULL", "LIST") and inner.get("ofType") is not None:
            inner = inner["ofType"]
        return "[" + ", ".join(_literal(v, inner, types) for v in value) + "]"
    if kind == "ENUM":
        return str(value)
    if kind == "INPUT_OBJECT" and isinstance(value, dict):
        fields = {f["name"]: f["type"] for f in types[named]["inputFields"]}
        return "{" + ", ".join(f"{k}: {_literal(v, fields[k], types)}"
                               for k, v in value.items() if k in fields) + "}"
    return json.dumps(value, ensure_ascii=False)


class _Writer:
    def __init__(self, types: Mapping[str, Any], args: Args, variant: Mapping[str, object],
                 subject: Mapping[str, object]) -> None:
        self.types = types
        self.args = args
        self.variant = variant
        self.subject = subject

    def arguments(self, field: Mapping[str, Any]) -> str:
        given = []
        for arg in field["args"]:
            name = arg["name"]
            value = self.variant.get(name, self.subject.get(name))
            if value is None and arg["type"]["kind"] == "NON_NULL":
                raise LookupError(f"no value for required argument {name}")
            if value is not None:
                given.append(f"{name}: {_literal(value, arg['type'], self.types)}")
        return f"({', '.join(given)})" if given else ""

    def selection(self, type_name: str, path: tuple[str, ...], depth: int,
                  clashes: frozenset[str] = frozenset()) -> str:
        kind_of = self.types[type_name]
        parts = ["__typename"]
        for field in kind_of.get("fields") or ():
            named, kind = _named(field["type"])
            try:
                args = self.arguments(field)
            except LookupError:
                continue
            if kind in ("SCALAR", "ENUM"):
                if field["name"] not in clashes:
                    parts.append(field["name"] + args)
                continue
            if depth == 0 or path.count(named) >= 2:
                continue
            inner = self.selection(named, (*path, named), depth - 1)
            parts.append(f"{field['name']}{args} {{ {inner} }}")
        possible = [p["name"] for p in kind_of.get("possibleTypes") or ()]
        clashing = self._clashes(possible)
        for name in possible:
            inner = self.selection(name, (*path, name), depth, clashing)
            parts.append(f"... on {name} {{ {inner} }}")
        return " ".join(parts)

    def _clashes(self, names: Sequence[str]) -> frozenset[str]:
        """Leaf fields of several possible types with different types (``status``: an
        enterprise's and a licence's): left out of the fragments, or they would
        conflict; both are enums, selected where their types are asked directly."""
        seen: dict[str, set[str]] = {}
        for name in names:
            for field in self.types[name].get("fields") or ():
                seen.setdefault(field["name"], set()).add(json.dumps(field["type"]))
        return frozenset(name for name, kinds in seen.items() if len(kinds) > 1)

    def query(self, root: Mapping[str, Any], depth: int, trail: tuple[str, ...] = ()) -> str:
        """The query for ``root``: along ``trail`` (field names below it) only the next
        field, then every field reachable."""
        named, kind = _named(root["type"])
        args = self.arguments(root)
        if kind in ("SCALAR", "ENUM"):
            return f"{{ {root['name']}{args} }}"
        return f"{{ {root['name']}{args} {{ {self._along(named, trail, depth)} }} }}"

    def _along(self, type_name: str, trail: tuple[str, ...], depth: int) -> str:
        if not trail:
            return self.selection(type_name, (type_name,), depth)
        field = self.field(type_name, trail[0])
        named, _ = _named(field["type"])
        inner = self._along(named, trail[1:], depth - 1)
        return f"__typename {field['name']}{self.arguments(field)} {{ {inner} }}"

    def field(self, type_name: str, name: str) -> Mapping[str, Any]:
        return next(f for f in self.types[type_name]["fields"] if f["name"] == name)

    def children(self, root: Mapping[str, Any], trail: tuple[str, ...]) -> list[str]:
        """Object-typed fields below ``root`` at the end of ``trail``: how a query too
        costly to run whole is split."""
        named, _ = _named(root["type"])
        for name in trail:
            named, _ = _named(self.field(named, name)["type"])
        found = []
        for field in self.types[named].get("fields") or ():
            _, kind = _named(field["type"])
            if kind in ("OBJECT", "INTERFACE"):
                try:
                    self.arguments(field)
                except LookupError:
                    continue
                found.append(field["name"])
        return found


def _variants(args: Args) -> list[dict[str, object]]:
    """Argument variants every query is written in."""
    today = args.today.isoformat()
    past = (args.today - dt.timedelta(days=400)).isoformat()
    return [
        {"period": "ALL", "first": args.page},
        {"period": "CURRENT", "asOf": today, "first": args.page},
        {"period": "HISTORY", "asOf": past, "first": args.page,
         "filter": {"districtCode": "1101"}},
        {"period": "ALL", "first": args.page, "filter": {"warningLevel": "RED"}},
        {"period": "ALL", "first": args.page, "filter": {"creditGrade": "C"}},
        {"period": "ALL", "first": args.page, "filter": {"hasRecordsFrom": "COURT"}},
        {"period": "ALL", "first": args.page,
         "filter": {"status": "ACTIVE", "nameContains": "公司"}},
    ]


@dataclass(frozen=True)
class Plan:
    """A query for every field below ``root`` (through ``trail``), and how to split it."""

    writer: _Writer
    root: Mapping[str, Any]
    trail: tuple[str, ...] = ()
    depth: int = 5

    @property
    def text(self) -> str:
        return self.writer.query(self.root, self.depth, self.trail)

    def split(self) -> list[Plan]:
        """The same fields in several smaller queries (one per field below the trail's
        end); none when nothing is left to split."""
        if self.depth <= 1:
            return []
        return [Plan(self.writer, self.root, (*self.trail, name), self.depth - 1)
                for name in self.writer.children(self.root, self.trail)]


def all_field_queries(types: Mapping[str, Any], args: Args, *,
                      depth: int = 5) -> Iterator[tuple[str, Plan]]:
    """(root field, plan) for every root field of the caller's schema, every
    argument variant and every subject of ``args``."""
    roots = types["Query"]["fields"]
    subjects: list[dict[str, object]] = [
        {"creditCode": code, "personId": person,
         "creditCodes": list(args.credit_codes[:3]), "action": "LICENCE_APPLICATION"}
        for code, person in zip(args.credit_codes, args.person_ids, strict=False)
    ]
    for variant in _variants(args):
        for subject in subjects:
            for root in roots:
                writer = _Writer(types, args, variant, subject)
                try:
                    writer.query(root, depth)
                except LookupError:
                    continue
                yield root["name"], Plan(writer, root, (), depth)
