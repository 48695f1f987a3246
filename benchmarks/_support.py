"""What every benchmark script needs to start servers: a free port, the CLI as a user runs it.

Imported by the scripts as a sibling module (``python benchmarks/x.py`` puts this folder first
on ``sys.path``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
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
