"""The CLI as an operator runs it: real subprocesses on a real database file."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually
from tests.contract import validate


def simgate(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "SIMGATE_LOG_LEVEL": "warning",
        "SIMGATE_PASSWORD_HASH_COST": "test",
    }


@pytest.fixture
def running_server(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simgate", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually(up, timeout=30, interval=0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


class TestAccountsAndDevices:
    def test_account_create_prints_id_and_key_as_json(self, env: dict[str, str]) -> None:
        result = simgate(
            "account",
            "create",
            "--email",
            "Shop@Example.com",
            "--password",
            "s3cret-pass",
            "--json",
            env=env,
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert set(data) == {"account_id", "api_key"}
        assert re.fullmatch(r"[0-9a-f]{48}", data["api_key"])

    def test_a_second_account_with_the_same_email_is_refused_cleanly(
        self, env: dict[str, str]
    ) -> None:
        args = ("account", "create", "--email", "a@example.com", "--password", "s3cret-pass")
        assert simgate(*args, env=env).returncode == 0
        again = simgate(*args, env=env)
        assert again.returncode == 1
        assert "already exists" in again.stderr
        assert "Traceback" not in again.stderr

    def test_device_add_prints_sid_and_token_as_json(self, env: dict[str, str]) -> None:
        simgate("account", "create", "--email", "a@example.com", "--password", "pw123456", env=env)
        result = simgate(
            "device", "add", "--account", "a@example.com", "--label", "Office", "--json", env=env
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert set(data) == {"sid", "token", "pairing"}
        assert data["pairing"].startswith("simgate-pair:?server=")

    def test_device_add_for_an_unknown_account_fails_with_a_message(
        self, env: dict[str, str]
    ) -> None:
        result = simgate("device", "add", "--account", "nobody@example.com", env=env)
        assert result.returncode == 1
        assert "No account" in result.stderr


class TestServe:
    def test_commands_work_while_the_server_runs_and_sigterm_stops_it_cleanly(
        self, env: dict[str, str], running_server: tuple[subprocess.Popen[str], str], tmp_path: Path
    ) -> None:
        process, url = running_server
        created = json.loads(
            simgate(
                "account",
                "create",
                "--email",
                "live@example.com",
                "--password",
                "pw123456",
                "--json",
                env=env,
            ).stdout
        )
        device = json.loads(
            simgate("device", "add", "--account", "live@example.com", "--json", env=env).stdout
        )
        outbox = tmp_path / "outbox.jsonl"
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simgate",
                "agent",
                "--server",
                url,
                "--token",
                device["token"],
                "--driver",
                "simulator",
                "--outbox-file",
                str(outbox),
                "--state-dir",
                str(tmp_path / "agent"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            response = httpx.get(
                f"{url}/sendsms/",
                params={
                    "apikey": created["api_key"],
                    "recipients": "+32470123456",
                    "message": "from the CLI test",
                },
            )
            validate(response.json(), "simgate.SendSuccess")
            guid = response.json()["result"]["id"]

            def status() -> str:
                body = httpx.get(
                    f"{url}/log/sent/sms/",
                    params={"apikey": created["api_key"], "guid_message": guid},
                ).json()
                return str(body["result"]["sms"][0]["status"])

            eventually(lambda: status() == "sent", timeout=20)
            assert json.loads(outbox.read_text().splitlines()[0])["guid"] == guid
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.communicate(timeout=15)
        assert agent.returncode == 0
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0, stderr
        assert time.monotonic() - started < 15
        assert "Traceback" not in stderr
