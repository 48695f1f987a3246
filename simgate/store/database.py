"""The engine: one async SQLAlchemy engine per process, tuned per backend.

SQLite runs in WAL mode so the CLI can write while the server runs, with a busy timeout instead
of "database is locked" errors. SQLite has one write lock per file, and a connection that waits
for it sleeps in growing steps (1 ms … 100 ms) instead of being woken: within one process the
write transactions therefore queue on an asyncio lock, so the next one starts the moment the
previous one commits (measured: 45 % of a busy server's time was that sleeping).
``synchronous=NORMAL`` in WAL mode survives a killed process (the WAL is in the OS cache); only
a power cut may lose the last commits, which is the usual trade.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from simgate.store.groupcommit import GroupCommit
from simgate.store.sqlite_driver import one_trip_dbapi

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Key in a connection's ``info`` of the callbacks to run once its transaction has committed.
_AFTER_COMMIT = "simgate_after_commit"


def after_commit(conn: AsyncConnection, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the transaction of ``conn`` (from :meth:`Database.begin`) has
    committed; never if it rolls back. For wake-ups: a worker woken before the commit would
    look, find nothing yet, and sleep through the new work."""
    conn.info.setdefault(_AFTER_COMMIT, []).append(callback)


class Database:
    """Owns the engine and hands out transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
            if url.startswith("sqlite+aiosqlite"):
                kwargs["module"] = one_trip_dbapi()
        else:
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._writer: asyncio.Lock | None = None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            self._writer = asyncio.Lock()
        self._groups: dict[object, GroupCommit[Any, Any]] = {}

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction, committed on success, rolled back on error."""
        callbacks: list[Callable[[], None]] = []
        if self._writer is None:
            async with self.engine.begin() as conn:
                with _collect(conn, callbacks):
                    yield conn
        else:
            async with self._writer, self.engine.begin() as conn:
                with _collect(conn, callbacks):
                    yield conn
        for callback in callbacks:  # reached only when the transaction committed
            callback()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (autobegin; nothing is committed)."""
        async with self.engine.connect() as conn:
            yield conn

    async def together(
        self,
        apply: Callable[[AsyncConnection, Sequence[Item]], Awaitable[Sequence[Result]]],
        item: Item,
    ) -> Result:
        """Apply ``item`` in a transaction shared with other callers of the same ``apply``.

        Returns once that transaction has committed (see :mod:`simgate.store.groupcommit`).
        """
        group = self._groups.get(apply)
        if group is None:
            group = self._groups[apply] = GroupCommit(self.begin, apply)
        return cast(Result, await group.submit(item))

    async def dispose(self) -> None:
        for group in list(self._groups.values()):
            await group.drain()
        await self.engine.dispose()


@contextmanager
def _collect(conn: AsyncConnection, into: list[Callable[[], None]]) -> Iterator[None]:
    """Move the ``after_commit`` callbacks out of ``conn.info`` (which lives as long as the
    pooled DBAPI connection, so it must be emptied whatever happens)."""
    try:
        yield
    finally:
        into.extend(conn.info.pop(_AFTER_COMMIT, ()))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
