"""A second gateway process on a platform database, for tests (run as a script).

    platform_worker.py migrate URL SCHEMA           -> prints the versions it applied
    platform_worker.py write URL SCHEMA COUNT TAG   -> records COUNT entries, closes

SCHEMA is ``-`` for none. It prints "ready", waits for a line on stdin, then works,
so that the test can start several at the same moment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys

from gateway.platform_store.entry import AccessEntry
from gateway.platform_store.settings import PlatformSettings
from gateway.platform_store.store import open_store
from gateway.platform_store.writer import AccessLogWriter


def entry(tag: str, number: int) -> AccessEntry:
    return AccessEntry(
        at=dt.datetime.now(dt.UTC), principal=tag, role="department", agency="SAMR",
        purpose="INSPECTION", client="10.0.0.7", request_id=f"{tag}-{number}",
        operation="Enterprise", query_hash="ab" * 32, variables_hash="",
        credit_codes=(f"9111010{number:011d}",), fields={"Enterprise.name": ("OPEN",)},
        latency_ms=number / 100)


async def main(command: str, url: str, schema: str, rest: list[str]) -> None:
    store = open_store(PlatformSettings(url, None if schema == "-" else schema))
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        if command == "migrate":
            print(await store.migrate(), flush=True)
            return
        count, tag = int(rest[0]), rest[1]
        writer = AccessLogWriter(store)
        await writer.start()
        for number in range(count):
            writer.record(entry(tag, number))
            if number % 25 == 0:  # requests arrive over time, as batches are written
                await asyncio.sleep(0.002)
        await writer.aclose()
        print(writer.written, flush=True)
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
