"""The platform tables as they are after the last migration, for queries.

The tables are *created* by ``migrations.py`` (each migration declares the DDL of its
own version); this module only describes the current shape, and a test checks that
the two agree. Tables carry no schema: ``PlatformStore`` maps them into the
configured PostgreSQL schema (``schema_translate_map``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["UtcDateTime", "access_log", "access_log_anchors", "credit_repairs", "id_type",
           "inspection_draws", "inspection_plans", "inspection_results", "inspectors", "metadata",
           "objections", "overlay_version", "platform_migrations", "platform_records",
           "policy_documents", "policy_field_classes", "policy_rules", "policy_versions",
           "pushed_registrations", "webhook_dead_letters"]


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime: ``timestamp with time zone`` on PostgreSQL,
    ISO text on SQLite (which keeps no zone: UTC is implied). Naive values are
    refused, so an entry's time can never shift with the server's zone."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None,
                           dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: platform times are timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        if when.tzinfo is None:
            return when.replace(tzinfo=dt.UTC)
        return when.astimezone(dt.UTC)


def id_type() -> sa.types.TypeEngine[int]:
    """64-bit ids; SQLite's ``INTEGER PRIMARY KEY`` (the rowid) is 64-bit already."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


metadata = sa.MetaData()

platform_migrations = sa.Table(
    "platform_migrations", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

# One row per request; ``id`` is the chain order, assigned by the writer under the
# chain lock (never by the database). JSON columns hold canonical JSON text.
access_log = sa.Table(
    "access_log", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("principal", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("client", sa.Text, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("query_hash", sa.Text, nullable=False),
    sa.Column("variables_hash", sa.Text, nullable=False),
    sa.Column("credit_codes", sa.Text, nullable=False),  # JSON list
    sa.Column("person_ids", sa.Text, nullable=False),  # JSON list
    sa.Column("fields", sa.Text, nullable=False),  # JSON {path: [openness]}
    sa.Column("redactions", sa.Text, nullable=False),  # JSON {path: count}
    sa.Column("decisions", sa.Text, nullable=False),  # JSON [{...}]
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("refusal_code", sa.Text, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Index("ix_access_log_at", "at"),
)

# The chain's head and length at a moment: a log shorter than an anchor, or with
# another hash at the anchor's head, has lost its tail.
access_log_anchors = sa.Table(
    "access_log_anchors", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("entry_count", sa.BigInteger, nullable=False),
    sa.Column("head_id", sa.BigInteger, nullable=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Index("ix_access_log_anchors_head_id", "head_id"),
)

# The access policy when ``policies.store`` is ``database`` (gateway.policy_db): each
# field's class (GraphQL type and field names, as in fields.yaml) ...
policy_field_classes = sa.Table(
    "policy_field_classes", metadata,
    sa.Column("graph_type", sa.Text, primary_key=True),
    sa.Column("field", sa.Text, primary_key=True),
    sa.Column("openness", sa.Text, nullable=False),
)

# ... the Casbin lines as rows (as casbin's SQLAlchemy adapter keeps them: ptype "p",
# v0..v5 = role, purpose, object, openness, owner, allow|deny) ...
policy_rules = sa.Table(
    "policy_rules", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("ptype", sa.Text, nullable=False),
    *(sa.Column(f"v{i}", sa.Text, nullable=False) for i in range(6)),
)

# ... the other policy files as they were seeded (model.conf, derivation.yaml, the
# rule files) ...
policy_documents = sa.Table(
    "policy_documents", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)

# ... and one row per version: who changed what (JSON: before and after), when, why.
# The highest version is the policy in force.
policy_versions = sa.Table(
    "policy_versions", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
    sa.Column("principal", sa.Text, nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# The platform's record overlay (gateway.overlay_store, schema.overlay): one row whose
# version goes up with every change, so replicas polling it see a change ...
overlay_version = sa.Table(
    "overlay_version", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)

# ... records the platform adds for an agency (an inspection result), values as JSON ...
platform_records = sa.Table(
    "platform_records", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("record_type", sa.Text, nullable=False),
    sa.Column("record_id", sa.Text, nullable=False),
    sa.Column("credit_code", sa.Text, nullable=True),
    sa.Column("openness", sa.Text, nullable=False),
    sa.Column("risk_level", sa.Text, nullable=True),
    sa.Column("record_values", sa.Text, nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.Column("principal", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.UniqueConstraint("agency", "record_type", "record_id",
                        name="uq_platform_records_record"),
)

# ... objections (异议) to agencies' records ...
objections = sa.Table(
    "objections", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("record_type", sa.Text, nullable=False),
    sa.Column("record_id", sa.Text, nullable=False),
    sa.Column("credit_code", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("filed_by", sa.Text, nullable=False),
    sa.Column("filed_role", sa.Text, nullable=False),
    sa.Column("filed_agency", sa.Text, nullable=False),
    sa.Column("filed_at", UtcDateTime, nullable=False),
    sa.Column("filed_on", sa.Date, nullable=False),
    sa.Column("resolved_by", sa.Text, nullable=True),
    sa.Column("resolved_at", UtcDateTime, nullable=True),
    sa.Column("resolved_on", sa.Date, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Index("ix_objections_record", "agency", "record_id"),
    sa.Index("ix_objections_credit_code", "credit_code"),
)

# ... and credit repairs (信用修复).
credit_repairs = sa.Table(
    "credit_repairs", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("record_type", sa.Text, nullable=False),
    sa.Column("record_id", sa.Text, nullable=False),
    sa.Column("credit_code", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requested_role", sa.Text, nullable=False),
    sa.Column("requested_agency", sa.Text, nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("decided_by", sa.Text, nullable=True),
    sa.Column("decided_at", UtcDateTime, nullable=True),
    sa.Column("repaired_on", sa.Date, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Index("ix_credit_repairs_record", "agency", "record_id"),
    sa.Index("ix_credit_repairs_credit_code", "credit_code"),
)

# Double-random inspections (双随机一公开, gateway.inspection_store): the roster imported
# with ``gateway inspectors import`` (``avoid``: JSON list of credit codes) ...
inspectors = sa.Table(
    "inspectors", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("avoid", sa.Text, nullable=False),
    sa.Column("imported_by", sa.Text, nullable=False),
    sa.Column("imported_at", UtcDateTime, nullable=False),
)

# ... plans (agencies, filter and items as JSON; status DRAFT, DRAWN, PUBLISHED) ...
inspection_plans = sa.Table(
    "inspection_plans", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("agencies", sa.Text, nullable=False),
    sa.Column("filter", sa.Text, nullable=False),
    sa.Column("items", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("inspectors_per_visit", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("published_at", UtcDateTime, nullable=True),
    sa.Column("published_by", sa.Text, nullable=True),
    sa.Index("ix_inspection_plans_agency", "agency"),
)

# ... each draw of a plan (seq 1, then one per redraw, the highest in force) with the
# canonical inputs that reproduce it, its items and the inspectors sent (JSON, as on
# the roster then) and digests ...
inspection_draws = sa.Table(
    "inspection_draws", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("plan_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("seed", sa.Text, nullable=False),
    sa.Column("drawn_at", UtcDateTime, nullable=False),
    sa.Column("drawn_by", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("items", sa.Text, nullable=False),
    sa.Column("team", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("inputs_digest", sa.String(64), nullable=False),
    sa.UniqueConstraint("plan_id", "seq", name="uq_inspection_draws_plan_seq"),
)

# ... and the results recorded (the inspection record itself is in platform_records).
inspection_results = sa.Table(
    "inspection_results", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("plan_id", sa.BigInteger, nullable=False),
    sa.Column("credit_code", sa.Text, nullable=False),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("record_id", sa.Text, nullable=False),
    sa.Column("result_code", sa.Text, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("openness", sa.Text, nullable=False),
    sa.Column("risk_level", sa.Text, nullable=True),
    sa.Column("inspected_on", sa.Date, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.UniqueConstraint("plan_id", "credit_code", "agency",
                        name="uq_inspection_results_visit"),
)

# Push and claim (双告知, gateway.push_store): one item per new enterprise and agency
# whose licence it needs (``licences``: JSON list of the licences' names; status
# PUSHED, CLAIMED or ESCALATED; an escalated item claimed keeps its escalated_at) ...
pushed_registrations = sa.Table(
    "pushed_registrations", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("credit_code", sa.Text, nullable=False),
    sa.Column("agency", sa.Text, nullable=False),
    sa.Column("licences", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("registered_on", sa.Date, nullable=True),
    sa.Column("pushed_at", UtcDateTime, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("claimed_at", UtcDateTime, nullable=True),
    sa.Column("claimed_by", sa.Text, nullable=True),
    sa.Column("escalated_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("credit_code", "agency", name="uq_pushed_registrations_item"),
    sa.Index("ix_pushed_registrations_agency_status", "agency", "status"),
    sa.Index("ix_pushed_registrations_due", "status", "due_at"),
)

# ... and webhook deliveries that failed every attempt (gateway.webhooks): the exact
# body that was signed, status DEAD until ``gateway webhooks retry ID`` delivers it
# (DELIVERED).
webhook_dead_letters = sa.Table(
    "webhook_dead_letters", metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.Text, nullable=False),
    sa.Column("event_kind", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("credit_code", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("failed_at", UtcDateTime, nullable=False),
    sa.Column("retried_at", UtcDateTime, nullable=True),
    sa.Index("ix_webhook_dead_letters_status", "status"),
)
