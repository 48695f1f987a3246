"""Running Alembic migrations from code: ``simgate serve`` and tests migrate without an ini file.

Several processes may start at once (replicas, a restart overlapping a deploy) and each migrates
at start-up. On PostgreSQL the whole upgrade, from reading the current revision to the commit,
runs under a transaction-level advisory lock: the first process migrates, the others wait, then
find the schema at head and do nothing. SQLite needs no lock, since a migration holds its
database's write lock already.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.locks import Job

MIGRATIONS = Path(__file__).parent / "migrations"
#: Key of the advisory lock that serialises migrations ("simgmigr" in ASCII), one per database.
MIGRATION_LOCK_KEY = int(Job.MIGRATIONS)
# Alembic's ``context`` and ``op`` are module-wide proxies, so within one process two upgrades
# (two apps started in one test run, say) must take turns whatever the database.
_one_upgrade_per_process = threading.Lock()


def serialize_migrations(connection: Connection) -> None:
    """Wait for other migrating processes (PostgreSQL); the lock lasts until the commit.

    Called by the Alembic environment before anything reads the schema's revision.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' is Alembic's interpolation character; passwords in URLs may hold it.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` to ``revision`` (blocking)."""
    with _one_upgrade_per_process:
        command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """The same from async code: Alembic's env runs its own event loop, so give it a thread."""
    await asyncio.to_thread(upgrade, database_url, revision)


def head_revision() -> str | None:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(conn: AsyncConnection) -> str | None:
    """The revision the database is at (None before the first migration)."""

    def read(sync: Connection) -> str | None:
        return MigrationContext.configure(sync).get_current_revision()

    return await conn.run_sync(read)
