"""``simgate migrate`` run by three processes at the same moment on an empty PostgreSQL
database: one migrates, the others wait on the advisory lock and find the schema at head."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from simgate.store.migrate import head_revision
from tests.support.databases import PostgresFactory

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(90)]


def test_three_migrations_at_once_migrate_once_and_all_succeed(
    postgres_factory: PostgresFactory,
) -> None:
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": postgres_factory.empty(),
        "SIMGATE_LOG_LEVEL": "info",
    }
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "simgate", "migrate", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    assert [json.loads(out) for out, _ in outputs] == [{"revision": head_revision()}] * 3
    logs = "".join(err for _, err in outputs)
    assert logs.count("Running upgrade  -> 0001") == 1
