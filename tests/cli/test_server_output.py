"""What ``simgate serve`` prints: a start line, a line per request (no secret), a stop line, in
one format (key=value text or JSON) for the server, uvicorn and the migrations alike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from simgate.preflight import redacted_url
from tests.cli.test_server_commands import free_port
from tests.conftest import eventually

KEY = "9e6fb09515362f5f4d6cf905ca5ec264bd3903ddd0a15512"


def serve_and_stop(tmp_path: Path, **settings: str) -> tuple[int, str]:
    """Run ``simgate serve``, make three requests, stop it with SIGTERM: its port and stderr."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    env.update(
        SIMGATE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'out.db'}",
        SIMGATE_LOG_LEVEL="info",
        **settings,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "simgate", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually(up, timeout=30, interval=0.1)
        httpx.get(f"{base}/getsms/", params={"apikey": KEY})
        httpx.get(f"{base}/getsms/", headers={"Authorization": "Bearer sgat_secretvalue"})
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    return port, stderr


def test_text_output_has_start_request_and_stop_lines_without_secrets(tmp_path: Path) -> None:
    port, stderr = serve_and_stop(tmp_path)
    lines = stderr.splitlines()
    start = next(line for line in lines if "event='server_started'" in line)
    assert "version='0.1.0'" in start
    assert f"address='http://127.0.0.1:{port}'" in start
    assert "out.db" in start
    assert "phones_allowed='unlimited'" in start
    assert "phones_paired=0" in start
    access = [line for line in lines if "event='request'" in line]
    assert any(
        "path='/getsms/'" in line and "status=403" in line and "ms=" in line for line in access
    )
    assert any("event='server_stopped'" in line for line in lines)
    assert KEY not in stderr
    assert "sgat_secretvalue" not in stderr
    assert "Context impl" not in stderr
    assert "INFO:" not in stderr  # uvicorn's own format never shows
    assert all(line.startswith("timestamp=") for line in lines), stderr


def test_json_format_is_one_object_per_line_for_every_logger(tmp_path: Path) -> None:
    _, stderr = serve_and_stop(tmp_path, SIMGATE_LOG_FORMAT="json")
    events = [json.loads(line) for line in stderr.splitlines()]
    names = {event["event"] for event in events}
    assert {"server_started", "request", "server_stopped"} <= names
    assert any(event.get("logger") == "alembic.runtime.migration" for event in events)
    assert all({"timestamp", "level", "event"} <= set(event) for event in events)


def test_access_log_0_turns_the_request_lines_off(tmp_path: Path) -> None:
    _, stderr = serve_and_stop(tmp_path, SIMGATE_ACCESS_LOG="0")
    assert "event='server_started'" in stderr
    assert "event='request'" not in stderr


def test_the_database_url_is_shown_without_its_password() -> None:
    shown = redacted_url("postgresql+asyncpg://simgate:hunter2@db.example:5432/simgate")
    assert "hunter2" not in shown
    assert shown == "postgresql+asyncpg://simgate:***@db.example:5432/simgate"


def agent_lines(tmp_path: Path, log_format: str) -> list[str]:
    """A second of an agent that cannot reach its server: its stderr lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simgate",
            "agent",
            "--server",
            f"http://127.0.0.1:{free_port()}",
            "--token",
            "sgd_not-a-real-token",
            "--driver",
            "simulator",
            "--state-dir",
            str(tmp_path / "agent"),
            "--log-format",
            log_format,
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert "sgd_not-a-real-token" not in stderr
    return [line for line in stderr.splitlines() if line.strip()]


def test_the_agent_logs_in_the_servers_text_format(tmp_path: Path) -> None:
    lines = agent_lines(tmp_path, "text")
    assert lines
    assert all(
        line.startswith("timestamp=") and " level=" in line and " logger='simgate" in line
        for line in lines
    ), lines


def test_the_agent_logs_json_with_the_servers_keys(tmp_path: Path) -> None:
    events = [json.loads(line) for line in agent_lines(tmp_path, "json")]
    assert events
    assert all({"timestamp", "level", "event", "logger"} <= set(event) for event in events)
