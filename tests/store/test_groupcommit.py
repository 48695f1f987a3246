"""Group commit on a real SQLite file: shared transactions, answers only after the commit,
and one bad item failing alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.errors import StoreUnavailable
from simgate.store.database import Database
from simgate.store.groupcommit import each

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


async def insert_one(conn: AsyncConnection, item: int) -> int:
    await conn.execute(text("INSERT INTO notes (id, body) VALUES (:id, 'x')"), {"id": item})
    return item * 10


insert_each = each(insert_one)


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


async def test_an_item_that_fails_is_left_out_and_the_others_commit_together(
    db: Database,
) -> None:
    await db.together(insert_each, 3)
    commits = count_commits(db)
    outcomes = await asyncio.gather(
        *(db.together(insert_each, item) for item in range(1, 9)), return_exceptions=True
    )
    assert isinstance(outcomes[2], IntegrityError)
    assert [outcome for index, outcome in enumerate(outcomes) if index != 2] == [
        10,
        20,
        40,
        50,
        60,
        70,
        80,
    ]
    assert await stored(db) == list(range(1, 9))
    # Not one transaction per item: the failing one is left out and the rest goes again.
    assert len(commits) <= 3


async def test_a_commit_that_fails_answers_every_caller_unavailable_and_stores_nothing(
    db: Database,
) -> None:
    def refuse(_conn: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(db.engine.sync_engine, "commit", refuse)
    try:
        outcomes = await asyncio.gather(
            *(db.together(insert_each, item) for item in range(1, 6)), return_exceptions=True
        )
    finally:
        event.remove(db.engine.sync_engine, "commit", refuse)
    assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes), outcomes
    assert await stored(db) == []
