"""``simgate agent --tokens-file``: the command-line side of a fleet of simulated phones.

Checks the options, reads the tokens, raises the open-files limit (one socket per phone) and
runs a :class:`~simgate.agent.fleet.Fleet` until SIGINT/SIGTERM. Kept apart from
:mod:`simgate.agent.command`, the one-phone command, which only hands over to :func:`run_fleet`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import typer

from simgate.agent.drivers.simulator import SimulatorDriver, TransmissionLog
from simgate.agent.fleet import FLEET_KEEP_TRANSMITTED, RedactTokens, build_fleet, read_tokens
from simgate.agent.process import EXIT_AUTH, EXIT_INTERRUPTED, configure_logging, run_until_signal
from simgate.agent.runner import AgentAuthError
from simgate.oslimits import raise_open_files_limit
from simgate.protocol import device_ws_url

__all__ = ["FleetOptions", "run_fleet"]

#: Descriptors a fleet needs besides one socket per phone (stdio, the outbox file, the loop).
SPARE_FILES = 64


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """The simulator options every phone of the fleet gets, and how the fleet starts."""

    tokens_file: Path
    connect_rate: float
    delay: float
    failure_rate: float
    seed: int | None
    outbox_file: Path | None
    inject_inbound: int
    delivery_reports: bool
    transport: str


def run_fleet(
    server: str | None, *, single: str | None, driver: str, options: FleetOptions, level: str
) -> None:
    """``--tokens-file``: one simulated phone per token, all on this process's event loop."""
    if driver != "simulator":
        raise typer.BadParameter("only the simulator runs many phones", param_hint="--driver")
    if single:
        raise typer.BadParameter(
            "give --tokens-file, or --token/--pair, not both", param_hint="--tokens-file"
        )
    if server is None:
        raise typer.BadParameter("--tokens-file needs --server", param_hint="--server")
    try:
        device_ws_url(server)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--server") from None
    try:
        tokens = read_tokens(options.tokens_file)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--tokens-file") from None
    redact = RedactTokens(tokens)
    configure_logging(level, redact)
    logging.getLogger("simgate.agent.websockets").addFilter(redact)
    _raise_open_files(len(tokens))
    shared = TransmissionLog(options.outbox_file) if options.outbox_file is not None else None

    def driver_for(index: int) -> SimulatorDriver:
        return SimulatorDriver(
            delay=options.delay,
            failure_rate=options.failure_rate,
            seed=None if options.seed is None else options.seed + index,
            transmission_log=shared,
            inject_inbound=options.inject_inbound,
            delivery_reports=options.delivery_reports,
            keep_transmitted=FLEET_KEEP_TRANSMITTED,
        )

    def report(line: str) -> None:
        typer.echo(line, err=True)

    fleet = build_fleet(
        server,
        tokens,
        driver_for,
        transport=options.transport,
        connect_rate=options.connect_rate,
        report=report,
    )
    report(f"starting {len(tokens)} simulated phones at {options.connect_rate:g}/s")
    try:
        asyncio.run(run_until_signal(fleet))
    except AgentAuthError as exc:
        typer.echo(f"error: {exc}. Check the tokens file; the agent will not retry.", err=True)
        raise typer.Exit(EXIT_AUTH) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _raise_open_files(phones: int) -> None:
    """One socket per phone: take every descriptor the hard limit allows, warn if too few."""
    limits = raise_open_files_limit(phones + SPARE_FILES)
    if limits is None:
        return
    logging.getLogger(__name__).info(
        "open files: soft limit %d (was %d), hard limit %d", limits.soft, limits.before, limits.hard
    )
    if not limits.enough:
        logging.getLogger(__name__).warning("%s; some phones will fail to connect", limits.advice)
