"""Webhooks' signed POSTs against a real receiver on 127.0.0.1: the README's snippet
verifies them; a failing receiver gets five attempts with doubling delays, then the
delivery is a dead letter that ``gateway webhooks dead-letters|retry`` lists and sends
again; and the configuration key ``webhooks:`` is checked at start."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from webhook_receiver import Receiver, documented_verification

from conftest import ServerThread, h
from gateway.cli import main
from gateway.config import ConfigError, load_config
from gateway.platform_store.store import open_store
from gateway.webhook_settings import WebhookSpec
from gateway.webhooks import DEAD, Delivery, WebhookSender, dead_letters, sign, verify

SECRET = "s3cret-for-the-fda-case-system"
CODE = "91110102MA0000001X"


def spec(url: str, secret: str = SECRET) -> WebhookSpec:
    return WebhookSpec("fda-cases", url, "fda-system", ("warningChanges",), {}, "", secret)


def delivery(body: dict[str, Any] | None = None) -> Delivery:
    data = body or {"creditCode": CODE, "from": "NONE", "to": "RED"}
    return Delivery("fda-cases", "warningChanges",
                    json.dumps({"webhook": "fda-cases", "event": "warningChanges",
                                "data": data}, ensure_ascii=False).encode(), CODE)


def test_a_delivery_is_signed_so_that_the_documented_snippet_verifies_it(
        serve: Callable[..., ServerThread]) -> None:
    receiver = Receiver()
    url = serve(receiver.app).url + "/hook"
    verified = documented_verification()

    async def send() -> None:
        async with httpx.AsyncClient() as client:
            assert await WebhookSender(client, None).deliver(spec(url), delivery(
                {"creditCode": CODE, "name": "北京甲餐饮有限公司", "to": "RED"}))
            # an attempt signed long ago is refused by the snippet (replay)
            stale = WebhookSender(client, None, clock=lambda: time.time() - 3600)
            assert await stale.deliver(spec(url), delivery())

    asyncio.run(send())
    fresh, stale = receiver.received
    assert fresh.headers["content-type"] == "application/json"
    assert fresh.headers["x-webhook-event"] == "warningChanges"
    assert fresh.headers["x-webhook-id"] == "fda-cases"
    assert json.loads(fresh.body)["data"]["name"] == "北京甲餐饮有限公司"
    secret = SECRET.encode()
    assert verified(secret, fresh.headers, fresh.body)
    assert fresh.headers["x-signature-256"] == sign(
        SECRET, fresh.headers["x-webhook-timestamp"], fresh.body)
    assert verify(SECRET, fresh.headers["x-webhook-timestamp"], fresh.body,
                  fresh.headers["x-signature-256"])
    # the body, the secret, the timestamp: change any and it fails
    assert not verified(secret, fresh.headers, fresh.body.replace(b"RED", b"YEL"))
    assert not verified(b"another-secret-of-16-chars", fresh.headers, fresh.body)
    moved = {**fresh.headers, "X-Webhook-Timestamp": str(
        int(fresh.headers["x-webhook-timestamp"]) + 1),
        "X-Signature-256": fresh.headers["x-signature-256"]}
    assert not verified(secret, moved, fresh.body)
    assert not verified(secret, stale.headers, stale.body)


@pytest.fixture
def webhook_config(user_agencies: dict[str, Any]) -> tuple[Path, Receiver]:
    return user_agencies["config"], Receiver()


def _configure(path: Path, url: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"""  - id: fda-system
    key_sha256: "{h('fda-system-key')}"
    role: department
    agency: EPB
webhooks:
  - id: fda-cases
    url: {url}
    secret: {SECRET}
    principal: fda-system
    events: [warningChanges]
""", encoding="utf-8")


def test_a_failing_receiver_gets_five_attempts_then_a_dead_letter_that_can_be_retried(
        webhook_config: tuple[Path, Receiver], serve: Callable[..., ServerThread],
        capsys: pytest.CaptureFixture[str]) -> None:
    path, receiver = webhook_config
    url = serve(receiver.app).url + "/hook"
    _configure(path, url)
    config = load_config(path)
    receiver.status = 503
    waited: list[float] = []

    async def no_wait(seconds: float) -> None:
        waited.append(seconds)

    async def fail() -> list[Any]:
        store = open_store(config.platform)
        try:
            await store.migrate()
            async with httpx.AsyncClient() as client:
                sender = WebhookSender(client, store, sleep=no_wait)
                assert not await sender.deliver(config.webhooks[0], delivery())
            return await dead_letters(store)
        finally:
            await store.aclose()

    letters = asyncio.run(fail())
    # five attempts, 1-2-4-8 s apart, of one delivery (one X-Webhook-Delivery)
    assert len(receiver.received) == 5
    assert waited == [1.0, 2.0, 4.0, 8.0]
    assert len({r.headers["x-webhook-delivery"] for r in receiver.received}) == 1
    [letter] = letters
    assert (letter.webhook_id, letter.event, letter.credit_code, letter.attempts,
            letter.last_error, letter.status) == (
        "fda-cases", "warningChanges", CODE, 5, "HTTP 503", DEAD)
    assert letter.body == receiver.received[0].body
    # the CLI lists it ...
    assert main(["webhooks", "dead-letters", "--config", str(path)]) == 0
    listed = capsys.readouterr().out
    assert f"{letter.id}  fda-cases  warningChanges  {CODE}  5 attempts" in listed
    assert "HTTP 503" in listed
    # ... a retry while the receiver still fails keeps it dead (exit 1) ...
    assert main(["webhooks", "retry", str(letter.id), "--config", str(path),
                 "--attempts", "1"]) == 1
    # ... and once it answers, the same body arrives, signed afresh
    receiver.status = 200
    assert main(["webhooks", "retry", str(letter.id), "--config", str(path)]) == 0
    assert "delivered to fda-cases" in capsys.readouterr().out
    last = receiver.received[-1]
    assert last.body == letter.body
    assert documented_verification()(SECRET.encode(), last.headers, last.body)
    assert main(["webhooks", "dead-letters", "--config", str(path)]) == 0
    assert "no dead letters waiting" in capsys.readouterr().out
    assert main(["webhooks", "retry", str(letter.id), "--config", str(path)]) == 2
    assert "delivered already" in capsys.readouterr().err
    assert main(["webhooks", "retry", "999", "--config", str(path)]) == 2
    with sqlite3.connect(path.parent / "platform.db") as db:
        rows = db.execute("SELECT outcome, refusal_code, credit_codes FROM access_log "
                          "WHERE operation = 'webhook retry' ORDER BY id").fetchall()
        status, attempts = db.execute("SELECT status, attempts FROM webhook_dead_letters"
                                      ).fetchone()
    assert rows == [("refused", "WEBHOOK_UNDELIVERED", f'["{CODE}"]'),
                    ("ok", "", f'["{CODE}"]')]
    assert (status, attempts) == ("DELIVERED", 7)


@pytest.mark.parametrize(("webhook", "expected"), [
    ("{id: w, url: 'ftp://x', secret: " + SECRET + ", principal: fda-system, "
     "events: [warningChanges]}", "webhooks[1] (w): url: an http:// or https:// URL"),
    ("{id: w, url: 'http://x/h', secret: short, principal: fda-system, "
     "events: [warningChanges]}", "webhooks[1] (w): secret: secret must be at least 16"),
    ("{id: w, url: 'http://x/h', secret_env: NO_SUCH_WEBHOOK_SECRET, principal: fda-system, "
     "events: [warningChanges]}",
     "webhooks[1] (w): secret_env: environment variable NO_SUCH_WEBHOOK_SECRET is not set"),
    ("{id: w, url: 'http://x/h', secret: " + SECRET + ", principal: nobody, "
     "events: [warningChanges]}", "webhooks[1] (w): principal: 'nobody' is not a principal"),
    ("{id: w, url: 'http://x/h', secret: " + SECRET + ", principal: test-admin, "
     "events: [registrations]}", "webhooks[1] (w): events: registrations needs a principal "
     "bound to an agency"),
    ("{id: w, url: 'http://x/h', secret: " + SECRET + ", principal: fda-system, "
     "events: [warnings]}", "webhooks[1] (w): events: a non-empty list"),
    ("{id: w, url: 'http://x/h', secret: " + SECRET + ", principal: fda-system, "
     "events: [registrations], filter: {minLevel: RED}}",
     "webhooks[1] (w): filter.minLevel: applies only to warningChanges"),
    ("{id: w, url: 'http://x/h', secret: " + SECRET + ", principal: fda-system, "
     "events: [warningChanges], filter: {agency: NOPE}}",
     "webhooks[1] (w): filter.agency: 'NOPE' is not an agency of this configuration"),
    ("{id: w, url: 'http://x/h', secret: " + SECRET + ", principal: fda-system, "
     "purpose: AUDIT, events: [warningChanges]}",
     "webhooks[1] (w): purpose: 'AUDIT' is not one of fda-system's purposes"),
])
def test_a_bad_webhook_stops_the_start_naming_it_and_the_field(
        user_agencies: dict[str, Any], webhook: str, expected: str) -> None:
    path: Path = user_agencies["config"]
    _configure(path, "http://127.0.0.1:9/hook")
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("webhooks:")] + f"webhooks:\n  - {webhook}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert any(p.startswith(f"agencies.yaml: {expected}") for p in raised.value.problems), \
        raised.value.problems
