"""Is this process fit to serve, and what is waiting: the use cases behind ``/readyz`` and the
database-backed gauges of ``/metrics``."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from simgate.context import Context
from simgate.store import stats
from simgate.store.migrate import current_revision, head_revision

#: A readiness probe that waits longer than this for the database calls it unreachable.
READY_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Readiness:
    """``ready``, or the ``reason`` (a stable code) and a sentence saying why not."""

    ready: bool
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Gauges:
    """What the database says now: messages waiting by state, phones, webhook backlog."""

    queue: dict[str, int]
    devices_online: int
    devices_total: int
    webhook_backlog: int


@functools.cache
def _head() -> str | None:
    return head_revision()


async def readiness(ctx: Context) -> Readiness:
    """Ready when the database answers within the timeout and its schema is at this code's
    newest migration (a server started on an older schema would fail on its first query)."""

    async def revision() -> str | None:
        async with ctx.db.connect() as conn:
            return await current_revision(conn)

    try:
        current = await asyncio.wait_for(revision(), READY_TIMEOUT_SECONDS)
    except TimeoutError:
        return Readiness(False, "database_timeout", "The database did not answer in time.")
    except (SQLAlchemyError, OSError) as exc:
        return Readiness(
            False, "database_unreachable", f"The database cannot be reached ({type(exc).__name__})."
        )
    head = _head()
    if current != head:
        return Readiness(
            False,
            "migrations_pending",
            f"The database schema is at {current or 'nothing'}, this code needs {head}: "
            "run `simgate serve` (it migrates on start).",
        )
    return Readiness(True)


async def gauges(ctx: Context) -> Gauges:
    """Counts read at scrape time, each a query over an indexed state column."""
    since = ctx.clock() - ctx.settings.device_online_seconds * 1000
    async with ctx.db.connect() as conn:
        queue = await stats.queue_depth(conn)
        online, total = await stats.devices_seen_since(conn, since)
        backlog = await stats.webhook_backlog(conn)
    return Gauges(queue=queue, devices_online=online, devices_total=total, webhook_backlog=backlog)
