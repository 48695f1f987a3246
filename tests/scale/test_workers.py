"""``simgate serve --workers N``: N processes on one port, one gateway; a killed worker is
replaced; SIGTERM stops them all cleanly; SQLite is refused before anything starts."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.databases import PostgresFactory
from tests.support.devices import RunningAgent
from tests.support.processes import (
    Processes,
    free_port,
    listener_pids,
    make_tenants,
    outbox_lines,
    server_up,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)

_PIDS = re.compile(r"event='workers_started' workers=2 address='[^']+' pids=\[(\d+), (\d+)\]")
_RESTARTED = re.compile(r"event='worker_restarted' pid=(\d+)")


def test_several_workers_on_sqlite_are_refused_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/one.db"}
    result = subprocess.run(
        [sys.executable, "-m", "simgate", "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: --workers 2 needs PostgreSQL")
    assert not (tmp_path / "one.db").exists(), "nothing was started or migrated"


@pytest.mark.postgres
def test_workers_share_the_port_replace_a_killed_one_and_stop_on_sigterm(
    postgres_factory: PostgresFactory, tmp_path: Path
) -> None:
    """Two workers behind one port: each has its own bus listener; messages sent over new
    connections (spread by the kernel over the workers) all reach the one phone within a
    second, whichever worker accepted them and whichever holds the phone. A worker killed with
    SIGKILL is replaced and the gateway keeps working; SIGTERM ends everything with status 0."""
    database_url = postgres_factory.new()
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": database_url,
        "SIMGATE_LOG_LEVEL": "info",
        "SIMGATE_ACCESS_LOG": "0",
        "SIMGATE_API_RATE_PER_SECOND": "0",
    }
    processes = Processes(tmp_path, env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    agent: RunningAgent | None = None
    try:
        supervisor = processes.start("serve", "serve", "--workers", "2", "--port", str(port))
        [tenant] = make_tenants(database_url, [1])
        wait_until(lambda: _PIDS.search(processes.output("serve")), 30, "workers started")
        match = _PIDS.search(processes.output("serve"))
        assert match is not None
        workers = [int(pid) for pid in match.groups()]
        wait_until(
            lambda: processes.output("serve").count("event='server_started'") == 2,
            30,
            "both workers serve",
        )
        assert processes.output("serve").count("workers=2 pid=") == 2
        wait_until(lambda: all(listener_pids(database_url, pid) for pid in workers), 10, "buses")

        outbox = tmp_path / "outbox.jsonl"
        agent = RunningAgent(url, tenant.tokens[0], tmp_path / "agent", outbox_file=outbox)
        agent.start()

        def send_and_wait(text: str) -> float:
            started = time.time()
            response = httpx.post(  # a new connection each time: any worker may take it
                f"{url}/sendsms/",
                data={"apikey": tenant.api_key, "recipients": "+32470000001", "message": text},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            [guid] = response.json()["result"]["ids"]
            wait_until(
                lambda: any(line["guid"] == guid for line in outbox_lines([outbox])),
                10,
                f"{text} transmitted",
                0.01,
            )
            return time.time() - started

        spent = [send_and_wait(f"m{n}") for n in range(10)]
        assert max(spent) < 1.0, spent

        os.kill(workers[0], signal.SIGKILL)
        wait_until(lambda: _RESTARTED.search(processes.output("serve")), 30, "worker replaced")
        restarted = _RESTARTED.search(processes.output("serve"))
        assert restarted is not None
        wait_until(lambda: listener_pids(database_url, int(restarted.group(1))), 30, "new bus")
        assert server_up(url)
        # The phone may have been on the killed worker: it reconnects and gets the rest.
        for n in range(5):
            send_and_wait(f"after {n}")
        assert len(outbox_lines([outbox])) == 15

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=40) == 0
        log = processes.output("serve")
        assert "event='worker_died'" in log
        assert "event='workers_stopped'" in log
        assert not listener_pids(database_url, workers[1]), "every worker stopped"
    finally:
        if agent is not None:
            agent.stop()
        processes.stop_all()


@pytest.mark.postgres
def test_workers_of_a_killed_supervisor_stop_and_free_the_port(
    postgres_factory: PostgresFactory, tmp_path: Path
) -> None:
    """``kill -9`` of the supervisor leaves no worker serving the port unseen: each notices
    and shuts down gracefully, so a restarted ``simgate serve`` can bind the port again."""
    database_url = postgres_factory.new()
    env = {**os.environ, "SIMGATE_DATABASE_URL": database_url, "SIMGATE_LOG_LEVEL": "info"}
    processes = Processes(tmp_path, env)
    port = free_port()
    workers: list[int] = []
    try:
        supervisor = processes.start("serve", "serve", "--workers", "2", "--port", str(port))
        wait_until(lambda: _PIDS.search(processes.output("serve")), 30, "workers started")
        match = _PIDS.search(processes.output("serve"))
        assert match is not None
        workers = [int(pid) for pid in match.groups()]
        wait_until(lambda: all(listener_pids(database_url, pid) for pid in workers), 30, "buses")
        supervisor.kill()
        supervisor.wait(timeout=10)
        wait_until(
            lambda: not any(listener_pids(database_url, pid) for pid in workers),
            15,
            "the orphaned workers stopped",
        )
        assert "supervisor_gone" in processes.output("serve")
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers),
            15,
            "the orphaned workers exited",
        )
        wait_until(lambda: not server_up(f"http://127.0.0.1:{port}"), 10, "the port is free")
    finally:
        processes.stop_all()
        for pid in workers:  # should the test fail midway: no worker outlives it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
