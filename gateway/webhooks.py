"""Webhooks: signed POSTs with retries, and the dead letters of those that never got
through (table ``webhook_dead_letters``).

Each delivery is one POST of a JSON body with these headers::

    Content-Type:        application/json
    X-Webhook-Id:        fda-case-system          (the webhook's id)
    X-Webhook-Event:     warningChanges | registrations
    X-Webhook-Delivery:  a UUID, the same on every attempt of one delivery
    X-Webhook-Timestamp: 1764665400               (Unix seconds of this attempt)
    X-Signature-256:     sha256=<hex HMAC-SHA256, key the webhook's secret, of
                         timestamp + "." + the raw body>

The receiver recomputes the signature over the bytes it received (before parsing
them) and compares in constant time, and refuses a timestamp more than a few minutes
old, so a captured request cannot be replayed later (``verify`` below; the README
shows the same check as a standalone snippet).

An attempt fails on a transport error, a timeout or any status but 2xx. A failed
delivery is tried again after 1, 2, 4, 8 s (``attempts`` 5 in all, doubling from
``first_delay_s``); when the last fails it becomes a dead letter - the exact body,
the error, the number of attempts - listed and re-sent by ``gateway webhooks
dead-letters|retry ID`` (``gateway.webhooks_cli``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from gateway.platform_store.store import PlatformStore, describe_error
from gateway.platform_store.tables import webhook_dead_letters as letters
from gateway.webhook_settings import WebhookSpec

__all__ = ["DEAD", "DELIVERED", "SIGNATURE", "TIMESTAMP", "DeadLetter", "Delivery",
           "WebhookSender", "add_dead_letter", "dead_letters", "load_dead_letter",
           "note_retry", "sign", "verify"]

log = logging.getLogger(__name__)

DEAD, DELIVERED = "DEAD", "DELIVERED"
SIGNATURE = "X-Signature-256"
TIMESTAMP = "X-Webhook-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Signature-256`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *,
           now: float | None = None, tolerance_s: float = 300.0) -> bool:
    """A receiver's check: the signature matches and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one webhook: the body as it will be signed and sent."""

    webhook_id: str
    event: str  # warningChanges | registrations
    body: bytes
    credit_code: str | None = None
    id: str = ""  # X-Webhook-Delivery (a new UUID when empty)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    webhook_id: str
    event: str
    body: bytes
    credit_code: str | None
    attempts: int
    last_error: str
    status: str
    failed_at: dt.datetime
    retried_at: dt.datetime | None


class WebhookSender:
    """POSTs deliveries with retries; what never gets through goes to ``store``'s dead
    letters (logged only, without a store)."""

    def __init__(self, client: httpx.AsyncClient, store: PlatformStore | None, *,
                 attempts: int = 5, first_delay_s: float = 1.0, max_delay_s: float = 60.0,
                 timeout_s: float = 10.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._client = client
        self._store = store
        self.attempts = attempts
        self._first_delay_s = first_delay_s
        self._max_delay_s = max_delay_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._sleep = sleep

    async def attempt(self, spec: WebhookSpec, delivery: Delivery) -> str | None:
        """One signed POST; the error (``HTTP 503``, ``ConnectError: ...``) or None."""
        timestamp = str(int(self._clock()))
        headers = {"Content-Type": "application/json", "X-Webhook-Id": spec.id,
                   "X-Webhook-Event": delivery.event,
                   "X-Webhook-Delivery": delivery.id or uuid.uuid4().hex,
                   TIMESTAMP: timestamp, SIGNATURE: sign(spec.secret, timestamp, delivery.body)}
        try:
            response = await self._client.post(spec.url, content=delivery.body,
                                               headers=headers, timeout=self._timeout_s)
        except httpx.HTTPError as error:
            detail = str(error)
            return (f"{type(error).__name__}: {detail}" if detail
                    else type(error).__name__)[:300]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def send(self, spec: WebhookSpec, delivery: Delivery) -> tuple[int, str | None]:
        """Every attempt until one succeeds: (attempts made, the last error or None)."""
        delivery = delivery if delivery.id else _with_id(delivery)
        delay = self._first_delay_s
        error: str | None = None
        for number in range(1, self.attempts + 1):
            error = await self.attempt(spec, delivery)
            if error is None:
                return number, None
            log.warning("webhook %s: %s delivery failed (attempt %d of %d): %s", spec.id,
                        delivery.event, number, self.attempts, error)
            if number < self.attempts:
                await self._sleep(delay)
                delay = min(delay * 2, self._max_delay_s)
        return self.attempts, error

    async def deliver(self, spec: WebhookSpec, delivery: Delivery) -> bool:
        """``send``, then a dead letter when every attempt failed; True when delivered."""
        attempts, error = await self.send(spec, delivery)
        if error is None:
            return True
        log.error("webhook %s: %s delivery failed %d times (%s); kept as a dead letter",
                  spec.id, delivery.event, attempts, error)
        if self._store is not None:
            try:
                await add_dead_letter(self._store, delivery, attempts, error,
                                      dt.datetime.now(dt.UTC))
            except Exception as failure:  # the database is away too: the body is logged
                log.error("webhook %s: dead letter not kept (%s); body: %s", spec.id,
                          describe_error(failure), delivery.body.decode("utf-8", "replace"))
        return False


def _with_id(delivery: Delivery) -> Delivery:
    return Delivery(delivery.webhook_id, delivery.event, delivery.body, delivery.credit_code,
                    uuid.uuid4().hex)


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(int(row.id), row.webhook_id, row.event_kind, row.body.encode("utf-8"),
                      row.credit_code, int(row.attempts), row.last_error, row.status,
                      row.failed_at, row.retried_at)


async def add_dead_letter(store: PlatformStore, delivery: Delivery, attempts: int,
                          error: str, at: dt.datetime) -> int:
    async with store.transaction() as conn:
        result = await conn.execute(letters.insert().values(
            webhook_id=delivery.webhook_id, event_kind=delivery.event,
            body=delivery.body.decode("utf-8"), last_error=error, status=DEAD,
            credit_code=delivery.credit_code, attempts=attempts, failed_at=at
        ).returning(letters.c.id))
        return int(result.scalar_one())


async def dead_letters(store: PlatformStore, status: str | None = DEAD) -> list[DeadLetter]:
    query = sa.select(letters).order_by(letters.c.id)
    if status is not None:
        query = query.where(letters.c.status == status)
    async with store.engine.connect() as conn:
        return [_letter(row) for row in await conn.execute(query)]


async def load_dead_letter(store: PlatformStore, letter_id: int) -> DeadLetter | None:
    async with store.engine.connect() as conn:
        row = (await conn.execute(sa.select(letters).where(letters.c.id == letter_id))).first()
    return None if row is None else _letter(row)


async def note_retry(store: PlatformStore, letter_id: int, attempts: int, error: str | None,
                     at: dt.datetime) -> None:
    """Record a retry of a dead letter: DELIVERED, or still DEAD with the new error."""
    values: dict[str, Any] = {"retried_at": at, "attempts": letters.c.attempts + attempts}
    if error is None:
        values["status"] = DELIVERED
    else:
        values["last_error"] = error
    async with store.transaction() as conn:
        await conn.execute(letters.update().where(letters.c.id == letter_id).values(**values))
