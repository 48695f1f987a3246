"""Group commit on a real SQLite file: shared transactions, answers only after the commit,
and one bad item failing alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.database import Database

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'group.db'}")
    async with database.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    yield database
    await database.dispose()


async def insert(conn: AsyncConnection, items: Sequence[int]) -> list[int]:
    for item in items:
        await conn.execute(text("INSERT INTO notes (id, body) VALUES (:id, 'x')"), {"id": item})
    return [item * 10 for item in items]


async def stored(db: Database) -> list[int]:
    async with db.connect() as conn:
        return [int(row[0]) for row in await conn.execute(text("SELECT id FROM notes ORDER BY id"))]


def count_commits(db: Database) -> list[int]:
    commits: list[int] = []
    event.listen(db.engine.sync_engine, "commit", lambda _conn: commits.append(1))
    return commits


async def test_concurrent_callers_share_commits_and_each_gets_its_own_result(db: Database) -> None:
    commits = count_commits(db)

    async def one(item: int) -> int:
        result = await db.together(insert, item)
        # Answered only once the row is committed: another connection sees it.
        assert item in await stored(db)
        return result

    results = await asyncio.gather(*(one(item) for item in range(1, 41)))
    assert results == [item * 10 for item in range(1, 41)]
    assert await stored(db) == list(range(1, 41))
    assert 1 <= len(commits) <= 5


async def test_a_bad_item_fails_alone_and_the_rest_of_its_batch_commits(db: Database) -> None:
    await db.together(insert, 7)
    outcomes = await asyncio.gather(
        *(db.together(insert, item) for item in (5, 6, 7, 8)), return_exceptions=True
    )
    assert outcomes[:2] == [50, 60]
    assert outcomes[3] == 80
    assert isinstance(outcomes[2], IntegrityError)
    assert await stored(db) == [5, 6, 7, 8]


async def test_a_caller_that_gives_up_does_not_take_the_commit_down(db: Database) -> None:
    waiting = [asyncio.create_task(db.together(insert, item)) for item in (1, 2, 3)]
    await asyncio.sleep(0)
    waiting[1].cancel()
    done = await asyncio.gather(*waiting, return_exceptions=True)
    assert done[0] == 10
    assert done[2] == 30
    await db.dispose()  # drains what is still pending
    reopened = Database(db.url)
    try:
        assert await stored(reopened) == [1, 2, 3]
    finally:
        await reopened.dispose()
