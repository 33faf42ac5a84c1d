"""The access-log entry of a command that changes or checks the platform's state
(``gateway policy …``, ``inspectors import``, ``draw verify``, ``webhooks retry``):
the same chain as requests, the principal ``cli:<user>``, role admin."""

from __future__ import annotations

import datetime as dt
import getpass
import time
import uuid
from collections.abc import Mapping, Sequence

from gateway.platform_store.entry import AccessEntry
from gateway.platform_store.store import PlatformStore
from gateway.platform_store.writer import AccessLogWriter

__all__ = ["cli_principal", "log_cli_step"]


def cli_principal() -> str:
    """Who ran the command, as the access log names it."""
    return f"cli:{getpass.getuser()}"


async def log_cli_step(
    store: PlatformStore, operation: str, *, query_hash: str, variables_hash: str = "",
    at: dt.datetime | None = None, started: float | None = None,
    decisions: Sequence[Mapping[str, str]] = (), credit_codes: Sequence[str] = (),
    refusal_code: str = "",
) -> None:
    """Append one entry and wait until it is written. ``at`` defaults to now; ``started``
    (a ``time.perf_counter()`` reading) gives the latency; a ``refusal_code`` makes the
    outcome ``refused``."""
    writer = AccessLogWriter(store)
    await writer.start()
    try:
        writer.record(AccessEntry(
            at=at or dt.datetime.now(dt.UTC), principal=cli_principal(), role="admin",
            agency="", purpose="", client="cli", request_id=uuid.uuid4().hex,
            operation=operation, query_hash=query_hash, variables_hash=variables_hash,
            credit_codes=tuple(credit_codes), decisions=tuple(decisions),
            outcome="refused" if refusal_code else "ok", refusal_code=refusal_code,
            latency_ms=0.0 if started is None else (time.perf_counter() - started) * 1000))
    finally:
        await writer.aclose()
