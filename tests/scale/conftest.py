"""What the scale tests share: two ``simgate serve`` processes on one PostgreSQL database, with
one phone connected to the second (started once for the session: each start is seconds)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import httpx
import pytest

from tests.support.databases import PostgresFactory
from tests.support.devices import RunningAgent
from tests.support.processes import (
    Processes,
    free_port,
    make_tenants,
    outbox_lines,
    server_up,
    wait_until,
)


@dataclass
class Gateway:
    database_url: str
    env: dict[str, str]
    a_url: str
    b_url: str
    ports: list[int]
    b: Popen[bytes]
    api_key: str
    outbox: Path
    processes: Processes

    def send(self, url: str, text: str) -> tuple[str, float]:
        """Submit one message to ``url``; its GUID and when the request started."""
        started = time.time()
        response = httpx.post(
            f"{url}/sendsms/",
            data={"apikey": self.api_key, "recipients": "+32470000001", "message": text},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        [guid] = response.json()["result"]["ids"]
        return str(guid), started

    def transmitted(self, guid: str, within: float) -> float:
        """Wait for the phone's outbox line of ``guid``; the moment it was seen."""
        found: list[float] = []

        def seen() -> bool:
            if any(line["guid"] == guid for line in outbox_lines([self.outbox])):
                found.append(time.time())
                return True
            return False

        wait_until(seen, within, f"{guid} transmitted", interval=0.01)
        return found[0]


@pytest.fixture(scope="session")
def gateway(
    postgres_factory: PostgresFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Servers A and B on one fresh database; one phone, connected to B only. Tests that
    need more make their own accounts (``make_tenants`` with a prefix of their own)."""
    root = tmp_path_factory.mktemp("cross")
    database_url = postgres_factory.new()
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": database_url,
        "SIMGATE_LOG_LEVEL": "info",  # one line per request: which process served what
        "SIMGATE_API_RATE_PER_SECOND": "0",
    }
    processes = Processes(root, env)
    ports = [free_port(), free_port()]
    servers = [
        processes.start(name, "serve", "--port", str(port))
        for name, port in zip(("a", "b"), ports, strict=True)
    ]
    [tenant] = make_tenants(database_url, [1])
    a_url, b_url = (f"http://127.0.0.1:{port}" for port in ports)
    outbox = root / "outbox.jsonl"
    agent: RunningAgent | None = None
    try:
        wait_until(lambda: server_up(a_url) and server_up(b_url), 30, "both servers answer")
        agent = RunningAgent(b_url, tenant.tokens[0], root / "agent", outbox_file=outbox).start()
        yield Gateway(
            database_url, env, a_url, b_url, ports, servers[1], tenant.api_key, outbox, processes
        )
    finally:
        if agent is not None:
            agent.stop()
        processes.stop_all()
