"""The demo's callers: one principal per role, with well-known keys.

These keys are printed in the README so a newcomer can try each role in
GraphiQL's headers pane. They are for the demo only: a real deployment makes its
own with ``gateway keys new`` and keeps only their hashes in its configuration.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["DEMO_ENTERPRISES", "DEMO_KEYS", "demo_key_hashes", "demo_principals"]

APPROVAL_PURPOSES = ["LICENCE_APPROVAL", "PROCUREMENT", "BIDDING", "SUBSIDY", "HONOUR"]

# principal id -> (key, role, agency, purposes)
DEMO_KEYS: dict[str, tuple[str, str, str | None, list[str]]] = {
    "demo-samr-department": ("demo-department-key", "department", "SAMR",
                             ["INSPECTION", "CASE_HANDLING", "STATISTICS"]),
    # SAMR's supervisor (督办): the pushed registrations SAMR's departments did not claim
    "demo-samr-supervisor": ("demo-supervisor-key", "supervisor", "SAMR", ["INSPECTION"]),
    "demo-approval-system": ("demo-approval-key", "approval", None, APPROVAL_PURPOSES),
    "demo-auditor": ("demo-auditor-key", "auditor", None, ["AUDIT", "STATISTICS"]),
    "demo-admin": ("demo-admin-key", "admin", None,
                   ["INSPECTION", "CASE_HANDLING", "LICENCE_APPROVAL", "PROCUREMENT", "BIDDING",
                    "SUBSIDY", "HONOUR", "CREDIT_REPAIR", "STATISTICS",
                    "AUDIT"]),
}


# enterprise principal id -> (key, the credit code it is bound to): the demo's showcase
# enterprise (gateway.demo.generate: the same code on any day), for its objections and
# credit repairs (异议 · 信用修复)
DEMO_ENTERPRISES: dict[str, tuple[str, str]] = {
    "demo-enterprise": ("demo-enterprise-key", "91110102U7JM5YDH5H"),
}


def demo_key_hashes() -> frozenset[str]:
    """The SHA-256 of every demo key: accepted only from this machine unless the
    gateway is started with ``--demo-keys-anywhere`` (``gateway.loopback_keys``)."""
    keys = [key for key, *_ in DEMO_KEYS.values()] + [k for k, _ in DEMO_ENTERPRISES.values()]
    return frozenset(hashlib.sha256(key.encode()).hexdigest() for key in keys)


def demo_principals() -> list[dict[str, Any]]:
    """The ``principals:`` section of the demo configuration."""
    principals = []
    for principal_id, (key, role, agency, purposes) in DEMO_KEYS.items():
        entry: dict[str, Any] = {
            "id": principal_id,
            "key_sha256": hashlib.sha256(key.encode()).hexdigest(),
            "role": role,
        }
        if agency:
            entry["agency"] = agency
        entry["purposes"] = purposes
        principals.append(entry)
    for principal_id, (key, credit_code) in DEMO_ENTERPRISES.items():
        principals.append({"id": principal_id,
                           "key_sha256": hashlib.sha256(key.encode()).hexdigest(),
                           "role": "enterprise", "credit_code": credit_code, "purposes": []})
    return principals
