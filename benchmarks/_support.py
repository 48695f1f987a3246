"""What the benchmark scripts share: a free port, the CLI as a user runs it, the agent's outbox.

Imported by the scripts as a sibling module (``python benchmarks/x.py`` puts this folder first
on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> Any:
    """``simgate ARGS --json`` with ``env``, its printed JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "simgate", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def wait_answering(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Return once the server at ``url`` answers HTTP (any status); RuntimeError if its
    ``process`` exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url + "/openapi.json", timeout=1)
            return
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server at {url} did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def serving(env: dict[str, str], python: Sequence[str] = (sys.executable,)) -> Iterator[str]:
    """``simgate serve`` on a free loopback port with ``env``, its base URL once it answers;
    stopped (SIGTERM, then SIGKILL) afterwards. ``python`` may add interpreter options (a
    profiler) in front of ``-m simgate``."""
    port = free_port()
    process = subprocess.Popen(
        [*python, "-m", "simgate", "serve", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_answering(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class OutboxReader:
    """New lines of a simulated agent's outbox file (JSON lines), as they appear."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def new_lines(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]
