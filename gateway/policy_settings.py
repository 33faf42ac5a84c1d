"""The ``policies:`` key of the configuration: where the access policy is kept.

Example::

    policies:
      store: database   # files (default) | database
      poll_s: 2         # database: how often each replica checks the policy version

``files`` (the default): one process reads the policies folder (``--policies``) and
reloads it when a file changes. ``database``: the platform database holds the policy
(seeded from the folder at first start), it is changed with ``setFieldClass`` or
``gateway policy ...``, and every replica follows it (``gateway.policy_sync``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_POLL_S", "STORES", "PolicySettings", "parse_policies"]

STORES = ("files", "database")
MAX_POLL_S = 5.0  # with Redis down, a change arrives at most this late
_KNOWN = ("store", "poll_s")


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """Where the access policy is kept and how often replicas look for a new version."""

    store: str = "files"
    poll_s: float = 2.0

    @property
    def in_database(self) -> bool:
        return self.store == "database"


def parse_policies(raw: Any, where: str, problems: list[str]) -> PolicySettings:
    """Validate the ``policies:`` mapping; problems are appended, located by ``where``."""
    default = PolicySettings()
    if raw is None:
        return default
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping (store, poll_s)")
        return default
    for key in raw:
        if key not in _KNOWN:
            problems.append(f"{where}: unknown field {key!r} (known: {', '.join(_KNOWN)})")
    store = raw.get("store", default.store)
    if store not in STORES:
        problems.append(f"{where}: store: must be files or database, got {store!r}")
        store = default.store
    poll_s = raw.get("poll_s", default.poll_s)
    if (isinstance(poll_s, bool) or not isinstance(poll_s, int | float)
            or not 0 < poll_s <= MAX_POLL_S):
        problems.append(f"{where}: poll_s: must be a number of seconds > 0 and at most "
                        f"{MAX_POLL_S:g}, got {poll_s!r}")
        poll_s = default.poll_s
    return PolicySettings(str(store), float(poll_s))
