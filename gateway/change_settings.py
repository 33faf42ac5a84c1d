"""The ``changes:`` key of the configuration: whether and how often the gateway polls
the agencies for changes (the change feed behind ``warningChanges`` and
``registrations``, ``gateway.change_feed``)::

    changes:
      poll_s: 1          # ask every agency for its changes every second (default: off)
      lock_ttl_s: 5      # the leader's lock lives this long unless renewed (every third of it)
      reconcile_s: 3600  # compare every source whole this often (deletions; default 1 h)

Off by default: polling is load on every agency, which an operator turns on when
somebody listens (the demo does, with ``poll_s: 1``). With Redis one replica of the
cluster polls (the leader); another takes over within ``lock_ttl_s`` when it stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ChangeSettings", "parse_changes"]

_FIELDS = {"poll_s": (0.05, 3600.0), "lock_ttl_s": (1.0, 300.0), "reconcile_s": (10.0, 86400.0)}


@dataclass(frozen=True, slots=True)
class ChangeSettings:
    """``poll_s`` None: the change feed is off."""

    poll_s: float | None = None
    lock_ttl_s: float = 5.0
    reconcile_s: float = 3600.0

    @property
    def enabled(self) -> bool:
        return self.poll_s is not None


def parse_changes(raw: Any, where: str, problems: list[str]) -> ChangeSettings:
    """The settings of ``raw`` (the ``changes:`` value); problems are appended, each
    naming the field (``gateway.yaml: changes: poll_s: must be a number ...``)."""
    if raw is None:
        return ChangeSettings()
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping such as {{poll_s: 1}}")
        return ChangeSettings()
    values: dict[str, float] = {}
    for key, value in raw.items():
        if key not in _FIELDS:
            problems.append(f"{where}: unknown field {key!r} (known: {', '.join(_FIELDS)})")
            continue
        low, high = _FIELDS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                low <= value <= high):
            problems.append(f"{where}: {key}: must be a number of seconds from {low:g} "
                            f"to {high:g}; got {value!r}")
            continue
        values[key] = float(value)
    return ChangeSettings(values.get("poll_s"), values.get("lock_ttl_s", 5.0),
                          values.get("reconcile_s", 3600.0))
