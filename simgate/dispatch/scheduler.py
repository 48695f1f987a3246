"""Wakes the dispatcher when time makes work due: schedules, retry backoffs, expired leases;
and ends the messages no phone took within their TTL.

It sleeps until the earliest such moment the store knows of, and is woken early whenever a
new scheduled message or retry may have moved that moment closer, or a lease was taken that
ends before it would wake (so an expired lease is requeued when due, not up to a minute late).
No fixed-interval polling. A new message needs no wake-up for its expiry: no TTL is shorter
than the longest sleep, so the loop looks again, and learns of the expiry, before it is due.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from simgate import bus
from simgate.context import Context
from simgate.store import locks
from simgate.store import messages as message_store

log = structlog.get_logger(__name__)

#: Longest sleep: a safety net for wake-ups missed while another process wrote. At most the
#: shortest TTL, so that a message stored meanwhile is never noticed after it should expire.
MAX_SLEEP = 60.0


class Scheduler:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._wake = asyncio.Event()
        #: When the sleeping loop will look next (Unix ms); None while it is looking.
        self._wake_at: int | None = None
        self._unsubscribers = [
            ctx.bus.subscribe(bus.SCHEDULE, lambda _account: self._wake.set()),
            ctx.bus.subscribe(bus.DEADLINE, self._on_deadline),
            ctx.bus.subscribe(bus.RESYNC, lambda _: self._wake.set()),
        ]
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _on_deadline(self, payload: str) -> None:
        """A lease ends at ``payload`` (Unix ms): look then if that is before the next look.

        While a tick is running it may have read the store before this lease was committed, so
        the loop looks once more right after it.
        """
        if self._wake_at is None or int(payload) < self._wake_at:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._wake_at = None
            try:
                delay = await self.tick()
            except Exception:
                log.exception("scheduler_tick_failed")
                delay = 1.0
            self._wake_at = self._ctx.clock() + int(delay * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def tick(self) -> float:
        """Requeue expired leases, expire messages past their TTL, announce due work; seconds
        until the next moment to look."""
        now = self._ctx.clock()
        async with self._ctx.db.begin() as conn:
            # Several processes on one PostgreSQL: their sweeps take turns (store.locks).
            await locks.one_at_a_time(conn, locks.Job.QUEUE_SWEEP)
            requeued = await message_store.requeue_expired(conn, now)
            await message_store.promote_due(conn, now)
            # After promoting: a scheduled message whose TTL ran out is queued by now.
            expired = await message_store.expire_due(conn, now)
            # Every process announces the due work: its own devices may take it.
            due = await message_store.due_accounts(conn, now)
            upcoming = await message_store.next_wakeup(conn, now)
        if expired:
            log.info("messages_expired", accounts=expired)
        for account_id in sorted(set(requeued) | set(due)):
            self._ctx.bus.publish(bus.WORK, str(account_id))
        if upcoming is None:
            return MAX_SLEEP
        return min(MAX_SLEEP, max(0.0, (upcoming - self._ctx.clock()) / 1000))

    async def close(self) -> None:
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
