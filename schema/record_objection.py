"""How a record shows the platform's objection to it (异议): ``objection { status }``.

Kept apart from ``schema.objections`` (the workflow) because every record type
carries it (``schema.records``), and the records module must not depend on the
workflow's mutations.
"""

from __future__ import annotations

import enum

import strawberry

__all__ = ["ObjectionStatus", "RecordObjection"]


@strawberry.enum(description=(
    "Where an objection (异议) stands: FILED - under review by the owner agency (the "
    "record is flagged disputed meanwhile); UPHELD - the record is withdrawn from the "
    "resolution day; REJECTED - the record stands."))
class ObjectionStatus(enum.Enum):
    FILED = "FILED"
    UPHELD = "UPHELD"
    REJECTED = "REJECTED"


@strawberry.type(description="The latest objection to a record (异议), as callers who may "
                             "see the record see it.")
class RecordObjection:
    status: ObjectionStatus = strawberry.field(description="FILED, UPHELD or REJECTED.")
