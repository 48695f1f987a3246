"""A server killed with SIGKILL in the middle of a burst loses no accepted message and makes no
phone transmit one twice.

Everything runs as an operator would run it: ``simgate serve`` in a subprocess on a fresh
database, an account and three devices made with the CLI, three ``simgate agent --driver
simulator`` processes whose outbox files are the radio's log. Concurrent clients submit a few
thousand messages; once about half the answers are in, the server is killed with ``kill -9``
and started again on the same database and port. Clients retry only the requests that got no
answer, and only GUIDs from a 200 answer count as accepted: a request without an answer may or
may not have been stored. Half of the requests carry an idempotency key, so their retry must
return the first answer if the first attempt was stored; the others may leave an orphan (a
message stored for a request whose answer was lost), which the phones send like any other.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import (
    Processes,
    cli_json,
    cli_json_together,
    free_port,
    radio_log,
    server_up,
    wait_until,
)

# A backstop only: each wait below has its own deadline and message. About 30 s per engine
# on the 2-core machine with other suites running beside it; up to twice that when they are heavy.
pytestmark = pytest.mark.timeout(180)

PHONES = 3
REQUESTS = 150
RECIPIENTS_PER_REQUEST = 10
CLIENTS = 8
#: Submitting, including the restart, must be over within this (seconds).
SUBMIT_DEADLINE = 30.0
#: After the last answer, every accepted message must be reported sent within this (seconds).
DRAIN_DEADLINE = 40.0
TEXT = re.compile(r"kill9 r(\d+)")


@dataclass
class Submission:
    """What the clients saw: GUIDs of 200 answers, by request; everything else that came back."""

    accepted: dict[int, list[str]] = field(default_factory=dict)
    refused: list[tuple[int, int, str]] = field(default_factory=list)
    no_answer: Counter[int] = field(default_factory=Counter)
    answered_at_kill: int = -1


def request_params(api_key: str, index: int) -> tuple[dict[str, str], dict[str, str]]:
    recipients = ",".join(f"+32470{index:04d}{n:02d}" for n in range(RECIPIENTS_PER_REQUEST))
    # The text names its request, so that an orphan can be traced back to where it came from.
    data = {"apikey": api_key, "recipients": recipients, "message": f"kill9 r{index}"}
    headers = {"Idempotency-Key": f"kill9-{index}"} if index % 2 == 0 else {}
    return data, headers


async def submit(url: str, api_key: str, restart: Any) -> Submission:
    """``REQUESTS`` sends from ``CLIENTS`` concurrent clients; ``restart`` is called once half
    the answers are in, and must kill the server and start it again."""
    result = Submission()
    pending: asyncio.Queue[int] = asyncio.Queue()
    for index in range(REQUESTS):
        pending.put_nowait(index)
    half = asyncio.Event()
    deadline = time.monotonic() + SUBMIT_DEADLINE

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            while not pending.empty():
                index = pending.get_nowait()
                data, headers = request_params(api_key, index)
                while True:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"request {index} unanswered after the restart")
                    try:
                        response = await http.post("/sendsms/", data=data, headers=headers)
                    except httpx.TransportError:
                        # No answer: maybe stored, maybe not. Only the retry's answer counts.
                        result.no_answer[index] += 1
                        await asyncio.sleep(0.05)
                        continue
                    break
                if response.status_code == 200:
                    result.accepted[index] = list(response.json()["result"]["ids"])
                else:
                    result.refused.append((index, response.status_code, response.text[:300]))
                if len(result.accepted) + len(result.refused) >= REQUESTS // 2:
                    half.set()

    async def killer() -> None:
        await half.wait()
        result.answered_at_kill = len(result.accepted) + len(result.refused)
        await asyncio.get_running_loop().run_in_executor(None, restart)

    await asyncio.gather(killer(), *(client() for _ in range(CLIENTS)))
    return result


def sent_log(url: str, api_key: str) -> dict[str, dict[str, Any]]:
    """Every row of the account's sent log, by GUID (paged with ``before``)."""
    rows: dict[str, dict[str, Any]] = {}
    params = {"apikey": api_key, "limit": "500"}
    with httpx.Client(base_url=url, timeout=10) as http:
        while True:
            body = http.get("/log/sent/sms/", params=params).raise_for_status().json()
            page = body["result"]["sms"]
            for row in page:
                assert row["guid"] not in rows, f"paging repeated {row['guid']}"
                rows[row["guid"]] = row
            if len(page) < 500:
                return rows
            params["before"] = page[-1]["guid"]


@pytest.fixture
def database(request: pytest.FixtureRequest, engine: str) -> str:
    """A fresh migrated database on ``engine`` (PostgreSQL unreachable fails, never skips)."""
    return request.getfixturevalue(f"{engine}_factory").new()  # type: ignore[no-any-return]


@pytest.fixture
def processes(tmp_path: Path, database: str) -> Iterator[Processes]:
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": database,
        "SIMGATE_LOG_LEVEL": "warning",
        "SIMGATE_PASSWORD_HASH_COST": "test",
        # The clients send as fast as they can with one key: this test is about crashes.
        "SIMGATE_API_RATE_PER_SECOND": "0",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Processes(logs, env)
    try:
        yield running
    finally:
        running.stop_all()


class TestKillNine:
    def test_a_killed_server_loses_no_accepted_message_and_sends_none_twice(
        self, processes: Processes, tmp_path: Path
    ) -> None:
        """Every GUID of a 200 answer leaves exactly one phone exactly once; the phones send
        nothing the server does not know; what the server reports sent is in the radio log;
        a request with an idempotency key stores its messages once across the crash."""
        env = processes.env
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        serve = ("serve", "--host", "127.0.0.1", "--port", str(port))
        # The server starts while the CLI creates the account: both are Python start-ups.
        server = processes.start("server1", *serve)
        account = cli_json(
            env, "account", "create", "--email", "kill9@example.test", "--password", "pw123456"
        )
        devices = cli_json_together(
            env,
            [
                ["device", "add", "--account", "kill9@example.test", "--label", f"phone{i}"]
                for i in range(PHONES)
            ],
        )
        wait_until(lambda: server_up(url), 30, "the server answers")

        outboxes = [tmp_path / f"radio{i}.jsonl" for i in range(PHONES)]
        for i, device in enumerate(devices):
            processes.start(
                f"agent{i}",
                "agent",
                "--server",
                url,
                "--token",
                device["token"],
                "--driver",
                "simulator",
                "--outbox-file",
                str(outboxes[i]),
                "--state-dir",
                str(tmp_path / f"agent{i}"),
                "--log-level",
                "warning",
            )
        # The agents print "connected as <sid>" on standard error after each welcome.
        wait_until(
            lambda: all("connected as" in processes.output(f"agent{i}") for i in range(PHONES)),
            30,
            "every agent connected",
        )

        def restart() -> None:
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
            processes.start("server2", *serve)

        submission = asyncio.run(submit(url, account["api_key"], restart))

        assert submission.refused == [], "every answer should have been a 200"
        assert 0 < submission.answered_at_kill < REQUESTS
        assert sorted(submission.accepted) == list(range(REQUESTS))
        accepted = [guid for guids in submission.accepted.values() for guid in guids]
        assert len(accepted) == len(set(accepted)) == REQUESTS * RECIPIENTS_PER_REQUEST

        def drained() -> bool:
            rows = sent_log(url, account["api_key"])
            return all(rows.get(guid, {}).get("status") == "sent" for guid in accepted) and all(
                row["status"] not in ("queued", "dispatched") for row in rows.values()
            )

        try:
            wait_until(drained, DRAIN_DEADLINE, "every accepted message reported sent", 0.5)
        finally:
            rows = sent_log(url, account["api_key"])
            transmitted = radio_log(outboxes)
            statuses = Counter(row["status"] for row in rows.values())
            print(  # what a failure report needs, shown by pytest only when the test fails
                f"statuses={dict(statuses)} transmitted={sum(transmitted.values())} "
                f"answered_at_kill={submission.answered_at_kill} "
                f"unanswered_attempts={dict(submission.no_answer)}"
            )

        twice = {guid: count for guid, count in transmitted.items() if count > 1}
        assert twice == {}, "messages transmitted more than once"
        lost = set(accepted) - set(transmitted)
        assert lost == set(), "accepted messages never transmitted"
        unknown = set(transmitted) - set(rows)
        assert unknown == set(), "phones transmitted messages the server does not know"
        reported_sent = {guid for guid, row in rows.items() if row["status"] == "sent"}
        assert reported_sent == set(transmitted), "the server's sent log and the radio disagree"

        # Orphans: stored, but no client ever got their GUID. Only a request without an
        # idempotency key, whose first attempt got no answer, may leave some.
        orphans = set(rows) - set(accepted)
        orphan_requests = set()
        for guid in orphans:
            match = TEXT.fullmatch(rows[guid]["message"])
            assert match is not None, rows[guid]
            orphan_requests.add(int(match.group(1)))
        keyed = {index for index in orphan_requests if index % 2 == 0}
        assert keyed == set(), "a request with an idempotency key was stored twice"
        assert orphan_requests <= set(submission.no_answer)
