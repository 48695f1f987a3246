"""Heartbeats of many phones cost one statement per flush, not one write per phone.

10 000 connected phones answering pings would otherwise be hundreds of write transactions a
second on SQLite's one write lock. Frames are noted in memory and written together.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import RowMapping

from simgate.store import devices as device_store
from tests.support.handphone import Phone, connected
from tests.support.server import Account, LiveServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PHONES = 12
FRAMES_EACH = 6


class DeviceUpdates:
    """Counts the UPDATE statements on the devices table as the server executes them."""

    def __init__(self, server: LiveServer) -> None:
        self.count = 0
        self.rows = 0
        self._lock = threading.Lock()
        self._engine = server.ctx.db.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(
        self, _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        if " ".join(statement.split()).upper().startswith("UPDATE DEVICES"):
            with self._lock:
                self.count += 1
                self.rows += len(params) if many else 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


def rows(server: LiveServer, account: Account) -> dict[str, RowMapping]:
    async def read() -> dict[str, RowMapping]:
        async with server.ctx.db.connect() as conn:
            found = await device_store.list_for_account(conn, account.id)
        return {str(row["sid"]): row for row in found}

    return server.call(read())


async def chatter(phone: Phone, battery: int) -> None:
    """A phone that reports its status once and pings the server a few times."""
    await phone.send({"type": "status", "battery": battery, "signal": 3})
    for _ in range(FRAMES_EACH - 1):
        await asyncio.sleep(0.25)
        await phone.send({"type": "ping"})


@pytest.fixture
def flushing_server(shared_servers: Callable[..., LiveServer], engine: str) -> LiveServer:
    """A server on each engine that writes heartbeats every 0.5 s (made outside the test's
    event loop: the PostgreSQL template database is cloned synchronously)."""
    return shared_servers(engine=engine, last_seen_flush_seconds=0.5)


class TestHeartbeatBatching:
    async def test_many_phones_heartbeats_share_statements_and_last_seen_advances(
        self, flushing_server: LiveServer
    ) -> None:
        server = flushing_server
        account = server.create_account()
        paired = [server.add_device(account, label=f"phone {n}") for n in range(PHONES)]
        async with AsyncExitStack() as stack:
            phones = [await stack.enter_async_context(connected(server, p.token)) for p in paired]
            before = rows(server, account)
            await asyncio.sleep(0.01)  # last_seen is in ms: let the clock move on
            counter = DeviceUpdates(server)
            try:
                await asyncio.gather(*(chatter(phone, 40 + n) for n, phone in enumerate(phones)))
                await asyncio.sleep(1.2)  # two flush periods
            finally:
                counter.close()
            after = rows(server, account)
        frames = PHONES * FRAMES_EACH
        # ~1.25 s of chatter and 1.2 s of waiting at one flush per 0.5 s: a handful of
        # statements for 72 frames, each one covering many devices.
        assert counter.count <= 7, counter.count
        assert counter.rows >= PHONES
        assert counter.count < frames // 4
        for n, phone in enumerate(paired):
            assert after[phone.sid]["last_seen_ms"] > before[phone.sid]["last_seen_ms"]
            assert after[phone.sid]["battery"] == 40 + n
            assert after[phone.sid]["signal"] == 3

    async def test_the_device_list_shows_a_status_not_written_yet(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        """The write waits for the next flush; this process's list shows the note at once."""
        server = shared_servers(last_seen_flush_seconds=60)
        account = server.create_account()
        paired = server.add_device(account)
        async with connected(server, paired.token) as phone:
            await phone.send({"type": "status", "battery": 12, "signal": 1, "charging": True})
            await phone.send({"type": "ping"})
            await phone.next("pong")  # frames are handled in order: the status is noted
            assert rows(server, account)[paired.sid]["battery"] is None
            with server.client() as http:
                listing = http.get("/gateway/mobile/list/", params={"apikey": account.api_key})
            (item,) = listing.json()["items"]
            assert (item["battery"], item["signal"], item["online"]) == (12, 1, True)
