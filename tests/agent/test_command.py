"""``simgate agent`` as a user runs it (a subprocess), and the agent's import isolation."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simgate.agent.command import EXIT_AUTH, state_dir_for
from simgate.agent.outbox import STATE_FILE_NAME
from simgate.protocol import pairing_string, read_pairing
from tests.agent.scripted_server import SID, TOKEN, ScriptedServer, guid, read_lines, send_frame

REPO = Path(__file__).resolve().parents[2]

# The agent command as `simgate/cli.py` registers it, without importing the CLI module (which
# belongs to the server side and may import more).
AGENT_CLI = (
    "import typer\n"
    "from simgate.agent.command import agent_command\n"
    "app = typer.Typer()\n"
    "app.command()(agent_command)\n"
    "app()\n"
)


def agent_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIMGATE_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


async def start_agent(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        AGENT_CLI,
        *args,
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


class TestAgentCommand:
    @pytest.mark.anyio
    @pytest.mark.timeout(30)
    async def test_a_refused_token_exits_2_with_a_clear_message(self, tmp_path: Path) -> None:
        secret = "not-the-right-token-1234"
        async with ScriptedServer() as server:
            process = await start_agent(
                "--server",
                server.url,
                "--token",
                secret,
                "--state-dir",
                str(tmp_path),
                env=agent_env(),
            )
            stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
        text = stderr.decode()
        assert process.returncode == EXIT_AUTH, text
        assert "invalid device token" in text
        assert "will not retry" in text
        assert secret not in text + stdout.decode()
        assert server.attempts == 1

    @pytest.mark.anyio
    @pytest.mark.timeout(30)
    async def test_connects_relays_and_stops_cleanly_on_sigterm(self, tmp_path: Path) -> None:
        outbox_file = tmp_path / "outbox.jsonl"
        async with ScriptedServer() as server:
            process = await start_agent(
                "--server",
                server.url,
                "--state-dir",
                str(tmp_path / "state"),
                "--outbox-file",
                str(outbox_file),
                "--inject-inbound",
                "2",
                "--log-level",
                "debug",
                env=agent_env(SIMGATE_DEVICE_TOKEN=TOKEN),
            )
            assert process.stderr is not None
            lines: list[str] = []
            async with asyncio.timeout(15):
                while not any(line.startswith("connected as") for line in lines):
                    raw = await process.stderr.readline()
                    assert raw, f"agent exited early: {''.join(lines)}"
                    lines.append(raw.decode())
            assert f"connected as {SID}\n" in lines
            await server.wait_for("received", 2)
            await server.send(send_frame(guid(1)))
            await server.wait_for("sent")
            process.send_signal(signal.SIGTERM)
            _, rest = await asyncio.wait_for(process.communicate(), 15)
        output = "".join(lines) + rest.decode()
        assert process.returncode == 0, output
        assert TOKEN not in output  # not even in websockets' debug log of the handshake
        assert [line["guid"] for line in read_lines(outbox_file)] == [guid(1)]
        assert (state_dir_for(tmp_path / "state", TOKEN) / STATE_FILE_NAME).is_file()


class TestPairing:
    @pytest.mark.anyio
    @pytest.mark.timeout(30)
    async def test_the_pairing_string_alone_connects_the_agent(self, tmp_path: Path) -> None:
        async with ScriptedServer() as server:
            process = await start_agent(
                "--state-dir",
                str(tmp_path),
                env=agent_env(SIMGATE_PAIRING=pairing_string(server.url, TOKEN)),
            )
            assert process.stderr is not None
            lines: list[str] = []
            async with asyncio.timeout(15):
                while not any(line.startswith("connected as") for line in lines):
                    raw = await process.stderr.readline()
                    assert raw, f"agent exited early: {''.join(lines)}"
                    lines.append(raw.decode())
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), 15)
        assert f"connected as {SID}\n" in lines
        assert process.returncode == 0

    @pytest.mark.anyio
    @pytest.mark.timeout(30)
    async def test_a_bad_pairing_string_is_a_usage_error_naming_it(self, tmp_path: Path) -> None:
        process = await start_agent(
            "--pair", "https://example.com/?token=x", "--state-dir", str(tmp_path), env=agent_env()
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 2
        assert "--pair" in stderr.decode()

    def test_the_string_carries_server_and_token_and_refuses_half_of_it(self) -> None:
        text = pairing_string("https://sms.example.com/base", "sgd_a+b/c")
        assert read_pairing(text) == ("https://sms.example.com/base", "sgd_a+b/c")
        for bad in ("simgate-pair:?server=https://x.example", "simgate-pair:?token=t", "x:y"):
            with pytest.raises(ValueError, match="pairing string"):
                read_pairing(bad)


def test_each_token_gets_its_own_state_folder(tmp_path: Path) -> None:
    first = state_dir_for(tmp_path, "token-one")
    assert first.parent == tmp_path
    assert first != state_dir_for(tmp_path, "token-two")
    assert first == state_dir_for(tmp_path, "token-one")
    assert "token" not in first.name


@pytest.mark.timeout(60)
def test_the_agent_imports_without_any_server_dependency() -> None:
    """On a phone the server extra is not installed: the agent must not even try to import it."""
    script = textwrap.dedent(
        """
        import sys

        BLOCKED = {"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "aiosqlite",
                   "asyncpg", "pydantic", "pydantic_settings", "orjson", "structlog"}

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in BLOCKED:
                    raise ImportError(f"blocked on a phone: {name}")
                return None

        sys.meta_path.insert(0, Blocker())
        import simgate.agent.runner, simgate.agent.command, simgate.agent.drivers.simulator
        import simgate.protocol

        leaked = sorted(
            name for name in sys.modules
            if name.partition(".")[0] == "simgate"
            and name not in ("simgate", "simgate.protocol", "simgate.domain")
            and name != "simgate.domain.channels"  # pure: the protocol's channel names
            and name != "simgate.oslimits"  # standard library only: the open-files limit
            and not name.startswith("simgate.protocol.")
            and name.partition(".")[2].partition(".")[0] != "agent"
        )
        assert not leaked, leaked
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
