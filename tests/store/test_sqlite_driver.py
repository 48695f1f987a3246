"""SQLite's one-trip driver (``simgate.store.sqlite_driver``) on a real file: every statement
answers as SQLAlchemy's own aiosqlite adapter would, in one trip to aiosqlite's thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from simgate.store.database import Database
from simgate.store.sqlite_driver import OneTripConnection

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with database.begin() as conn:
        await conn.execute(
            text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
        )
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function aiosqlite runs on its thread, in order."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_the_engine_uses_the_one_trip_driver(db: Database) -> None:
    async with db.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection, OneTripConnection)


async def test_a_write_transaction_is_one_trip_per_statement_plus_the_commit(
    db: Database, trips: list[str]
) -> None:
    async with db.begin() as conn:
        await conn.execute(text("SELECT id FROM notes WHERE body = 'a'"))
        await conn.execute(text("INSERT INTO notes (body) VALUES ('a')"))
    # SQLAlchemy's adapter made nine here: a cursor, execute, fetch and close per statement,
    # the commit, and a rollback as the connection went back to the pool.
    assert len(trips) == 3, trips
    assert trips[-1] == "commit"


async def test_a_connection_left_in_a_transaction_is_still_rolled_back(
    db: Database, trips: list[str]
) -> None:
    async with db.connect() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('never')"))
    assert trips[-1] == "rollback"
    async with db.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM notes"))).scalar() == 0


async def test_rows_counts_and_ids_come_back_as_sqlite_gives_them(db: Database) -> None:
    async with db.begin() as conn:
        inserted = await conn.execute(
            text("INSERT INTO notes (body) VALUES (:body)"), [{"body": b} for b in "abc"]
        )
        assert inserted.rowcount == 3
        single = await conn.execute(text("INSERT INTO notes (body) VALUES ('d')"))
        assert single.lastrowid == 4
        moved = await conn.execute(
            text("UPDATE notes SET body = body || '!' WHERE id <= 2 RETURNING id, body")
        )
        assert sorted(moved.all()) == [(1, "a!"), (2, "b!")]
        counted = await conn.execute(text("UPDATE notes SET body = body || '?' WHERE id > 2"))
        assert counted.rowcount == 2
    async with db.connect() as conn:
        rows = (await conn.execute(text("SELECT id, body FROM notes ORDER BY id"))).mappings()
        assert [dict(row) for row in rows] == [
            {"id": 1, "body": "a!"},
            {"id": 2, "body": "b!"},
            {"id": 3, "body": "c?"},
            {"id": 4, "body": "d?"},
        ]
        assert (await conn.execute(text("SELECT 1 WHERE 0"))).first() is None


async def test_errors_are_sqlalchemy_errors_and_roll_the_transaction_back(db: Database) -> None:
    async with db.connect() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('same')"))
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO notes (body) VALUES ('same')"))
        with pytest.raises(OperationalError):
            await conn.execute(text("SELECT nothing FROM nowhere"))
    async with db.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM notes"))).scalar() == 0
