"""The opt-out list in the store, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from simgate.store import accounts, optouts
from simgate.store.database import Database

pytestmark = pytest.mark.anyio

NOW = 1_790_000_000_000


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _account(db: Database, email: str) -> int:
    async with db.begin() as conn:
        return await accounts.create(conn, email, "hash", NOW)


class TestOptOutStore:
    async def test_add_is_idempotent_and_remove_says_whether_it_removed(self, db: Database) -> None:
        account = await _account(db, "a@example.test")
        async with db.begin() as conn:
            assert await optouts.add(conn, account, "+32470123456", source="cli", created_ms=NOW)
            assert not await optouts.add(
                conn, account, "+32470123456", source="keyword", created_ms=NOW + 1
            )
            [row] = await optouts.list_for_account(conn, account)
            assert (row["source"], row["created_ms"]) == ("cli", NOW)
            assert await optouts.remove(conn, account, "+32470123456")
            assert not await optouts.remove(conn, account, "+32470123456")
            assert await optouts.list_for_account(conn, account) == []

    async def test_the_lookup_takes_any_number_of_numbers_in_one_statement(
        self, db: Database
    ) -> None:
        """Far past the ~32 000 bound values either engine accepts in one statement."""
        account = await _account(db, "a@example.test")
        other = await _account(db, "b@example.test")
        numbers = [f"+3247{index:07d}" for index in range(40_000)]
        async with db.begin() as conn:
            for number in numbers[::1000]:
                await optouts.add(conn, account, number, source="cli", created_ms=NOW)
            await optouts.add(conn, other, numbers[1], source="cli", created_ms=NOW)
            assert await optouts.opted_out(conn, account, numbers) == set(numbers[::1000])
            assert await optouts.opted_out(conn, other, numbers) == {numbers[1]}
            assert await optouts.opted_out(conn, account, []) == set()
            assert await optouts.opted_out(conn, account, ["MyBank", "+1"]) == set()
