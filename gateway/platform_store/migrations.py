"""Versioned migrations of the platform store: numbered, ordered, applied once.

Why not Alembic: the project adds no library beyond its stack unless a measurement
asks for it, and what the store needs is small — an ordered list of DDL functions, a
table recording which ran (``platform_migrations``), and a lock so that two gateway
processes starting at once do not both apply one. That is this module (about 100
lines), with no revision files, environment script or second configuration.

Adding a table (objections, inspection plans, policy tables...) is adding a
migration at the end of ``MIGRATIONS``: a function of a (synchronous) SQLAlchemy
``Connection`` that issues Core DDL for its own version — declare the tables it
creates in its own ``MetaData``, never import them from ``tables.py`` (which
describes the *latest* shape), then update ``tables.py``::

    def _m002_objections(conn: Connection) -> None:
        meta = sa.MetaData()
        sa.Table("objections", meta,
                 sa.Column("id", id_type(), primary_key=True),
                 sa.Column("credit_code", sa.Text, nullable=False), ...)
        meta.create_all(conn, checkfirst=False)

    MIGRATIONS = (..., Migration(2, "objections", _m002_objections))

Never edit or renumber a migration that has shipped: databases record its number.
``PlatformStore.migrate`` runs the pending ones in one transaction under the
migration lock (PostgreSQL ``pg_advisory_xact_lock``, SQLite ``BEGIN IMMEDIATE``),
so a failure leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.platform_store.tables import UtcDateTime, id_type, platform_migrations

__all__ = ["MIGRATIONS", "Migration", "MigrationError", "applied_versions", "apply_pending"]


class MigrationError(Exception):
    """The database's migrations do not match this gateway's (e.g. a newer gateway
    migrated it); the message says what to run."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: ``apply`` issues its DDL on the open transaction."""

    version: int
    name: str
    apply: Callable[[Connection], None]


def _m001_access_log(conn: Connection) -> None:
    meta = sa.MetaData()
    sa.Table(
        "access_log", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=False),
        sa.Column("at", UtcDateTime, nullable=False),
        *(sa.Column(name, sa.Text, nullable=False) for name in (
            "principal", "role", "agency", "purpose", "client", "request_id", "operation",
            "query_hash", "variables_hash", "credit_codes", "person_ids", "fields",
            "redactions", "decisions", "outcome", "refusal_code")),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Index("ix_access_log_at", "at"),
    )
    sa.Table(
        "access_log_anchors", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("entry_count", sa.BigInteger, nullable=False),
        sa.Column("head_id", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Index("ix_access_log_anchors_head_id", "head_id"),
    )
    meta.create_all(conn, checkfirst=False)


def _m002_policies(conn: Connection) -> None:
    meta = sa.MetaData()
    sa.Table(
        "policy_field_classes", meta,
        sa.Column("graph_type", sa.Text, primary_key=True),
        sa.Column("field", sa.Text, primary_key=True),
        sa.Column("openness", sa.Text, nullable=False),
    )
    sa.Table(
        "policy_rules", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        sa.Column("ptype", sa.Text, nullable=False),
        *(sa.Column(f"v{i}", sa.Text, nullable=False) for i in range(6)),
    )
    sa.Table(
        "policy_documents", meta,
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
    )
    sa.Table(
        "policy_versions", meta,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("changed_at", UtcDateTime, nullable=False),
        sa.Column("principal", sa.Text, nullable=False),
        sa.Column("change", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    meta.create_all(conn, checkfirst=False)


def _overlay(conn: Connection) -> None:
    """The platform's record overlay: its version row, added records, objections (异议)
    and credit repairs (信用修复)."""
    meta = sa.MetaData()
    version = sa.Table(
        "overlay_version", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "platform_records", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("agency", "record_type", "record_id")),
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
    sa.Table(
        "objections", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("agency", "record_type", "record_id")),
        sa.Column("credit_code", sa.Text, nullable=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("status", "reason", "filed_by", "filed_role", "filed_agency")),
        sa.Column("filed_at", UtcDateTime, nullable=False),
        sa.Column("filed_on", sa.Date, nullable=False),
        sa.Column("resolved_by", sa.Text, nullable=True),
        sa.Column("resolved_at", UtcDateTime, nullable=True),
        sa.Column("resolved_on", sa.Date, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Index("ix_objections_record", "agency", "record_id"),
        sa.Index("ix_objections_credit_code", "credit_code"),
    )
    sa.Table(
        "credit_repairs", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("agency", "record_type", "record_id")),
        sa.Column("credit_code", sa.Text, nullable=True),
        *(sa.Column(name, sa.Text, nullable=False) for name in (
            "status", "evidence", "requested_by", "requested_role", "requested_agency")),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=True),
        sa.Column("decided_at", UtcDateTime, nullable=True),
        sa.Column("repaired_on", sa.Date, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Index("ix_credit_repairs_record", "agency", "record_id"),
        sa.Index("ix_credit_repairs_credit_code", "credit_code"),
    )
    meta.create_all(conn, checkfirst=False)
    conn.execute(version.insert().values(id=1, version=0))


def _m004_inspections(conn: Connection) -> None:
    """Double-random inspections (双随机一公开): the imported roster, plans, their draws
    (with the canonical inputs that reproduce them) and the results recorded."""
    meta = sa.MetaData()
    sa.Table(
        "inspectors", meta,
        sa.Column("id", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("name", "agency", "unit", "avoid", "imported_by")),
        sa.Column("imported_at", UtcDateTime, nullable=False),
    )
    sa.Table(
        "inspection_plans", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("name", "agency", "agencies", "filter", "items")),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("inspectors_per_visit", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("published_at", UtcDateTime, nullable=True),
        sa.Column("published_by", sa.Text, nullable=True),
        sa.Index("ix_inspection_plans_agency", "agency"),
    )
    sa.Table(
        "inspection_draws", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("seed", sa.Text, nullable=False),
        sa.Column("drawn_at", UtcDateTime, nullable=False),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("drawn_by", "reason", "inputs", "items", "team")),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("inputs_digest", sa.String(64), nullable=False),
        sa.UniqueConstraint("plan_id", "seq", name="uq_inspection_draws_plan_seq"),
    )
    sa.Table(
        "inspection_results", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.BigInteger, nullable=False),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("credit_code", "agency", "record_id", "result_code", "result",
                       "openness")),
        sa.Column("risk_level", sa.Text, nullable=True),
        sa.Column("inspected_on", sa.Date, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.UniqueConstraint("plan_id", "credit_code", "agency",
                            name="uq_inspection_results_visit"),
    )
    meta.create_all(conn, checkfirst=False)


def _pushes(conn: Connection) -> None:
    """Push and claim (双告知): one item per new enterprise and agency whose licence it
    needs (unique, so a second leader cannot push it twice); and the webhook deliveries
    that failed every attempt (dead letters)."""
    meta = sa.MetaData()
    sa.Table(
        "pushed_registrations", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("credit_code", "agency", "licences", "status")),
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
    sa.Table(
        "webhook_dead_letters", meta,
        sa.Column("id", id_type(), primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.Text, nullable=False)
          for name in ("webhook_id", "event_kind", "body", "last_error", "status")),
        sa.Column("credit_code", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failed_at", UtcDateTime, nullable=False),
        sa.Column("retried_at", UtcDateTime, nullable=True),
        sa.Index("ix_webhook_dead_letters_status", "status"),
    )
    meta.create_all(conn, checkfirst=False)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "access log and its anchors", _m001_access_log),
    Migration(2, "access policy: field classes, rules, documents, versions", _m002_policies),
    Migration(3, "record overlay: added records, objections, credit repairs", _overlay),
    Migration(4, "double-random inspections: roster, plans, draws, results",
              _m004_inspections),
    Migration(5, "push and claim (双告知) items, webhook dead letters", _pushes),
)


def applied_versions(conn: Connection) -> list[int]:
    """Versions recorded in ``platform_migrations`` (empty when it does not exist)."""
    if not sa.inspect(conn).has_table("platform_migrations",
                                      schema=conn.schema_for_object(platform_migrations)):
        return []
    rows = conn.execute(sa.select(platform_migrations.c.version)
                        .order_by(platform_migrations.c.version))
    return [int(v) for v in rows.scalars()]


def apply_pending(conn: Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply, in order, the migrations the database has not recorded; return their
    versions. The caller holds the migration lock and the transaction."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migrations must be numbered 1, 2, 3... in order: {versions}")
    platform_migrations.create(conn, checkfirst=True)
    applied = applied_versions(conn)
    unknown = [v for v in applied if v not in versions]
    if unknown:
        raise MigrationError(
            f"the platform database has migration {max(unknown)}, this gateway knows only "
            f"up to {len(versions)}: run the newer gateway (or restore a backup)")
    if applied != versions[:len(applied)]:
        raise MigrationError(f"the platform database recorded migrations {applied}: "
                             f"not a prefix of 1..{len(versions)}; repair it by hand")
    done = []
    for migration in migrations[len(applied):]:
        migration.apply(conn)
        conn.execute(platform_migrations.insert().values(
            version=migration.version, name=migration.name, applied_at=dt.datetime.now(dt.UTC)))
        done.append(migration.version)
    return done
