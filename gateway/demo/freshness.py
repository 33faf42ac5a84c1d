"""How long a generated demo stays valid, and why one is stale.

The demo's dates are counted back from the day it was generated (its stamp's
``as_of``), while the gateway answers for today. A few days apart nothing changes
that matters; across 1 January the record cycle turns and the demo's current
records become history. So the bundled demo is regenerated when it is
``DEMO_VALIDITY`` old or older, or was generated in an earlier calendar year,
whichever comes first (``gateway.demo_mode.prepare_demo``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

__all__ = ["DEMO_VALIDITY", "stale_reason"]

DEMO_VALIDITY = dt.timedelta(days=7)


def stale_reason(stamp: Mapping[str, Any], today: dt.date) -> str | None:
    """Why the demo of ``stamp`` is stale on ``today`` (one short clause), or ``None``
    while it is valid."""
    try:
        generated = dt.date.fromisoformat(str(stamp.get("as_of")))
    except ValueError:
        return "its stamp has no generation day"
    if generated > today:
        return f"it was generated on {generated}, after today ({today})"
    if generated.year != today.year:
        return f"it was generated in {generated.year} and the record cycle is now {today.year}"
    if today - generated >= DEMO_VALIDITY:
        return (f"it was generated on {generated}, {(today - generated).days} days ago "
                f"(valid for {DEMO_VALIDITY.days})")
    return None
