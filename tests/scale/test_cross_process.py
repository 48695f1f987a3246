"""Two ``simgate serve`` processes on one PostgreSQL database are one gateway: a message accepted
by one reaches a phone connected to the other at once, not at the other's next safety tick
(60 s), and a listening connection cut from the database side delays nothing.

Before the PostgreSQL bus, process B learned of A's message only from its scheduler's safety
tick: the first test fails there by a minute.
"""

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
    cli_json,
    free_port,
    listener_pids,
    make_tenants,
    outbox_lines,
    server_up,
    terminate_backend,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(90)]

#: Accept on one process → transmitted by a phone on the other, at most (seconds). Generous
#: for a loaded 2-core machine; a message waiting for the safety tick takes up to 60 s.
PROMPTLY = 1.0


@dataclass
class Gateway:
    database_url: str
    env: dict[str, str]
    a_url: str
    b_url: str
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


@pytest.fixture(scope="module")
def gateway(
    postgres_factory: PostgresFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Servers A and B on one fresh database; one phone, connected to B only."""
    root = tmp_path_factory.mktemp("cross")
    database_url = postgres_factory.new()
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": database_url,
        "SIMGATE_LOG_LEVEL": "warning",
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
            database_url, env, a_url, b_url, servers[1], tenant.api_key, outbox, processes
        )
    finally:
        if agent is not None:
            agent.stop()
        processes.stop_all()


class TestOneGateway:
    def test_a_message_accepted_by_one_process_reaches_a_phone_on_the_other_promptly(
        self, gateway: Gateway
    ) -> None:
        """Accepted by A; the only phone is connected to B: transmitted within a second."""
        guid, _ = gateway.send(gateway.b_url, "warm-up, accepted where the phone is")
        gateway.transmitted(guid, 10)
        for n in range(3):
            guid, started = gateway.send(gateway.a_url, f"across {n}")
            seen = gateway.transmitted(guid, 10)
            assert seen - started < PROMPTLY, f"took {seen - started:.3f} s"

    def test_a_cut_listening_connection_delays_nothing_and_comes_back(
        self, gateway: Gateway
    ) -> None:
        """B's listening connection is terminated by PostgreSQL, and A announces a message
        for B's phone right away, while B may still be away: the message reaches the phone
        within seconds (B looks at the store when it listens again), far sooner than the
        60 s safety sweep, and B listens again on a new connection."""
        [before] = listener_pids(gateway.database_url, gateway.b.pid)
        assert terminate_backend(gateway.database_url, before)
        guid, started = gateway.send(gateway.a_url, "while B was not listening")
        seen = gateway.transmitted(guid, 30)
        assert seen - started < 5.0, f"took {seen - started:.3f} s"
        after: list[int] = []

        def listening_again() -> bool:
            after[:] = listener_pids(gateway.database_url, gateway.b.pid)
            return bool(after)

        wait_until(listening_again, 10, "B listens again")
        assert after != [before]
        log = gateway.processes.output("b")
        assert "bus_connection_lost" in log
        assert "bus_reconnected" in log
        guid, started = gateway.send(gateway.a_url, "after the outage")
        assert gateway.transmitted(guid, 10) - started < PROMPTLY


def test_a_device_removed_from_the_cli_is_disconnected_by_the_server_holding_it(
    gateway: Gateway, tmp_path: Path
) -> None:
    """``simgate device remove`` is a process of its own: the server the phone is connected to
    hears of the removal through PostgreSQL and closes the phone's connection at once (with
    the refused-token code, so the agent stops), instead of serving a deleted device."""
    [tenant] = make_tenants(gateway.database_url, [1], prefix="removed")
    agent = RunningAgent(gateway.b_url, tenant.tokens[0], tmp_path / "agent").start()
    try:
        listed = cli_json(gateway.env, "device", "list", "--account", tenant.email)
        [sid] = [device["sid"] for device in listed["devices"]]
        cli_json(gateway.env, "device", "remove", sid, "--account", tenant.email, "--yes")
        wait_until(lambda: not agent.running, 5, "the removed phone disconnected")
    finally:
        agent.stop()
