"""``simgate agent``: run a device agent from the command line.

``simgate/cli.py`` registers :func:`agent_command` and imports this module only when the agent
command runs, so on a phone nothing of the server is ever imported; this module itself needs only
the standard library, typer, and the rest of :mod:`simgate.agent`.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

import typer

from simgate.agent.config import TRANSPORTS
from simgate.agent.drivers import DRIVER_NAMES, Driver
from simgate.agent.drivers.simulator import SimulatorDriver
from simgate.agent.fleet import DEFAULT_CONNECT_RATE
from simgate.agent.fleetcommand import FleetOptions, run_fleet
from simgate.agent.outbox import AgentStateError
from simgate.agent.process import EXIT_AUTH, EXIT_INTERRUPTED, configure_logging, run_until_signal
from simgate.agent.runner import AgentAuthError, AgentConfig, AgentRunner, RedactSecret
from simgate.protocol import device_ws_url, read_pairing

__all__ = ["DEFAULT_STATE_DIR", "EXIT_AUTH", "agent_command", "state_dir_for"]

DEFAULT_STATE_DIR = Path("~/.simgate-agent")
_EXIT_STATE = 1
_LOG_LEVELS = ("debug", "info", "warning", "error")
_LOG_FORMATS = ("text", "json")


def state_dir_for(base: Path, token: str) -> Path:
    """``base/<first 16 hex of sha256(token)>``: one folder per device token.

    Two agents on one machine (two simulated phones, a phone and a modem) then never share an
    outbox or GUID records, and the folder name reveals nothing usable about the token.
    """
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    return base.expanduser() / digest


def _build_driver(
    name: str,
    *,
    delay: float,
    failure_rate: float,
    seed: int | None,
    outbox_file: Path | None,
    inject_inbound: int,
    delivery_reports: bool | None,
    state_dir: Path,
    termux: _TermuxOptions,
    serial_port: str | None,
    baud: int,
    pin: str | None,
) -> Driver:
    if name == "simulator":
        return SimulatorDriver(
            delay=delay,
            failure_rate=failure_rate,
            seed=seed,
            outbox_file=outbox_file,
            inject_inbound=inject_inbound,
            delivery_reports=bool(delivery_reports),
        )
    if name == "termux":
        # Imported only when chosen, like every driver but the simulator.
        from simgate.agent.drivers import termux as termux_driver  # noqa: PLC0415

        sims = termux.sims or termux_driver.detect_sims(min(termux.command_timeout, 10.0)) or (1,)
        return termux_driver.TermuxDriver(
            state_file=state_dir / termux_driver.STATE_FILE_NAME,
            sims=sims,
            command_timeout=termux.command_timeout,
            poll_interval=termux.poll_interval,
            import_last=termux.import_last,
        )
    if name == "modem":
        return _modem_driver(serial_port, baud, pin, delivery_reports=delivery_reports is not False)
    raise typer.BadParameter(
        f"unknown driver {name!r}; available: {', '.join(DRIVER_NAMES)}", param_hint="--driver"
    )


@dataclass(frozen=True, slots=True)
class _TermuxOptions:
    sims: tuple[int, ...]
    command_timeout: float
    poll_interval: float
    import_last: int


def _parse_sims(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        sims = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise typer.BadParameter(
            "a comma-separated list such as 1,2", param_hint="--sims"
        ) from None
    if any(sim < 1 for sim in sims):
        raise typer.BadParameter("SIM numbers start at 1", param_hint="--sims")
    return sims


def _modem_driver(
    serial_port: str | None, baud: int, pin: str | None, *, delivery_reports: bool
) -> Driver:
    if not serial_port:
        raise typer.BadParameter(
            "the modem driver needs the modem's AT port, e.g. /dev/ttyUSB2",
            param_hint="--serial-port",
        )
    if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):  # noqa: PLR2004
        raise typer.BadParameter("a SIM PIN is 4 to 8 digits", param_hint="--pin")
    # Imported only when chosen: its serial library is an optional dependency.
    from simgate.agent.drivers.modem import ModemDriver  # noqa: PLC0415

    try:
        return ModemDriver(port=serial_port, baud=baud, pin=pin, delivery_reports=delivery_reports)
    except ImportError as exc:
        raise typer.BadParameter(str(exc), param_hint="--driver") from None


def _print_connected(sid: str) -> None:
    typer.echo(f"connected as {sid}", err=True)


def agent_command(
    *,
    server: str | None = typer.Option(
        None, "--server", help="Base URL of the simgate server, e.g. https://sms.example.com."
    ),
    pair: str | None = typer.Option(
        None,
        "--pair",
        envvar="SIMGATE_PAIRING",
        show_default=False,
        help="The pairing string `simgate device add` printed (server and token in one).",
    ),
    token: str | None = typer.Option(
        None,
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
    delivery_reports: bool | None = typer.Option(
        None,
        "--delivery-reports/--no-delivery-reports",
        show_default=False,
        help="Simulator: report each sent SMS as delivered (off unless given). Modem: ask the "
        "network for delivery reports (on unless --no-delivery-reports).",
    ),
    sims: str | None = typer.Option(
        None,
        "--sims",
        help="Termux: SIM numbers to offer, e.g. 1,2 (default: the phone's slots, detected).",
    ),
    poll_interval: float = typer.Option(
        5.0, "--poll-interval", min=0.5, help="Termux: seconds between reads of the SMS boxes."
    ),
    command_timeout: float = typer.Option(
        30.0, "--command-timeout", min=1.0, help="Termux: seconds a termux-* command may take."
    ),
    import_last: int = typer.Option(
        0,
        "--import-last",
        min=0,
        help="Termux, first run only: also report the last N SMS already in the inbox.",
    ),
    serial_port: str | None = typer.Option(
        None,
        "--serial-port",
        help="Modem: its AT serial port, e.g. /dev/ttyUSB2 or a /dev/serial/by-id/ name.",
    ),
    baud: int = typer.Option(115_200, "--baud", min=1200, help="Modem: serial port speed."),
    pin: str | None = typer.Option(
        None,
        "--pin",
        envvar="SIMGATE_SIM_PIN",
        show_default=False,
        help="Modem: the SIM's PIN if it asks for one (prefer the environment variable). "
        "Entered once only: a refused PIN is never retried.",
    ),
    tokens_file: Path | None = typer.Option(
        None,
        "--tokens-file",
        help="Simulator: run one simulated phone per token of this file (one a line, # "
        "comments) in this one process, each with its own connection; state kept in memory.",
    ),
    connect_rate: float = typer.Option(
        DEFAULT_CONNECT_RATE,
        "--connect-rate",
        min=0.001,
        help="With --tokens-file: phones started per second, each at a random moment of its "
        "slot, so the server is not hit by every handshake at once.",
    ),
    state_dir: Path = typer.Option(
        DEFAULT_STATE_DIR,
        "--state-dir",
        help="Where the agent keeps unacknowledged reports (a subfolder per token).",
    ),
    log_level: str = typer.Option(
        "info", "--log-level", help=f"One of {', '.join(_LOG_LEVELS)}.", case_sensitive=False
    ),
    log_format: str = typer.Option(
        "text",
        "--log-format",
        envvar="SIMGATE_LOG_FORMAT",
        help="text (key='value' lines) or json (one object a line), as the server's.",
        case_sensitive=False,
    ),
    transport: str = typer.Option(
        "auto",
        "--transport",
        help="websocket, longpoll (HTTP, for networks whose proxies break WebSockets) or auto "
        "(the WebSocket, and long-poll when the upgrade is refused).",
        case_sensitive=False,
    ),
) -> None:
    """Connect this phone, modem or simulator to a simgate server and relay its SMS."""
    level = log_level.lower()
    if level not in _LOG_LEVELS:
        raise typer.BadParameter(
            f"must be one of {', '.join(_LOG_LEVELS)}", param_hint="--log-level"
        )
    log_format = log_format.lower()
    if log_format not in _LOG_FORMATS:
        raise typer.BadParameter(
            f"must be one of {', '.join(_LOG_FORMATS)}", param_hint="--log-format"
        )
    transport = transport.lower()
    if transport not in TRANSPORTS:
        raise typer.BadParameter(
            f"must be one of {', '.join(TRANSPORTS)}", param_hint="--transport"
        )
    if tokens_file is not None:
        options = FleetOptions(
            tokens_file=tokens_file,
            connect_rate=connect_rate,
            delay=delay,
            failure_rate=failure_rate,
            seed=seed,
            outbox_file=outbox_file,
            inject_inbound=inject_inbound,
            delivery_reports=bool(delivery_reports),
            transport=transport,
        )
        run_fleet(server, single=token or pair, driver=driver, options=options, level=level)
        return
    if pair is not None:
        try:
            server, token = read_pairing(pair)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--pair") from None
    if server is None:
        raise typer.BadParameter("give --server and --token, or --pair", param_hint="--server")
    try:
        device_ws_url(server)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--server") from None
    token = (token or "").strip()
    if not token:
        raise typer.BadParameter("the device token is empty", param_hint="--token")
    termux = _TermuxOptions(
        sims=_parse_sims(sims),
        command_timeout=command_timeout,
        poll_interval=poll_interval,
        import_last=import_last,
    )
    configure_logging(level, RedactSecret(token), log_format)
    token_dir = state_dir_for(state_dir, token)
    config = AgentConfig(
        server=server,
        token=token,
        state_dir=token_dir,
        driver=_build_driver(
            driver,
            delay=delay,
            failure_rate=failure_rate,
            seed=seed,
            outbox_file=outbox_file,
            inject_inbound=inject_inbound,
            delivery_reports=delivery_reports,
            state_dir=token_dir,
            termux=termux,
            serial_port=serial_port,
            baud=baud,
            pin=pin,
        ),
        transport=transport,
        on_connected=_print_connected,
    )
    try:
        asyncio.run(run_until_signal(AgentRunner(config)))
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
        raise typer.Exit(EXIT_INTERRUPTED) from None
