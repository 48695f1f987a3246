"""Many phones per process, as an operator runs them: `device add --count`, `agent --tokens-file`,
and the open-files limit that both ends raise at start."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually
from tests.support.devices import outbox_lines
from tests.support.server import Account, LiveServer

pytestmark = pytest.mark.timeout(90)

SIMGATE = [sys.executable, "-m", "simgate"]


def cli_env(server: LiveServer) -> dict[str, str]:
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": server.settings.database_url,
        "SIMGATE_PUBLIC_BASE_URL": server.url,
        "SIMGATE_LOG_LEVEL": "warning",
        "SIMGATE_PASSWORD_HASH_COST": "test",
    }
    env.pop("SIMGATE_DEVICE_TOKEN", None)
    env.pop("SIMGATE_PAIRING", None)
    return env


def add_fleet(server: LiveServer, account: Account, count: int) -> list[dict[str, str]]:
    out = subprocess.run(
        [
            *SIMGATE,
            "device",
            "add",
            "--account",
            account.email,
            "--label",
            "Rack",
            "--count",
            str(count),
            "--json",
        ],
        env=cli_env(server),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    paired: list[dict[str, str]] = json.loads(out.stdout)
    return paired


def soft_open_files(limit: int, hard: int | None = None) -> Callable[[], None]:
    """A preexec_fn that starts the child with a lowered open-files limit."""

    def lower() -> None:
        _soft, current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, current_hard if hard is None else hard))

    return lower


class Fleet:
    """A `simgate agent --tokens-file` subprocess and what it printed."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


@pytest.fixture
def fleets(tmp_path: Path) -> Iterator[Callable[..., Fleet]]:
    started: list[Fleet] = []

    def start(server: LiveServer, tokens: list[str], *extra: str, soft: int = 0) -> Fleet:
        tokens_file = tmp_path / f"tokens{len(started)}.txt"
        # Comments and blank lines are allowed in a tokens file.
        tokens_file.write_text("# the rack\n\n" + "\n".join(tokens) + "\n\n")
        log = tmp_path / f"fleet{len(started)}.log"
        with log.open("wb") as stderr:  # the child keeps its own copy
            process = subprocess.Popen(
                [
                    *SIMGATE,
                    "agent",
                    "--server",
                    server.url,
                    "--driver",
                    "simulator",
                    "--tokens-file",
                    str(tokens_file),
                    "--connect-rate",
                    "50",
                    *extra,
                ],
                env=cli_env(server),
                stderr=stderr,
                stdout=subprocess.DEVNULL,
                preexec_fn=soft_open_files(soft) if soft else None,  # noqa: PLW1509 - no threads here
            )
        fleet = Fleet(process, log)
        started.append(fleet)
        return fleet

    yield start
    for fleet in started:
        fleet.stop()


def send_to(http: httpx.Client, account: Account, sid: str, text: str) -> str:
    response = http.post(
        "/sendsms/",
        data={
            "apikey": account.api_key,
            "recipients": "+32470123456",
            "message": text,
            "sIdentifiant": sid,
        },
    )
    assert response.status_code == 200, response.text
    guid: str = response.json()["result"]["id"]
    return guid


class TestDeviceAddCount:
    def test_count_pairs_that_many_devices_and_prints_one_json_list(
        self, server: LiveServer, account: Account
    ) -> None:
        paired = add_fleet(server, account, 3)
        assert len(paired) == 3
        assert all(set(item) == {"sid", "token"} for item in paired)
        assert len({item["sid"] for item in paired}) == 3
        with server.client() as http:
            listing = http.get("/gateway/mobile/list/", params={"apikey": account.api_key})
        labels = {item["sid"]: item["label"] for item in listing.json()["items"]}
        assert sorted(labels[item["sid"]] for item in paired) == ["Rack 1", "Rack 2", "Rack 3"]


class TestTokensFile:
    def test_one_process_connects_a_phone_per_token_and_shares_one_outbox_file(
        self,
        server: LiveServer,
        account: Account,
        fleets: Callable[..., Fleet],
        tmp_path: Path,
    ) -> None:
        """The three tokens `device add --count 3` printed all work, each phone on its own
        connection, and every message lands once in the shared outbox file under its phone's
        SID. The agent raised its lowered soft open-files limit at start."""
        paired = add_fleet(server, account, 3)
        outbox = tmp_path / "shared-outbox.jsonl"
        fleet = fleets(
            server, [item["token"] for item in paired], "--outbox-file", str(outbox), soft=256
        )
        eventually(lambda: "3/3 phones connected" in fleet.stderr(), timeout=30)
        assert "was 256" in fleet.stderr()
        with server.client() as http:
            connected = http.get(
                "/gateway/mobile/list/", params={"apikey": account.api_key}
            ).json()["connected_now"]
            assert connected == 3
            expected = {
                send_to(http, account, item["sid"], f"to {item['sid']} #{n}"): item["sid"]
                for item in paired
                for n in range(2)
            }
        eventually(lambda: len(outbox_lines(outbox)) >= len(expected), timeout=20)
        time.sleep(0.3)  # nothing more may come
        lines = outbox_lines(outbox)
        assert sorted(line["guid"] for line in lines) == sorted(expected)
        for line in lines:
            assert line["sid"] == expected[line["guid"]]
            assert line["text"].startswith(f"to {line['sid']} #")
        assert fleet.stop() == 0
        assert all(item["token"] not in fleet.stderr() for item in paired)

    def test_a_tokens_file_with_a_token_twice_is_refused(
        self, server: LiveServer, account: Account, fleets: Callable[..., Fleet]
    ) -> None:
        token = add_fleet(server, account, 1)[0]["token"]
        fleet = fleets(server, [token, token])
        assert fleet.process.wait(20) == 2
        assert "line 4: this token is already on an earlier" in fleet.stderr()


class TestOpenFilesLimit:
    def test_serve_raises_its_soft_limit_to_the_hard_one(self, server: LiveServer) -> None:
        lines = self._serve_log(server, soft_open_files(256))
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        assert "event='open_files_limit'" in lines
        assert f"soft={hard} was=256" in lines

    def test_serve_warns_when_the_hard_limit_is_too_low(self, server: LiveServer) -> None:
        lines = self._serve_log(server, soft_open_files(1000, hard=1000), lines=2)
        assert "open_files_limit_low" in lines
        assert "LimitNOFILE" in lines

    @staticmethod
    def _serve_log(server: LiveServer, preexec: Callable[[], None], lines: int = 1) -> str:
        env = cli_env(server) | {"SIMGATE_LOG_LEVEL": "info", "SIMGATE_PORT": "0"}
        process = subprocess.Popen(
            [*SIMGATE, "serve"],
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            preexec_fn=preexec,  # noqa: PLW1509 - the limit must be set before exec
        )
        assert process.stderr is not None
        head = "".join(process.stderr.readline().decode() for _ in range(lines))
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        return head
