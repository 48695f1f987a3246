"""Group commit: many callers' small writes share one transaction, each answered after it.

A commit costs the same for one row as for a hundred (the write lock, the journal, the round
trips), and on SQLite every write transaction waits for the one before it. So instead of one
transaction per device report or per accepted request, callers hand their item to a
:class:`GroupCommit` and wait: items that arrive while a transaction is running are applied
together in the next one, the moment it can start. There is no collecting timer: under light
load a lone item is committed at once, and under heavy load batches grow by themselves.

Durability is unchanged: a caller's future resolves only after the commit that holds its rows.
An item that fails (an apply built with :func:`each` says which) fails alone: the transaction
is rolled back, the others are applied again without it, then it is tried once more on its own
(its error may have come from the others' rolled-back writes). A batch that fails otherwise (the
commit itself) is tried again item by item; what still fails answers
:class:`~simgate.domain.errors.StoreUnavailable` when the database was the cause.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

import structlog
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.errors import StoreUnavailable

log = structlog.get_logger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchSizeMismatch(RuntimeError):
    """An apply function returned a different number of results than items it was given."""


class ItemFailed(Exception):
    """Raised by an apply function: the item at ``index`` failed with ``error``."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


def each(
    body: Callable[[AsyncConnection, Item], Awaitable[Result]],
) -> Callable[[AsyncConnection, Sequence[Item]], Awaitable[list[Result]]]:
    """An apply function that runs ``body`` for each item in turn, naming the one that fails."""

    async def apply(conn: AsyncConnection, items: Sequence[Item]) -> list[Result]:
        results: list[Result] = []
        for index, item in enumerate(items):
            try:
                results.append(await body(conn, item))
            except Exception as exc:
                raise ItemFailed(index, exc) from exc
        return results

    return apply


class GroupCommit(Generic[Item, Result]):
    """Collects items for one apply function and commits them in shared transactions.

    ``apply`` runs inside the open transaction and returns one result per item, in order.
    """

    def __init__(
        self,
        begin: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
        apply: Callable[[AsyncConnection, Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = 500,
    ) -> None:
        self._begin = begin
        self._apply = apply
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Apply ``item`` in the next shared transaction; its result once that has committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        # A caller that gives up (a client hanging up) does not cancel the commit others share.
        return await asyncio.shield(future)

    async def drain(self) -> None:
        """Wait until everything submitted so far is committed or failed."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
        finally:
            self._flusher = None

    async def _commit(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        left_out: list[tuple[Item, asyncio.Future[Result]]] = []
        while batch:
            try:
                results = await self._run([item for item, _future in batch])
            except ItemFailed as failed:
                # The rest goes again without it. Its error may come from what the items before
                # it wrote in the transaction just rolled back (a repeated idempotency key finds
                # the first one's row), so it is tried once more on its own, after the rest.
                left_out.append(batch.pop(failed.index))
                continue
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], _unavailable(exc))
                    return
                log.warning("group_commit_split", items=len(batch), error=repr(exc))
                for entry in batch:
                    await self._commit_alone(entry)
                break
            for (_item, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
            break
        for entry in left_out:
            await self._commit_alone(entry)

    async def _commit_alone(self, entry: tuple[Item, asyncio.Future[Result]]) -> None:
        item, future = entry
        try:
            [result] = await self._run([item])
        except ItemFailed as failed:
            _settle(future, failed.error)
        except Exception as exc:
            _settle(future, _unavailable(exc))
        else:
            if not future.done():
                future.set_result(result)

    async def _run(self, items: list[Item]) -> Sequence[Result]:
        async with self._begin() as conn:
            results = await self._apply(conn, items)
            if len(results) != len(items):  # rolls the batch back: a bug, not a partial write
                raise BatchSizeMismatch(f"{len(results)} results for {len(items)} items")
        return results


def _unavailable(exc: Exception) -> Exception:
    """The database failing (unreachable, locked, full) as the client should see it; anything
    else (a constraint, a bug) as it is."""
    if isinstance(exc, OperationalError | InterfaceError):
        log.error("group_commit_failed", error=type(exc).__name__, reason=str(exc.orig))
        unavailable = StoreUnavailable()
        unavailable.__cause__ = exc
        return unavailable
    return exc


def _settle(future: asyncio.Future[Result], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
