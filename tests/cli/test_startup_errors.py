"""Mistakes an operator makes on the first real start end in a line or two naming the setting
and the fix, with exit status 2, never a traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.cli.test_server_commands import free_port, simgate
from tests.conftest import eventually


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    env["SIMGATE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    env.update(settings)
    return env


def assert_clear(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert 1 <= len(done.stderr.strip().splitlines()) <= 2, done.stderr
    for needle in needles:
        assert needle in done.stderr


class TestBadSettings:
    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("SIMGATE_PORT", "abc"),
            ("SIMGATE_TIMEZONE", "Mars/Olympus"),
            ("SIMGATE_MAX_RECIPIENTS", "0"),
            ("SIMGATE_TRUSTED_PROXIES", "not-an-address"),
            ("SIMGATE_DEFAULT_REGION", "ZZ"),
        ],
    )
    def test_an_invalid_setting_is_named_with_exit_status_2(
        self, tmp_path: Path, variable: str, value: str
    ) -> None:
        done = simgate("serve", env=clean_env(tmp_path, **{variable: value}), timeout=30)
        assert_clear(done, variable, value)

    def test_other_server_commands_report_settings_the_same_way(self, tmp_path: Path) -> None:
        done = simgate(
            "account",
            "create",
            "--email",
            "a@example.com",
            "--password",
            "pw123456",
            env=clean_env(tmp_path, SIMGATE_TIMEZONE="Nowhere"),
        )
        assert_clear(done, "SIMGATE_TIMEZONE", "unknown time zone")

    def test_the_traceback_is_shown_with_debug_logging(self, tmp_path: Path) -> None:
        env = clean_env(tmp_path, SIMGATE_PORT="abc", SIMGATE_LOG_LEVEL="debug")
        done = simgate("serve", env=env, timeout=30)
        assert done.returncode != 0
        assert "Traceback" in done.stderr


class TestDatabase:
    def test_a_database_in_a_missing_folder_names_the_folder_and_the_fix(
        self, tmp_path: Path
    ) -> None:
        missing = tmp_path / "no" / "such"
        env = clean_env(tmp_path, SIMGATE_DATABASE_URL=f"sqlite+aiosqlite:///{missing}/x.db")
        done = simgate("serve", env=env, timeout=30)
        assert_clear(done, str(missing), "mkdir -p", "SIMGATE_DATABASE_URL")
        assert not missing.exists()

    def test_an_unreachable_database_hides_its_password(self, tmp_path: Path) -> None:
        url = f"postgresql+asyncpg://user:hunter2@127.0.0.1:{free_port()}/db"
        done = simgate(
            "account",
            "create",
            "--email",
            "a@example.com",
            "--password",
            "pw123456",
            env=clean_env(tmp_path, SIMGATE_DATABASE_URL=url),
        )
        assert_clear(done, "cannot open the database", "SIMGATE_DATABASE_URL")
        assert "hunter2" not in done.stderr


def test_serve_on_a_busy_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = simgate("serve", "--port", str(port), env=clean_env(tmp_path), timeout=30)
    assert_clear(done, f"port {port}", "already in use", "--port")


def test_version_prints_the_package_version() -> None:
    from simgate import __version__

    done = simgate("--version", env=dict(os.environ))
    assert done.returncode == 0
    assert done.stdout.strip() == f"simgate {__version__}"


def test_a_second_demo_leaves_the_first_ones_key_working(tmp_path: Path) -> None:
    """``make run`` twice: the second says the port is busy and the first keeps its API key."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    env["PYTHONUNBUFFERED"] = "1"
    first = subprocess.Popen(
        [sys.executable, "-m", "simgate", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert first.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(first.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        key = eventually(
            lambda: next(
                (m.group(1) for line in lines if (m := re.search(r"API key:\s+(\w+)", line))),
                None,
            ),
            timeout=30,
        )

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/getsms/", params={"apikey": key}).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(answers, timeout=30)
        second = subprocess.run(
            [sys.executable, "-m", "simgate", "demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert_clear(second, f"port {port}", "already in use")
        assert answers(), "the first demo's API key was revoked by the second"
        assert (tmp_path / "simgate-demo-agent").is_dir()
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=20)
        reader.join(timeout=5)
        first.stdout.close()
    assert first.returncode == 0, "".join(lines)
