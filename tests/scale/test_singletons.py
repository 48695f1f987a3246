"""A job every process runs is run by one at a time: PostgreSQL advisory locks.

Two :class:`Database` objects on one PostgreSQL database are two engines with their own
connections, exactly as two server processes have.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from simgate import bus
from simgate.context import Context
from simgate.dispatch.scheduler import Scheduler
from simgate.domain.guids import new_guid
from simgate.store import accounts, devices, messages
from simgate.store.database import Database
from simgate.store.locks import Job, one_at_a_time
from tests.conftest import make_settings
from tests.support.databases import PostgresFactory, SqliteFactory

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

NOW = 1_790_000_000_000


@pytest.fixture
def pg_database(postgres_factory: PostgresFactory) -> str:
    return postgres_factory.new()  # outside the test's event loop: it runs one of its own


@pytest.fixture
async def two_processes(pg_database: str) -> AsyncIterator[tuple[Context, Context]]:
    settings = make_settings(pg_database, "http://127.0.0.1")
    contexts = [
        Context(settings=settings, db=Database(pg_database), clock=lambda: NOW) for _ in range(2)
    ]
    yield contexts[0], contexts[1]
    for ctx in contexts:
        await ctx.db.dispose()


async def expired_lease(db: Database) -> tuple[int, str]:
    """A message a device took under a lease that ran out a second ago: account id, GUID."""
    guid = new_guid()
    async with db.begin() as conn:
        account_id = await accounts.create(conn, "a@example.test", "hash", NOW)
        device_id = await devices.create(
            conn,
            account_id,
            sid="d" * 16,
            label="phone",
            token_prefix="sgd_x",
            token_digest="d" * 64,
            now_ms=NOW,
        )
        await messages.insert_many(
            conn,
            [
                {
                    "guid": guid,
                    "account_id": account_id,
                    "recipient": "+32470123456",
                    "text": "hello",
                    "encoding": "GSM-7",
                    "parts": 1,
                    "channel": "sms",
                    "state": "dispatched",
                    "device_id": device_id,
                    "device_sid": "d" * 16,
                    "not_before_ms": NOW - 60_000,
                    "dispatched_ms": NOW - 60_000,
                    "lease_until_ms": NOW - 1000,
                    "created_ms": NOW - 60_000,
                    "updated_ms": NOW - 60_000,
                    "error_api": "",
                    "error_mobile": "",
                    "retries": 0,
                    "shorturl": False,
                    "encrypted": False,
                    "source": "api",
                }
            ],
        )
    return account_id, guid


async def moved(db: Database, account_id: int, guid: str) -> tuple[str, int]:
    """The message's state and the clock of the last move."""
    async with db.connect() as conn:
        row = await messages.get(conn, account_id, guid)
    assert row is not None
    return str(row["state"]), int(row["updated_ms"])


@pytest.mark.postgres
class TestSweepsTakeTurns:
    async def test_a_scheduler_waits_for_the_sweep_under_way_and_finds_its_work_done(
        self, two_processes: tuple[Context, Context]
    ) -> None:
        """Process 1 is sweeping (it holds the job and has requeued the expired lease, not yet
        committed). Process 2's tick waits for it instead of sweeping the same rows at the
        same time; once process 1 commits, process 2's sweep finds the row already moved and
        moves nothing (the row keeps process 1's time), then announces the due work."""
        first, second = two_processes
        account_id, guid = await expired_lease(first.db)
        announced: list[str] = []
        second.bus.subscribe(bus.WORK, announced.append)
        second.clock = lambda: NOW + 10
        looker = Scheduler(second)
        try:
            async with first.db.begin() as sweeping:
                await one_at_a_time(sweeping, Job.QUEUE_SWEEP)
                assert await messages.requeue_expired(sweeping, NOW + 5) == [account_id]
                tick = asyncio.create_task(looker.tick())
                await asyncio.sleep(0.5)
                assert not tick.done(), "the second sweep ran beside the first"
                assert await moved(second.db, account_id, guid) == ("dispatched", NOW - 60_000)
            await asyncio.wait_for(tick, 10)
            assert await moved(second.db, account_id, guid) == ("queued", NOW + 5)
            assert announced == [str(account_id)]
        finally:
            await looker.close()

    async def test_another_job_does_not_wait(self, two_processes: tuple[Context, Context]) -> None:
        first, second = two_processes
        async with first.db.begin() as sweeping:
            await one_at_a_time(sweeping, Job.QUEUE_SWEEP)
            async with second.db.begin() as migrating:
                await asyncio.wait_for(one_at_a_time(migrating, Job.MIGRATIONS), 2)


@pytest.fixture
def sqlite_database(sqlite_factory: SqliteFactory) -> str:
    return sqlite_factory.new()


async def test_on_sqlite_nothing_waits(sqlite_database: str) -> None:
    """One writer per SQLite file serialises the work already."""
    db = Database(sqlite_database)
    try:
        async with db.connect() as one, db.connect() as two:
            await asyncio.wait_for(one_at_a_time(one, Job.QUEUE_SWEEP), 2)
            await asyncio.wait_for(one_at_a_time(two, Job.QUEUE_SWEEP), 2)
    finally:
        await db.dispose()
