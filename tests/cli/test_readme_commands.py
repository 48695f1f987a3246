"""The ``simgate`` commands of README.md, run as a reader runs them: in the README's order, the
installed ``simgate`` on the PATH, in a fresh folder and a fresh home.

Only what a reader must replace is replaced: the password (``'…'``), a device's ``SID`` (the
one ``device add`` printed), the data folder and port (the test's own), and ``0.0.0.0`` (tests
listen on loopback only). ``simgate serve`` runs until its ``/healthz`` answers, then stops.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.docexamples import ROOT, blocks, commands

README = ROOT / "README.md"
BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery"  # the test account's, on a throwaway database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def readme_commands() -> list[tuple[int, str, str | None]]:
    """(line, command, why skipped) of every command of the README's shell blocks."""
    found = []
    for block in blocks(README):
        if block.lang != "sh":
            continue
        block_commands = commands(block.text)
        if not any(command.startswith("simgate ") for _, command in block_commands):
            continue
        for offset, command in block_commands:
            found.append((block.line + 1 + offset, command, block.skip))
    return found


class Reader:
    """A shell of the reader's: its environment, what it learnt from earlier commands."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.data = home / "var-lib-simgate"
        self.port = free_port()
        self.sids: list[str] = []
        self.env = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
            "SHELL": "/bin/bash",
            "SIMGATE_LOG_LEVEL": "warning",
            "SIMGATE_PASSWORD_HASH_COST": "test",
            "LANG": "C.UTF-8",
        }

    def words(self, command: str) -> list[str]:
        text = command.replace("/var/lib/simgate", str(self.data))
        text = text.replace("--password '…'", f"--password '{PASSWORD}'")
        text = text.replace("--host 0.0.0.0", "--host 127.0.0.1")
        text = text.replace("--port 8000", f"--port {self.port}")
        words = shlex.split(text, comments=True)
        if "SID" in words:
            words[words.index("SID")] = self.sid_for(words)
        return words

    def sid_for(self, words: list[str]) -> str:
        """The device a command names: a spare one for ``device remove`` (the reader removes
        a phone they no longer use), else the one paired first."""
        if words[:3] == ["simgate", "device", "remove"]:
            done = self.simgate("device", "add", "--account", "you@example.com", "--json")
            return str(re.search(r'"sid": "(\w+)"', done.stdout).group(1))  # type: ignore[union-attr]
        return self.sids[0]

    def simgate(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["simgate", *args],
            env=self.env,
            cwd=self.home,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def run(self, line: int, command: str) -> None:
        words = self.words(command)
        where = f"README.md:{line}: {command}"
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            self.env[name] = value
            return
        if words[0] == "mkdir":
            subprocess.run(words, env=self.env, check=True, timeout=10)
            return
        assert words[0] == "simgate", f"{where}: only simgate commands are run here"
        if words[1] == "serve":
            self.serve(words, where)
            return
        done = self.simgate(*words[1:], stdin="y\n")
        assert done.returncode == 0, f"{where}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, where
        added = re.search(r"Device (\w+) added", done.stdout)
        if added:
            self.sids.append(added.group(1))

    def serve(self, words: list[str], where: str) -> None:
        process = subprocess.Popen(
            words, env=self.env, cwd=self.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, f"{where}: exited {process.returncode}"
                try:
                    if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{where}: no /healthz within 30 s"
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
        assert process.returncode == 0, f"{where}: stopped with {process.returncode}"


@pytest.mark.timeout(300)  # some twenty processes in a row, on a machine that may be busy
def test_the_readme_commands_work_as_written(tmp_path: Path) -> None:
    reader = Reader(tmp_path)
    ran = 0
    for line, command, skipped in readme_commands():
        if skipped is None:
            reader.run(line, command)
            ran += 1
    assert ran >= 15
    # What they did, as the reader sees it afterwards.
    listed = reader.simgate("account", "list", "--json")
    assert '"email": "you@example.com"' in listed.stdout
    assert '"routing_policy": "sticky"' in listed.stdout
    assert (tmp_path / "var-lib-simgate" / "simgate.db").exists()
    completion = (tmp_path / ".bash_completions" / "simgate.sh").read_text()
    assert "_simgate_completion" in completion


def test_few_readme_commands_are_skipped() -> None:
    skipped = sorted({f"README.md:{line} ({why})" for line, _, why in readme_commands() if why})
    assert len(skipped) <= 2, skipped


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_a_script_for_each_shell(shell: str) -> None:
    done = subprocess.run(
        [str(BIN / "simgate"), "--show-completion", shell],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "_SIMGATE_COMPLETE" in done.stdout
    assert "simgate" in done.stdout


def test_bash_completes_commands_and_options_with_the_printed_script() -> None:
    """The script `--show-completion bash` prints, sourced into a real bash, completes."""
    script = f"""
source <("{BIN / "simgate"}" --show-completion bash)
complete_words() {{
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
    _simgate_completion simgate
    printf '%s\\n' "${{COMPREPLY[@]}}"
}}
echo "[1]"; complete_words simgate acc
echo "[2]"; complete_words simgate account re
echo "[3]"; complete_words simgate send --me
"""
    done = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second, third = (part.split() for part in done.stdout.split("[", 3)[1:])
    assert first[1:] == ["account"]
    assert second[1:] == ["region"]
    assert third[1:] == ["--message"]
