"""``simgate agent``: run a device agent from the command line.

``simgate/cli.py`` registers :func:`agent_command` and imports this module only when the agent
command runs, so on a phone nothing of the server is ever imported; this module itself needs only
the standard library, typer, and the rest of :mod:`simgate.agent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import sys
from pathlib import Path

import typer

from simgate.agent.drivers import DRIVER_NAMES, Driver
from simgate.agent.drivers.simulator import SimulatorDriver
from simgate.agent.outbox import AgentStateError
from simgate.agent.runner import AgentAuthError, AgentConfig, AgentRunner, RedactSecret
from simgate.protocol import device_ws_url

__all__ = ["DEFAULT_STATE_DIR", "EXIT_AUTH", "agent_command", "state_dir_for"]

DEFAULT_STATE_DIR = Path("~/.simgate-agent")
EXIT_AUTH = 2
"""Exit status for a refused token, so a supervisor (systemd, Termux:Boot) can stop restarting."""
_EXIT_STATE = 1
_EXIT_INTERRUPTED = 130
_LOG_LEVELS = ("debug", "info", "warning", "error")


def state_dir_for(base: Path, token: str) -> Path:
    """``base/<first 16 hex of sha256(token)>``: one folder per device token.

    Two agents on one machine (two simulated phones, a phone and a modem) then never share an
    outbox or GUID records, and the folder name reveals nothing usable about the token.
    """
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    return base.expanduser() / digest


def _configure_logging(level: str, token: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecret(token))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if level != "debug":
        # websockets logs every connection attempt at INFO; our own lines say it more briefly.
        logging.getLogger("simgate.agent.websockets").setLevel(logging.WARNING)


def _build_driver(
    name: str,
    *,
    delay: float,
    failure_rate: float,
    seed: int | None,
    outbox_file: Path | None,
    inject_inbound: int,
) -> Driver:
    if name == "simulator":
        return SimulatorDriver(
            delay=delay,
            failure_rate=failure_rate,
            seed=seed,
            outbox_file=outbox_file,
            inject_inbound=inject_inbound,
        )
    raise typer.BadParameter(
        f"unknown driver {name!r}; available: {', '.join(DRIVER_NAMES)}", param_hint="--driver"
    )


async def _run(runner: AgentRunner) -> None:
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


def _print_connected(sid: str) -> None:
    typer.echo(f"connected as {sid}", err=True)


def agent_command(
    *,
    server: str = typer.Option(
        ..., "--server", help="Base URL of the simgate server, e.g. https://sms.example.com."
    ),
    token: str = typer.Option(
        ...,
        "--token",
        envvar="SIMGATE_DEVICE_TOKEN",
        show_default=False,
        help="Device token from `simgate device add` (prefer the environment variable: "
        "command lines are visible to other users).",
    ),
    driver: str = typer.Option(
        "simulator", "--driver", help=f"What sends the SMS: {', '.join(DRIVER_NAMES)}."
    ),
    delay: float = typer.Option(
        0.0, "--delay", min=0.0, help="Simulator: seconds each message takes to send."
    ),
    failure_rate: float = typer.Option(
        0.0,
        "--failure-rate",
        min=0.0,
        max=1.0,
        help="Simulator: share of messages the operator refuses (0..1).",
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Simulator: seed for repeatable failures."
    ),
    outbox_file: Path | None = typer.Option(
        None,
        "--outbox-file",
        help="Simulator: append one JSON line per transmitted message to this file.",
    ),
    inject_inbound: int = typer.Option(
        0, "--inject-inbound", min=0, help="Simulator: receive this many SMS once connected."
    ),
    state_dir: Path = typer.Option(
        DEFAULT_STATE_DIR,
        "--state-dir",
        help="Where the agent keeps unacknowledged reports (a subfolder per token).",
    ),
    log_level: str = typer.Option(
        "info", "--log-level", help=f"One of {', '.join(_LOG_LEVELS)}.", case_sensitive=False
    ),
) -> None:
    """Connect this phone, modem or simulator to a simgate server and relay its SMS."""
    level = log_level.lower()
    if level not in _LOG_LEVELS:
        raise typer.BadParameter(
            f"must be one of {', '.join(_LOG_LEVELS)}", param_hint="--log-level"
        )
    try:
        device_ws_url(server)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--server") from None
    token = token.strip()
    if not token:
        raise typer.BadParameter("the device token is empty", param_hint="--token")
    _configure_logging(level, token)
    config = AgentConfig(
        server=server,
        token=token,
        state_dir=state_dir_for(state_dir, token),
        driver=_build_driver(
            driver,
            delay=delay,
            failure_rate=failure_rate,
            seed=seed,
            outbox_file=outbox_file,
            inject_inbound=inject_inbound,
        ),
        on_connected=_print_connected,
    )
    try:
        asyncio.run(_run(AgentRunner(config)))
    except AgentAuthError as exc:
        typer.echo(
            f"error: {exc}. Check --token / SIMGATE_DEVICE_TOKEN; the agent will not retry.",
            err=True,
        )
        raise typer.Exit(EXIT_AUTH) from None
    except AgentStateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(_EXIT_STATE) from None
    except KeyboardInterrupt:
        # Only before the signal handlers are installed (or where they cannot be).
        raise typer.Exit(_EXIT_INTERRUPTED) from None
