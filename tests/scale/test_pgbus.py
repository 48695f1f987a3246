"""The bus between processes on the real PostgreSQL: each ``PgBus`` below has its own listening
connection, exactly as each server process has, so what one publishes reaches the other through
the server, and cutting a connection from the server side is what a network or a restart does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
import pytest
from structlog.testing import capture_logs

from simgate import bus
from simgate.bus import InProcessBus
from simgate.config import Settings
from simgate.pgbus import (
    MAX_PAYLOAD,
    TRANSITIONS,
    LinkState,
    PgBus,
    _chunks,
    asyncpg_dsn,
    new_bus,
)
from tests.support.databases import PostgresFactory

pytestmark = [pytest.mark.postgres, pytest.mark.anyio, pytest.mark.timeout(60)]


class Heard:
    """What one subscriber got, in order, and a way to wait for it."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self._changed = asyncio.Event()

    def on(self, topic: str) -> Callable[[str], None]:
        def handler(payload: str) -> None:
            self.items.append((topic, payload))
            self._changed.set()

        return handler

    async def until(self, count: int, within: float = 5.0) -> list[tuple[str, str]]:
        async with asyncio.timeout(within):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items


@pytest.fixture
def dsn(postgres_factory: PostgresFactory) -> str:
    return asyncpg_dsn(postgres_factory.new())


@asynccontextmanager
async def running(dsn: str, name: str, **options: float) -> AsyncIterator[PgBus]:
    events = PgBus(dsn, application_name=name, **options)
    events.start()
    try:
        await asyncio.wait_for(events.listening.wait(), 10)
        yield events
    finally:
        await events.close()


async def terminate(dsn: str, pid: int) -> None:
    """Cut a listening connection from the server side, as a restart or a proxy would."""
    admin = await asyncpg.connect(dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


class TestAcrossProcesses:
    async def test_a_notification_reaches_the_other_bus_and_is_heard_once_here(
        self, dsn: str
    ) -> None:
        """Published on A: B's subscriber hears it through PostgreSQL, and A's own subscriber
        hears it exactly once (at once, not a second time when A's NOTIFY comes back)."""
        async with running(dsn, "bus-a") as a, running(dsn, "bus-b") as b:
            here, there = Heard(), Heard()
            a.subscribe(bus.WORK, here.on(bus.WORK))
            b.subscribe(bus.WORK, there.on(bus.WORK))
            a.publish(bus.WORK, "7")
            assert here.items == [(bus.WORK, "7")]  # synchronously, as on the in-process bus
            assert await there.until(1) == [(bus.WORK, "7")]
            b.publish(bus.WORK, "8")  # A's NOTIFY echo has come back to A by now, ignored
            assert await here.until(2) == [(bus.WORK, "7"), (bus.WORK, "8")]
            await asyncio.sleep(0.2)
            assert here.items == [(bus.WORK, "7"), (bus.WORK, "8")]
            assert there.items == [(bus.WORK, "7"), (bus.WORK, "8")]

    async def test_many_notifications_arrive_in_order_and_repeats_collapse(self, dsn: str) -> None:
        """A burst of 3000 publishes (a batch bigger than one NOTIFY payload) arrives in the
        order published; a notification repeated while queued travels once."""
        async with running(dsn, "bus-a") as a, running(dsn, "bus-b") as b:
            there = Heard()
            b.subscribe(bus.WORK, there.on(bus.WORK))
            for account in range(3000):
                a.publish(bus.WORK, str(account))
                a.publish(bus.WORK, str(account))  # the same fact, still queued
            got = await there.until(3000)
            assert [payload for _topic, payload in got] == [str(n) for n in range(3000)]

    async def test_deadline_and_resync_stay_in_their_process(self, dsn: str) -> None:
        """A lease deadline concerns the scheduler of the process that took the lease."""
        async with running(dsn, "bus-a") as a, running(dsn, "bus-b") as b:
            there = Heard()
            b.subscribe(bus.DEADLINE, there.on(bus.DEADLINE))
            b.subscribe(bus.WORK, there.on(bus.WORK))
            a.publish(bus.DEADLINE, "123")
            a.publish(bus.WORK, "1")  # sent after the deadline would have been
            assert await there.until(1) == [(bus.WORK, "1")]


class TestLostConnection:
    async def test_a_cut_listener_reconnects_and_tells_its_subscribers_to_look(
        self, dsn: str
    ) -> None:
        """What B misses while its connection is down is never delivered; instead B listens
        again on a new connection and publishes RESYNC to its own subscribers, once. One
        warning for the outage, one line when it is over."""
        async with (
            running(dsn, "bus-a") as a,
            running(dsn, "bus-b", backoff_first=1.0) as b,
        ):
            there = Heard()
            b.subscribe(bus.WORK, there.on(bus.WORK))
            b.subscribe(bus.RESYNC, there.on(bus.RESYNC))
            old_pid = b.backend_pid
            assert old_pid is not None
            with capture_logs() as logs:
                await terminate(dsn, old_pid)
                for _ in range(100):  # noticed by B at once: it waits out its backoff now
                    if b.state is LinkState.WAITING:
                        break
                    await asyncio.sleep(0.01)
                assert b.state is LinkState.WAITING
                a.publish(bus.WORK, "lost")
                await asyncio.sleep(0.1)  # sent and gone: nobody at B was listening
                got = await there.until(1, within=10)
                await asyncio.wait_for(b.listening.wait(), 10)
            assert got == [(bus.RESYNC, "")]
            assert b.backend_pid not in (None, old_pid)
            events = [entry["event"] for entry in logs if entry["event"].startswith("bus_")]
            assert events == ["bus_connection_lost", "bus_reconnected"]
            a.publish(bus.WORK, "after")
            assert await there.until(2) == [(bus.RESYNC, ""), (bus.WORK, "after")]

    async def test_what_a_disconnected_bus_publishes_goes_out_after_it_reconnects(
        self, dsn: str
    ) -> None:
        """Publishing never waits for the connection: it is queued and sent once back."""
        async with (
            running(dsn, "bus-a", backoff_first=1.0) as a,
            running(dsn, "bus-b") as b,
        ):
            there = Heard()
            b.subscribe(bus.WORK, there.on(bus.WORK))
            pid = a.backend_pid
            assert pid is not None
            await terminate(dsn, pid)
            for _ in range(100):
                if a.state is LinkState.WAITING:
                    break
                await asyncio.sleep(0.01)
            a.publish(bus.WORK, "queued")
            assert await there.until(1, within=10) == [(bus.WORK, "queued")]

    async def test_a_bus_closed_before_it_connected_still_sends_what_was_published(
        self, dsn: str
    ) -> None:
        """A CLI job is over in milliseconds: its bus is closed while still connecting, and
        must first deliver what the job published."""
        async with running(dsn, "bus-b") as b:
            there = Heard()
            b.subscribe(bus.DEVICE_REMOVED, there.on(bus.DEVICE_REMOVED))
            short = PgBus(dsn, application_name="cli")
            short.start()
            short.publish(bus.DEVICE_REMOVED, "42")
            await short.close()
            assert await there.until(1) == [(bus.DEVICE_REMOVED, "42")]

    async def test_an_unreachable_database_is_retried_and_logged_once(self, dsn: str) -> None:
        """A bus that cannot connect keeps trying with backoff, with one warning, and calls
        local subscribers meanwhile."""
        unreachable = dsn.rsplit("/", 1)[0] + "/simgate_no_such_database"
        events = PgBus(unreachable, backoff_first=0.05, backoff_longest=0.1)
        here = Heard()
        events.subscribe(bus.WORK, here.on(bus.WORK))
        with capture_logs() as logs:
            events.start()
            await asyncio.sleep(0.8)
            events.publish(bus.WORK, "1")
            await events.close()
        assert here.items == [(bus.WORK, "1")]
        warnings = [entry for entry in logs if entry["event"] == "bus_unavailable"]
        assert len(warnings) == 1
        assert events.state is LinkState.CLOSED


class TestChoice:
    def test_sqlite_keeps_the_in_process_bus(self) -> None:
        assert isinstance(new_bus("sqlite+aiosqlite:///./x.db"), InProcessBus)

    def test_postgresql_gets_the_listening_bus_on_the_bus_url_if_given(self) -> None:
        chosen = new_bus(
            "postgresql+asyncpg://app:secret@pgbouncer:6432/simgate",
            "postgresql+asyncpg://app:secret@db:5432/simgate",
        )
        assert isinstance(chosen, PgBus)
        assert chosen._dsn == "postgresql://app:secret@db:5432/simgate"

    def test_a_bus_url_that_is_not_postgresql_is_refused(self) -> None:
        with pytest.raises(ValueError, match="the bus needs PostgreSQL"):
            Settings(bus_url="sqlite+aiosqlite:///./x.db")


class TestStates:
    def test_every_state_but_closed_can_close_and_closed_is_final(self) -> None:
        others = [state for state in LinkState if state is not LinkState.CLOSED]
        assert all(LinkState.CLOSED in TRANSITIONS[state] for state in others)
        assert TRANSITIONS[LinkState.CLOSED] == frozenset()

    def test_an_illegal_move_is_refused(self) -> None:
        events = PgBus("postgresql://nobody@127.0.0.1/none")
        with pytest.raises(RuntimeError, match="from new to listening"):
            events._move(LinkState.LISTENING)


def test_batches_stay_under_the_payload_limit() -> None:
    lines = [f"work:{n}" for n in range(5000)]
    chunks = _chunks(lines)
    assert len(chunks) > 1
    assert all(len(chunk.encode()) <= MAX_PAYLOAD for chunk in chunks)
    assert "\n".join(chunks).split("\n") == lines
