"""SQLite through aiosqlite with one trip to its thread per statement.

aiosqlite runs each SQLite call on a thread of its own; every call is a wake-up of that thread
and then of the event loop, about 0.1 ms each on the machines measured. SQLAlchemy's adapter
spends up to four such trips on one statement (open a cursor, execute, fetch the rows, close
the cursor) and one more when a connection goes back to the pool (a rollback, even right after
a commit). A lone accepted message took nine trips, about 1 ms of its 2 ms transaction
(docs/benchmarks.md). Here a statement is one trip: the cursor is opened, executed, read to the
end and closed on the thread, and what SQLAlchemy asks of it afterwards (rows, description,
row count, last row id) comes back in one piece; a connection that holds no transaction skips
the rollback. Everything else is SQLAlchemy's own aiosqlite adapter.

Reading every row at once is what that adapter already did (it has no server-side cursors in
use here), so memory use does not change.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

#: What one statement's trip brings back: description, rows, row count, last row id.
_Outcome = tuple[Any, list[Any], int, int | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On aiosqlite's thread: the whole life of one cursor."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        # After the rows: SQLite counts the rows of an UPDATE ... RETURNING as they are read.
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement runs, is read and is closed in one trip to the thread."""

    __slots__ = ("_outcome",)

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # Not the base __init__: it opens an aiosqlite cursor, which is a trip of its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._outcome: _Outcome = (None, [], -1, None)

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[2]

    @property
    def lastrowid(self) -> int:
        return self._outcome[3]  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        """Rows are all read at once; the fetch size has nothing to change."""

    async def _async_soft_close(self) -> None:
        """Already closed on the thread."""

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            raw = connection._conn  # raises "no active connection" once closed
            self._outcome = await connection._execute(  # type: ignore[no-untyped-call]
                _run, raw, operation, parameters, many
            )
        self._rows = collections.deque(self._outcome[1])


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection with :class:`OneTripCursor` and a free idle rollback."""

    __slots__ = ()

    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        # Reading the flag from this thread is safe (no statement is running while the pool
        # resets a returned connection) and it is all ``rollback`` would find out.
        raw: sqlite3.Connection | None = self._connection._connection
        if raw is not None and not raw.in_transaction:
            return
        super().rollback()


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module handed to ``create_async_engine(module=...)`` for SQLite URLs."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDbapi:
    return OneTripDbapi(aiosqlite, sqlite3)
