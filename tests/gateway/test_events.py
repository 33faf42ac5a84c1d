"""The event contract (gateway.events): JSON both ways, what is refused, and a bus
whose listeners and subscriptions each get every event once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from gateway.events import (
    EventBus,
    Registered,
    WarningChanged,
    event_from_json,
    event_to_json,
)

AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
CHANGED = WarningChanged("91110102MA00000019", "北京甲餐饮有限公司", None, "餐饮业", "NONE",
                         "ORANGE", ("SINGLE_AGENCY_HIGH_RISK",), ("SAMR",), AT)
NEW = Registered("91110102MA00000027", "北京乙科技有限公司", "110102", None, None, None, AT)


def test_events_survive_json() -> None:
    for event in (CHANGED, NEW,
                  Registered(NEW.credit_code, NEW.name, None, None, "软件开发",
                             dt.date(2026, 11, 30), AT)):
        text = event_to_json(event)
        assert event_from_json(text) == event
        assert "北京" in text  # Chinese names as they are, not escaped


def test_times_are_read_as_utc() -> None:
    body = json.loads(event_to_json(NEW))
    body["at"] = "2026-12-01T17:00:00+08:00"
    assert event_from_json(json.dumps(body)).at == AT


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "Deleted"}, "unknown event kind"),
    ({"to_level": "PURPLE"}, "unknown warning level"),
    ({"reasons": "CROSS_AGENCY"}, "reasons must be a list"),
    ({"name": None}, "name must be a string"),
])
def test_malformed_events_are_refused(change: dict[str, object], message: str) -> None:
    body = {**json.loads(event_to_json(CHANGED)), **change}
    with pytest.raises(ValueError, match=message):
        event_from_json(json.dumps(body))


def test_every_listener_gets_each_event_once_and_a_failing_one_harms_none() -> None:
    async def run() -> None:
        bus = EventBus()
        heard: list[object] = []

        def broken(event: object) -> None:
            raise RuntimeError("a listener's bug")

        bus.add_listener(broken)
        remove = bus.add_listener(heard.append)
        first, second = bus.subscribe(), bus.subscribe()
        await bus.publish(CHANGED)
        await bus.publish(NEW)
        assert heard == [CHANGED, NEW]
        for subscription in (first, second):
            assert [await anext(subscription), await anext(subscription)] == [CHANGED, NEW]
        remove()
        second.close()
        await bus.publish(CHANGED)
        assert heard == [CHANGED, NEW]
        assert await anext(first) == CHANGED
        await bus.aclose()

    asyncio.run(run())
