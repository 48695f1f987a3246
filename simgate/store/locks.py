"""Advisory locks: how several processes on one PostgreSQL database agree that a job runs once.

A job every process would otherwise run (requeueing expired leases, promoting scheduled
messages, expiring old ones) takes a transaction-level advisory lock first, without waiting:
the process that gets it does the job, the others skip it this time, and the lock ends with
the transaction, so nobody holds it after a crash. The jobs stay correct without the lock (each
UPDATE is guarded by the row's state); the lock makes N processes that wake at the same moment
do the work once instead of queueing on the same rows N times.

SQLite has one process per database (one writer), so there every job may always run.
"""

from __future__ import annotations

import enum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


class Job(enum.IntEnum):
    """One advisory-lock key per job, per database: the ASCII of a short name, as a bigint."""

    #: Migrations at start-up (``simgmigr``); held with ``pg_advisory_xact_lock`` (waiting).
    MIGRATIONS = 0x73696D676D696772
    #: The scheduler's sweep of the message queue (``simgswep``): leases, schedules, TTLs.
    QUEUE_SWEEP = 0x73696D6773776570


async def run_once(conn: AsyncConnection, job: Job) -> bool:
    """Whether this transaction may run ``job`` now: True for the one transaction holding its
    lock (until it ends), False while another has it. Always True on SQLite."""
    if conn.dialect.name != "postgresql":
        return True
    result = await conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": int(job)})
    return bool(result.scalar())
