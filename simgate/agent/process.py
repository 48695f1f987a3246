"""What an agent process does around its runners: logging, signals and exit statuses.

Shared by the one-phone ``simgate agent`` (:mod:`simgate.agent.command`) and the many-phone
one (:mod:`simgate.agent.fleetcommand`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Protocol

from simgate.agent.logformat import LineFormatter

__all__ = ["EXIT_AUTH", "EXIT_INTERRUPTED", "configure_logging", "run_until_signal"]

EXIT_AUTH = 2
"""Exit status for a refused token, so a supervisor (systemd, Termux:Boot) can stop restarting."""
EXIT_INTERRUPTED = 130


def configure_logging(level: str, redact: logging.Filter, log_format: str = "text") -> None:
    """Log lines on stderr in the server's line format (text or JSON), every one through
    ``redact`` (which hides the device tokens)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter(as_json=log_format == "json"))
    handler.addFilter(redact)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if level != "debug":
        # websockets logs every connection attempt at INFO; our own lines say it more briefly.
        logging.getLogger("simgate.agent.websockets").setLevel(logging.WARNING)


class Runnable(Protocol):
    """An agent runner, or a fleet of them."""

    def stop(self) -> None: ...

    async def run(self) -> None: ...


async def run_until_signal(runner: Runnable) -> None:
    """Run until SIGINT/SIGTERM, which stop the runner gracefully (state written, sends finished);
    a second signal skips the wait for sends in progress."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, runner.stop)
            installed.append(signum)
    try:
        await runner.run()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
