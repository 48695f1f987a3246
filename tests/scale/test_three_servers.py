"""Three ``simgate serve`` processes on one PostgreSQL database are one gateway, and stay one
when a process is killed.

Everything runs as an operator would run it: three servers started at the same moment on an
empty database (they must migrate it once and all come up), three accounts of ten phones, each
account's phones in one ``simgate agent --driver simulator --tokens-file`` process connected to
one server, whose outbox file is their radio's log. Requests go round-robin to the servers, and
each request goes to a server where *none* of its account's phones is connected, so every
message must cross processes: on a bus that stays inside one process, each would wait for a
report or a safety tick (up to 60 s) of the server its phones are on.

Then one server is killed with ``kill -9`` in the middle of a second burst and started again on
its port, as a supervisor would: its phones reconnect, what they held is handed to them again
(and recognised by GUID), and clients whose request got no answer retry it, with its
idempotency key, on the next server. Every accepted message leaves exactly one phone exactly
once, and the database knows every message a phone sent.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import asyncpg
import httpx
import pytest

from tests.support.databases import PostgresFactory, _dsn
from tests.support.processes import (
    Processes,
    Tenant,
    free_port,
    make_tenants,
    outbox_lines,
    radio_log,
    server_up,
    transmitted_at,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(150)]

SERVERS = 3
PHONES_PER_SERVER = 10
#: Requests per burst; each names RECIPIENTS numbers, so a burst is 1 000 messages.
REQUESTS = 200
RECIPIENTS = 5
CLIENTS = 6
#: Requests a second of the first burst, whose latency is measured: well within what the
#: machine serves, so the figure is the path's and not a queue's (the second burst is as
#: fast as the clients go).
RATE = 25.0
#: The p99 of accept → phone asserted (seconds): loose, for a 2-core machine loaded by other
#: suites beside this one, where a p99 of 1.6 s was seen with every message accepted by the
#: server its phones are on, i.e. without the bus at all (the benchmark's figures, with the
#: same-process baseline, are in docs/benchmarks.md). On a bus that stays in one process the first
#: message of each account waits for the safety tick of the server its phones are on (up to
#: 60 s): the wait for the first burst fails before this bound is even checked.
P99_BOUND = 3.0
_CONNECTED = re.compile(r"(\d+)/(\d+) phones connected")


@dataclass
class Burst:
    """What the clients saw: accepted GUIDs by request index, and the rest."""

    accepted: dict[int, list[str]] = field(default_factory=dict)
    refused: list[tuple[int, int, str]] = field(default_factory=list)
    #: Why each request that got no answer failed (then retried on the next server).
    failures: list[str] = field(default_factory=list)

    @property
    def unanswered(self) -> int:
        return len(self.failures)


def route(index: int) -> tuple[int, int]:
    """(tenant, server) of request ``index``: round-robin over the servers, and never to the
    server the tenant's phones are connected to (tenant ``t`` is on server ``t``)."""
    tenant = index % SERVERS
    return tenant, (tenant + 1 + (index // SERVERS) % (SERVERS - 1)) % SERVERS


async def burst(
    urls: list[str],
    tenants: list[Tenant],
    tag: str,
    *,
    rate: float | None = None,
    midway: Callable[[], None] | None = None,
) -> Burst:
    """``REQUESTS`` sends from ``CLIENTS`` concurrent clients, at most ``rate`` requests a
    second if given. A request that gets no answer is retried with its idempotency key on the
    next server; ``midway`` (blocking) is run once half the answers are in."""
    result = Burst()
    pending: asyncio.Queue[int] = asyncio.Queue()
    for index in range(REQUESTS):
        pending.put_nowait(index)
    half = asyncio.Event()
    begun = time.monotonic()
    deadline = begun + 60

    async def client(http: httpx.AsyncClient) -> None:
        while not pending.empty():
            index = pending.get_nowait()
            if rate is not None:
                await asyncio.sleep(max(0.0, begun + index / rate - time.monotonic()))
            tenant, server = route(index)
            data = {
                "apikey": tenants[tenant].api_key,
                "recipients": ",".join(f"+3247{index:05d}{n:02d}" for n in range(RECIPIENTS)),
                "message": f"{tag} r{index}",
            }
            headers = {"Idempotency-Key": f"{tag}-{index}"}
            while True:
                assert time.monotonic() < deadline, f"request {index} never answered"
                try:
                    response = await http.post(
                        f"{urls[server]}/sendsms/", data=data, headers=headers
                    )
                except httpx.TransportError as exc:
                    result.failures.append(f"request {index} to server {server}: {exc!r}")
                    server = (server + 1) % SERVERS  # as a load balancer would
                    await asyncio.sleep(0.02)
                    continue
                break
            if response.status_code == 200:
                result.accepted[index] = list(response.json()["result"]["ids"])
            else:
                result.refused.append((index, response.status_code, response.text[:300]))
            if len(result.accepted) + len(result.refused) >= REQUESTS // 2:
                half.set()

    async def killer() -> None:
        if midway is not None:
            await half.wait()
            await asyncio.get_running_loop().run_in_executor(None, midway)

    async with httpx.AsyncClient(timeout=10) as http:
        await asyncio.gather(killer(), *(client(http) for _ in range(CLIENTS)))
    return result


def latencies(database_url: str, result: Burst, outboxes: list[Path]) -> list[float]:
    """Per accepted message: the phone's moment of transmission minus the moment the server
    accepted it (its ``created_ms``; one host, one clock)."""
    sent = {str(line["guid"]): transmitted_at(line) for line in outbox_lines(outboxes)}
    created = {guid: row[1] for guid, row in stored(database_url).items()}
    return [sent[guid] - created[guid] for guids in result.accepted.values() for guid in guids]


def p(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def stored(database_url: str) -> dict[str, tuple[str, float]]:
    """Every message in the database: GUID → (state, when it was accepted in Unix seconds)."""

    async def read() -> dict[str, tuple[str, float]]:
        conn = await asyncpg.connect(_dsn(database_url))
        try:
            rows = await conn.fetch("SELECT guid, state, created_ms FROM messages")
            return {
                str(row["guid"]): (str(row["state"]), int(row["created_ms"]) / 1000) for row in rows
            }
        finally:
            await conn.close()

    return asyncio.run(read())


@dataclass
class Cluster:
    database_url: str
    urls: list[str]
    servers: list[Popen[bytes]]
    tenants: list[Tenant]
    outboxes: list[Path]
    processes: Processes
    serve_args: list[list[str]]

    def all_transmitted(self, guids: list[str]) -> Callable[[], bool]:
        wanted = set(guids)
        return lambda: wanted <= set(radio_log(self.outboxes))


@pytest.fixture
def cluster(postgres_factory: PostgresFactory, tmp_path: Path) -> Iterator[Cluster]:
    database_url = postgres_factory.empty()
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": database_url,
        "SIMGATE_LOG_LEVEL": "info",  # the migrations' lines are at info
        "SIMGATE_ACCESS_LOG": "0",
        "SIMGATE_API_RATE_PER_SECOND": "0",
        "SIMGATE_PASSWORD_HASH_COST": "test",
    }
    processes = Processes(tmp_path, env)
    ports = [free_port() for _ in range(SERVERS)]
    serve_args = [["serve", "--port", str(port)] for port in ports]
    try:
        servers = [processes.start(f"server{i}", *serve_args[i]) for i in range(SERVERS)]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        wait_until(lambda: all(server_up(url) for url in urls), 60, "all three servers answer")
        tenants = make_tenants(database_url, [PHONES_PER_SERVER] * SERVERS)
        outboxes = [tmp_path / f"radio{i}.jsonl" for i in range(SERVERS)]
        for i, tenant in enumerate(tenants):
            tokens = tmp_path / f"tokens{i}.txt"
            tokens.write_text("\n".join(tenant.tokens) + "\n")
            processes.start(
                f"agent{i}",
                "agent",
                "--server",
                urls[i],
                "--driver",
                "simulator",
                "--tokens-file",
                str(tokens),
                "--outbox-file",
                str(outboxes[i]),
                "--log-level",
                "info",
            )

        def connected() -> bool:
            for i in range(SERVERS):
                counts = _CONNECTED.findall(processes.output(f"agent{i}"))
                if not counts or counts[-1] != (str(PHONES_PER_SERVER),) * 2:
                    return False
            return True

        wait_until(connected, 30, "every phone connected", interval=0.1)
        yield Cluster(database_url, urls, servers, tenants, outboxes, processes, serve_args)
    finally:
        processes.stop_all()


class TestThreeServers:
    def test_one_gateway_across_three_processes_even_when_one_is_killed(
        self, cluster: Cluster
    ) -> None:
        logs = "".join(cluster.processes.output(f"server{i}") for i in range(SERVERS))
        assert logs.count("Running upgrade  -> 0001") == 1, "the schema was migrated once"

        # 1. Every message crosses processes, promptly.
        first = asyncio.run(burst(cluster.urls, cluster.tenants, "one", rate=RATE))
        assert first.refused == []
        assert first.failures == []
        accepted = [guid for guids in first.accepted.values() for guid in guids]
        assert len(set(accepted)) == REQUESTS * RECIPIENTS
        wait_until(cluster.all_transmitted(accepted), 30, "the first burst transmitted", 0.2)
        spent = latencies(cluster.database_url, first, cluster.outboxes)
        p50, p99 = p(spent, 0.50), p(spent, 0.99)
        print(f"accept -> phone across processes: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
        assert p99 < P99_BOUND, f"p99 {p99 * 1000:.0f} ms"

        # 2. kill -9 of server 0 in the middle of a burst, restarted on its port.
        def kill_and_restart() -> None:
            victim = cluster.servers[0]
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            cluster.servers[0] = cluster.processes.start("server0-again", *cluster.serve_args[0])

        second = asyncio.run(burst(cluster.urls, cluster.tenants, "two", midway=kill_and_restart))
        assert second.refused == []
        assert cluster.servers[0].poll() is None
        accepted += [guid for guids in second.accepted.values() for guid in guids]
        assert len(set(accepted)) == 2 * REQUESTS * RECIPIENTS
        wait_until(cluster.all_transmitted(accepted), 60, "the second burst transmitted", 0.2)

        def settled() -> bool:
            return all(state == "sent" for state, _ in stored(cluster.database_url).values())

        wait_until(settled, 30, "every message reported sent", 0.2)
        transmitted = radio_log(cluster.outboxes)
        assert {guid: n for guid, n in transmitted.items() if n > 1} == {}, "sent twice"
        assert set(accepted) - set(transmitted) == set(), "accepted but never sent"
        # Idempotency keys made every retry return its first answer: nothing else stored.
        assert set(stored(cluster.database_url)) == set(accepted)
        # Each account's messages went out through its own phones only.
        for i, tenant in enumerate(cluster.tenants):
            mine = {g for idx, gs in first.accepted.items() if idx % SERVERS == i for g in gs}
            assert mine <= set(radio_log([cluster.outboxes[i]])), tenant.email
