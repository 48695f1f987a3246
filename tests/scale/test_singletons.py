"""Jobs every process would run are run by one at a time: PostgreSQL advisory locks.

Two :class:`Database` objects on one PostgreSQL database are two engines with their own
connections, exactly as two server processes have.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from simgate import bus
from simgate.context import Context
from simgate.dispatch.scheduler import SKIPPED_RETRY, Scheduler
from simgate.domain.guids import new_guid
from simgate.store import accounts, devices, messages
from simgate.store.database import Database
from simgate.store.locks import Job, run_once
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


async def expired_lease(db: Database) -> str:
    """A message a device took under a lease that ran out a second ago; its GUID."""
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
    return guid


async def state_of(db: Database, guid: str) -> str:
    async with db.connect() as conn:
        [(found, _device)] = (await messages.holders(conn, [guid])).values()
    return found


@pytest.mark.postgres
class TestAdvisoryLock:
    async def test_one_transaction_at_a_time_runs_a_job_and_the_lock_ends_with_it(
        self, two_processes: tuple[Context, Context]
    ) -> None:
        first, second = two_processes
        async with first.db.begin() as holding:
            assert await run_once(holding, Job.QUEUE_SWEEP)
            async with second.db.begin() as other:
                assert not await run_once(other, Job.QUEUE_SWEEP)
                # Another job's lock is another key.
                assert await run_once(other, Job.MIGRATIONS)
        async with second.db.begin() as other:
            assert await run_once(other, Job.QUEUE_SWEEP)

    async def test_a_scheduler_leaves_the_sweep_to_the_process_doing_it(
        self, two_processes: tuple[Context, Context]
    ) -> None:
        """While another process sweeps, this one's look requeues nothing and looks again
        shortly; the next look, with the lock free, returns the expired lease to the queue
        and announces the work (to every process, through the bus)."""
        first, second = two_processes
        guid = await expired_lease(first.db)
        announced: list[str] = []
        second.bus.subscribe(bus.WORK, announced.append)
        looker = Scheduler(second)
        try:
            async with first.db.begin() as holding:
                assert await run_once(holding, Job.QUEUE_SWEEP)
                delay = await looker.tick()
                assert await state_of(second.db, guid) == "dispatched"
                assert delay >= SKIPPED_RETRY
                assert announced == []
            await looker.tick()
            assert await state_of(second.db, guid) == "queued"
            assert len(announced) == 1
        finally:
            await looker.close()


@pytest.fixture
def sqlite_database(sqlite_factory: SqliteFactory) -> str:
    return sqlite_factory.new()


async def test_on_sqlite_every_job_may_always_run(sqlite_database: str) -> None:
    """One process per SQLite file: nothing to coordinate with."""
    db = Database(sqlite_database)
    try:
        async with db.begin() as one, db.connect() as two:
            assert await run_once(one, Job.QUEUE_SWEEP)
            assert await run_once(two, Job.QUEUE_SWEEP)
    finally:
        await db.dispose()
