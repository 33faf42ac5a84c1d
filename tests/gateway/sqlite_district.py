"""Agencies in real SQLite files whose rows carry ``updated_at``, for tests of what the
change feed tells (webhooks, pushed registrations): the registry (REG), SAMR and EPB."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from pathlib import Path

from change_district import code, now_stamp

from conftest import h

__all__ = ["District", "code"]

_SERIAL = itertools.count(1)


class District:
    """The registry (REG) and SAMR's and EPB's penalties, each row with ``updated_at``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.registry = folder / "registry.db"
        self.agencies = {name: folder / f"{name.lower()}.db" for name in ("SAMR", "EPB")}
        with sqlite3.connect(self.registry) as db:
            db.execute("CREATE TABLE enterprise (record_id, credit_code, openness, risk_level, "
                       "name, status, district_code, industry, business_scope, updated_at)")
            db.execute("CREATE TABLE person (record_id, person_id, name, openness, risk_level, "
                       "updated_at)")
        for path in self.agencies.values():
            with sqlite3.connect(path) as db:
                db.execute("CREATE TABLE penalty (record_id, credit_code, openness, risk_level, "
                           "decision_no, penalty_type, decided_on, updated_at)")
        for agency in self.agencies:  # a change time to start from
            self.penalty(agency, code(9000), risk="LOW")

    def register(self, credit_code: str, name: str, *, openness: str = "OPEN",
                 industry: str = "软件和信息技术服务业", scope: str = "软件开发") -> None:
        with sqlite3.connect(self.registry) as db:
            db.execute("INSERT INTO enterprise VALUES (?, ?, ?, NULL, ?, 'ACTIVE', '110102', "
                       "?, ?, ?)", (f"E-{credit_code}", credit_code, openness, name, industry,
                                    scope, now_stamp()))

    def penalty(self, agency: str, credit_code: str, *, openness: str = "OPEN",
                risk: str | None = "HIGH", record_id: str | None = None) -> str:
        record_id = record_id or f"{agency}-P{next(_SERIAL)}"
        today = dt.date.today().isoformat()
        with sqlite3.connect(self.agencies[agency]) as db:
            db.execute("INSERT INTO penalty VALUES (?, ?, ?, ?, ?, 'FINE', ?, ?)",
                       (record_id, credit_code, openness, risk, f"罚〔2026〕{record_id}号",
                        today, now_stamp()))
        return record_id

    def set_risk(self, agency: str, record_id: str, risk: str | None) -> None:
        with sqlite3.connect(self.agencies[agency]) as db:
            db.execute("UPDATE penalty SET risk_level = ?, updated_at = ? WHERE record_id = ?",
                       (risk, now_stamp(), record_id))

    def config(self, tail: str = "", name: str = "gateway.yaml") -> Path:
        """A gateway configuration over these files (platform database beside it), an
        admin and an EPB department without purposes, the change feed polling every
        0.2 s; ``tail`` is appended (``webhooks:``...)."""
        agencies = "".join(f"""  - code: {agency}
    name: {agency} agency
    kind: sql
    url: sqlite+aiosqlite:///{path}
    provides: [penalty]
""" for agency, path in self.agencies.items())
        path = self.folder / name
        path.write_text(f"""agencies:
  - code: REG
    name: 登记机关
    kind: sql
    url: sqlite+aiosqlite:///{self.registry}
    provides: [enterprise, person]
{agencies}principals:
  - id: admin-system
    key_sha256: "{h('admin-system-key')}"
    role: admin
  - id: epb-system
    key_sha256: "{h('epb-system-key')}"
    role: department
    agency: EPB
changes:
  poll_s: 0.2
{tail}""", encoding="utf-8")
        return path
