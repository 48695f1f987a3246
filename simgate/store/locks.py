"""Advisory locks: how several processes on one PostgreSQL database run a shared job one at a
time.

The scheduler's sweep (expired leases back to the queue, scheduled messages due, messages past
their TTL) is run by every process, whenever its own clock or a notification says something
may be due; with several processes, they often wake at the same moment. Each sweep first takes
a transaction-level advisory lock and waits for it: sweeps never overlap, so they never wait
on each other's row locks or deadlock on rows they update in different orders, and the first
one moves the rows while the ones that waited find them moved (every UPDATE is guarded by the
row's state), so each row moves once. The lock ends with its transaction: a process that dies
mid-sweep holds nothing. Waiting rather than skipping keeps a look deterministic: when a tick
returns, a sweep at its time has been committed, whoever did the work.

Migrations take a lock of their own the same way (:mod:`simgate.store.migrate`).

SQLite has one writer per database, which serialises the same work already.
"""

from __future__ import annotations

import enum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


class Job(enum.IntEnum):
    """One advisory-lock key per job, per database: the ASCII of a short name, as a bigint."""

    #: Migrations at start-up and in ``simgate migrate`` (``simgmigr``).
    MIGRATIONS = 0x73696D676D696772
    #: The scheduler's sweep of the message queue (``simgswep``): leases, schedules, TTLs.
    QUEUE_SWEEP = 0x73696D6773776570


async def one_at_a_time(conn: AsyncConnection, job: Job) -> None:
    """Wait until no other transaction runs ``job``; hold it until this transaction ends.
    Nothing to wait for on SQLite."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(job)})
