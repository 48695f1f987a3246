"""Migrating at start-up: processes that start together do not race on the schema."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from sqlalchemy import text

from simgate.store.database import Database
from simgate.store.migrate import upgrade_async
from tests.support.databases import PostgresFactory

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

#: A process that gets ready to migrate (imports done), says so, then migrates on a word.
MIGRATING_PROCESS = """
import sys
import asyncpg, sqlalchemy.ext.asyncio, alembic.command, simgate.store.tables
from simgate.store.migrate import upgrade
print("ready", flush=True)
sys.stdin.readline()
upgrade(sys.argv[1])
"""


async def _revisions(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return [str(row[0]) for row in rows]
    finally:
        await db.dispose()


def _migrate_in_processes_at_once(url: str, count: int) -> list[subprocess.CompletedProcess[str]]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATING_PROCESS, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    for process in processes:  # as close to "at once" as a test can start them
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    done = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


class TestConcurrentMigrations:
    async def test_three_processes_migrating_a_fresh_postgres_database_all_succeed(
        self, postgres_factory: PostgresFactory
    ) -> None:
        """The advisory lock lets one process migrate while the others wait, then find the
        schema at head."""
        url = await asyncio.to_thread(postgres_factory.empty)  # it runs its own loop
        done = await asyncio.to_thread(_migrate_in_processes_at_once, url, 3)
        assert [run.returncode for run in done] == [0, 0, 0], [run.stderr for run in done]
        assert len(await _revisions(url)) == 1

    async def test_three_concurrent_upgrade_async_in_one_process_all_succeed(
        self, postgres_factory: PostgresFactory
    ) -> None:
        """Two apps of one process starting together (tests, an embedding app) both migrate."""
        url = await asyncio.to_thread(postgres_factory.empty)
        await asyncio.gather(*(upgrade_async(url) for _ in range(3)))
        assert len(await _revisions(url)) == 1
