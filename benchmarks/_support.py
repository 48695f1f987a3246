"""What the benchmark scripts share: a free port, the CLI as a user runs it, the agent's outbox.

Imported by the scripts as a sibling module (``python benchmarks/x.py`` puts this folder first
on ``sys.path``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


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
