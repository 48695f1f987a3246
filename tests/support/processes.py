"""Running simgate as an operator does, for the tests of ``tests/scale``: ``simgate serve`` and
``simgate agent`` in subprocesses, the CLI, the simulated phones' outbox files (the radio's log)
and a look at PostgreSQL's own view of the processes' connections."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx

from simgate.services import accounts, pairing
from tests.support.databases import _dsn

SIMGATE = [sys.executable, "-m", "simgate"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_json(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [*SIMGATE, *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cli_json_together(env: dict[str, str], commands: list[list[str]]) -> list[Any]:
    """Run independent CLI commands at the same time (each is a Python start-up: ~1 s here)."""
    processes = [
        subprocess.Popen(
            [*SIMGATE, *args, "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outputs.append(json.loads(out))
    return outputs


class Processes:
    """Every subprocess of a test, its output in a file; all stopped in ``stop_all``."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self._running: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen([*SIMGATE, *args], env=self.env, stdout=log, stderr=log)
        self._running.append((process, log))
        return process

    def stop_all(self) -> None:
        for process, _ in self._running:
            if process.poll() is None:
                process.terminate()
        for process, log in self._running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()

    def output(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_until(
    check: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def server_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def outbox_lines(outboxes: list[Path]) -> list[dict[str, Any]]:
    """Every line of every phone's outbox file: one per transmission."""
    lines = []
    for path in outboxes:
        if path.exists():
            lines.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return lines


def radio_log(outboxes: list[Path]) -> Counter[str]:
    """How many times each GUID left a phone, over every phone's outbox file."""
    return Counter(str(line["guid"]) for line in outbox_lines(outboxes))


def transmitted_at(line: dict[str, Any]) -> float:
    """The wall-clock moment (Unix seconds) a phone wrote in its outbox line."""
    return datetime.fromisoformat(str(line["at"]).replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Tenant:
    """An account made for a test, its API key and its phones' tokens."""

    email: str
    api_key: str
    tokens: list[str]


def make_tenants(database_url: str, phones: list[int], prefix: str = "tenant") -> list[Tenant]:
    """One account per entry of ``phones`` with that many paired devices, made in-process
    through the services (seconds of CLI start-ups saved; the CLI is tested on its own)."""
    from simgate.context import Context
    from simgate.store.database import Database
    from tests.conftest import make_settings

    async def make() -> list[Tenant]:
        ctx = Context(
            settings=make_settings(database_url, "http://127.0.0.1"), db=Database(database_url)
        )
        try:
            made = []
            for index, count in enumerate(phones):
                email = f"{prefix}{index}@example.test"
                account = await accounts.create_account(ctx, email, "pw123456")
                paired = await pairing.add_devices(ctx, email, "phone", count)
                made.append(Tenant(email, account.api_key, [item.token for item in paired]))
            return made
        finally:
            await ctx.db.dispose()

    return asyncio.run(make())


def listener_pids(database_url: str, server_pid: int) -> list[int]:
    """The PostgreSQL backends of the bus connections of the server process ``server_pid``."""

    async def look() -> list[int]:
        conn = await asyncpg.connect(_dsn(database_url))
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                f"simgate-bus:{server_pid}",
            )
            return [int(row["pid"]) for row in rows]
        finally:
            await conn.close()

    return asyncio.run(look())


def terminate_backend(database_url: str, backend_pid: int) -> bool:
    async def cut() -> bool:
        conn = await asyncpg.connect(_dsn(database_url))
        try:
            return bool(await conn.fetchval("SELECT pg_terminate_backend($1)", backend_pid))
        finally:
            await conn.close()

    return asyncio.run(cut())
