"""Idempotency keys in the store, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from simgate.store import accounts
from simgate.store import idempotency as keys
from simgate.store.database import Database

pytestmark = pytest.mark.anyio

NOW = 1_790_000_000_000
DAY = 24 * 3600 * 1000


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _account(db: Database, email: str = "a@example.test") -> int:
    async with db.begin() as conn:
        return await accounts.create(conn, email, "hash", NOW)


async def _claim(db: Database, account: int, key: str, digest: str, now: int) -> int | None:
    async with db.begin() as conn:
        return await keys.claim(
            conn, account, key, request_digest=digest, now_ms=now, stale_before_ms=now - DAY
        )


class TestClaim:
    async def test_a_key_is_claimed_once_until_it_is_stale(self, db: Database) -> None:
        account = await _account(db)
        first = await _claim(db, account, "k", "d1", NOW)
        assert first is not None
        assert await _claim(db, account, "k", "d1", NOW + DAY - 1) is None
        # Stale: taken over in place, with the new request's digest and time.
        assert await _claim(db, account, "k", "d2", NOW + DAY + 1) == first
        async with db.connect() as conn:
            row = await keys.get(conn, account, "k")
        assert row is not None
        assert (row["request_digest"], row["created_ms"]) == ("d2", NOW + DAY + 1)

    async def test_keys_belong_to_their_account(self, db: Database) -> None:
        mine, theirs = await _account(db), await _account(db, "b@example.test")
        assert await _claim(db, mine, "k", "d", NOW) is not None
        assert await _claim(db, theirs, "k", "d", NOW) is not None
        async with db.connect() as conn:
            assert await keys.get(conn, theirs, "other") is None

    async def test_a_second_claim_waits_for_the_first_transaction_then_loses(
        self, db: Database
    ) -> None:
        """The mechanism that keeps two concurrent sends with one key from both sending."""
        account = await _account(db)
        async with db.begin() as first:
            claimed = await keys.claim(
                first, account, "k", request_digest="d", now_ms=NOW, stale_before_ms=NOW - DAY
            )
            assert claimed is not None
            second = asyncio.create_task(_claim(db, account, "k", "d", NOW))
            await asyncio.sleep(0.3)
            assert not second.done()  # blocked behind the uncommitted claim
            await keys.record_answer(first, account, claimed, status=200, response="{}")
        assert await asyncio.wait_for(second, timeout=30) is None
        async with db.connect() as conn:
            row = await keys.get(conn, account, "k")
        assert row is not None
        assert (row["status"], row["response"]) == (200, "{}")

    async def test_a_rolled_back_claim_leaves_the_key_free(self, db: Database) -> None:
        account = await _account(db)
        async with db.connect() as conn:
            assert await keys.claim(
                conn, account, "k", request_digest="d", now_ms=NOW, stale_before_ms=NOW - DAY
            )
            await conn.rollback()  # as a send that failed after claiming
        assert await _claim(db, account, "k", "d", NOW) is not None

    async def test_purge_deletes_only_keys_older_than_the_bound(self, db: Database) -> None:
        account = await _account(db)
        await _claim(db, account, "old", "d", NOW)
        await _claim(db, account, "new", "d", NOW + DAY)
        async with db.begin() as conn:
            assert await keys.purge_expired(conn, NOW + 1) == 1
        async with db.connect() as conn:
            assert await keys.get(conn, account, "old") is None
            assert await keys.get(conn, account, "new") is not None
