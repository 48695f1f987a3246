"""The ``simgate`` command line.

Server commands import the server stack inside the command, so ``simgate agent`` works on a
phone where only the light base install (no FastAPI, SQLAlchemy, ...) is present.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from simgate.cli_access import key_app, oauth_app
from simgate.cli_support import (
    ACCOUNT_OPTION,
    JSON_OPTION,
    emit,
    run_with_context,
    server_settings,
    startup_errors,
)
from simgate.protocol import pairing_string

if TYPE_CHECKING:
    from simgate.config import Settings
    from simgate.context import Context
    from simgate.services.devices import Pacing

T = TypeVar("T")

app = typer.Typer(
    help="simgate: your own phones and modems as an SMS gateway.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion for bash, zsh, fish, PowerShell
)
account_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
device_app = typer.Typer(help="Manage devices (phones and modems).", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(device_app, name="device")
optout_app = typer.Typer(
    help="Manage the numbers that opted out of an account's messages.", no_args_is_help=True
)
app.add_typer(optout_app, name="optout")
app.add_typer(key_app, name="key")
app.add_typer(oauth_app, name="oauth")


def _print_version(value: bool) -> None:
    if value:
        from simgate import __version__

        typer.echo(f"simgate {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    _version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """simgate: your own phones and modems as an SMS gateway."""


DEMO_EMAIL = "demo@simgate.local"
DEMO_DEVICE = "Simulated phone"


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to listen on [SIMGATE_HOST]."),
    port: int | None = typer.Option(None, help="Port to listen on [SIMGATE_PORT]."),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Server processes sharing the port (PostgreSQL only) [SIMGATE_WORKERS].",
    ),
) -> None:
    """Migrate the database and run the server until SIGINT/SIGTERM."""
    from simgate.logs import configure_logging
    from simgate.preflight import check_port_free, check_workers, migrate

    settings = server_settings(host=host, port=port, workers=workers)
    with startup_errors():
        check_workers(settings.database_url, settings.workers)
    configure_logging(settings.log_level, settings.log_format)
    with startup_errors():
        check_port_free(settings.host, settings.port)
        migrate(settings.database_url)  # once, before any worker starts
    _raise_open_files()  # inherited by the workers
    if settings.workers > 1:
        from simgate.workers import serve_workers

        raise typer.Exit(code=serve_workers(settings, settings.workers))
    from simgate.app import create_app
    from simgate.serving import Server, server_config

    Server(server_config(create_app(settings), settings)).run()  # uvloop if there


@app.command("migrate")
def migrate_command(as_json: bool = JSON_OPTION) -> None:
    """Bring the database schema to this version, as ``serve`` does at start, and exit.

    For upgrades: run it once, then start (or restart) the servers on the new version.
    Several at once are safe: on PostgreSQL they take turns on an advisory lock."""
    from simgate.logs import configure_logging
    from simgate.preflight import migrate
    from simgate.store.migrate import head_revision

    settings = server_settings()
    configure_logging(settings.log_level, settings.log_format)
    with startup_errors():
        migrate(settings.database_url)
    revision = head_revision()
    emit(as_json, {"revision": revision}, f"Database schema at revision {revision}.")


def _raise_open_files() -> None:
    """One socket per connected phone: take every descriptor the hard limit allows, and say
    so when that is still too few for thousands of phones."""
    import structlog

    from simgate.oslimits import SERVER_OPEN_FILES, raise_open_files_limit

    limits = raise_open_files_limit(SERVER_OPEN_FILES)
    if limits is None:
        return
    log = structlog.get_logger("simgate.serve")
    log.info("open_files_limit", soft=limits.soft, was=limits.before, hard=limits.hard)
    if not limits.enough:
        log.warning("open_files_limit_low", advice=limits.advice)


@account_app.command("create")
def account_create(
    email: str = typer.Option(..., "--email", help="Login e-mail of the account."),
    password: str = typer.Option(
        ..., "--password", help="Dashboard password (8+ characters).", envvar="SIMGATE_PASSWORD"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Create an account and print its first API key (shown only now)."""
    from simgate.services import accounts

    created = run_with_context(
        server_settings(), lambda ctx: accounts.create_account(ctx, email, password)
    )
    emit(
        as_json,
        {"account_id": created.account_id, "api_key": created.api_key},
        f"Account {created.account_id} created.\nAPI key (shown once): {created.api_key}",
    )


RATE_PER_MINUTE = typer.Option(
    None, "--rate-per-minute", min=0, help="At most N sends a minute, evenly spaced (0: none)."
)
RATE_PER_HOUR = typer.Option(
    None, "--rate-per-hour", min=0, help="At most N sends an hour, evenly spaced (0: none)."
)
DAILY_CAP = typer.Option(None, "--daily-cap", min=0, help="At most N sends a day (0: none).")


@device_app.command("add")
def device_add(
    *,
    account: str = typer.Option(..., "--account", help="E-mail of the owning account."),
    label: str = typer.Option("", "--label", help="A name for the device."),
    rate_per_minute: int | None = RATE_PER_MINUTE,
    rate_per_hour: int | None = RATE_PER_HOUR,
    daily_cap: int | None = DAILY_CAP,
    show_qr: bool = typer.Option(True, "--qr/--no-qr", help="Print the pairing QR code."),
    count: int | None = typer.Option(
        None,
        "--count",
        min=1,
        help="Pair N devices at once, labelled 'LABEL 1' … 'LABEL N', in one transaction; "
        "prints one SID and token per line (--json: one list of {sid, token}).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Pair a new device: print its SID, token and pairing string (shown only now) and a QR
    code of the pairing string for the phone to scan."""
    from simgate.services import devices

    pacing = devices.Pacing(
        rate_per_minute=rate_per_minute, rate_per_hour=rate_per_hour, daily_cap=daily_cap
    )
    settings = server_settings()
    if count is not None:
        _device_add_many(settings, account, label, count, pacing, as_json=as_json)
        return
    paired = run_with_context(settings, lambda ctx: devices.add_device(ctx, account, label, pacing))
    pairing = pairing_string(settings.public_base_url, paired.token)
    if as_json:
        emit(True, {"sid": paired.sid, "token": paired.token, "pairing": pairing}, "")
        return
    typer.echo(f"Device {paired.sid} added.\nToken (shown once): {paired.token}")
    typer.echo(f"Pairing string (secret, like the token): {pairing}")
    if show_qr:
        import segno

        buffer = io.StringIO()
        segno.make(pairing, error="m").terminal(out=buffer, compact=True)
        typer.echo(buffer.getvalue())
    typer.echo(f"On the phone: simgate agent --pair '{pairing}' --driver termux")


def _device_add_many(
    settings: Settings,
    account: str,
    label: str,
    count: int,
    pacing: Pacing,
    *,
    as_json: bool,
) -> None:
    """``device add --count N``: a fleet for ``simgate agent --tokens-file`` (no QR codes)."""
    from simgate.services import pairing

    paired = run_with_context(
        settings, lambda ctx: pairing.add_devices(ctx, account, label, count, pacing)
    )
    if as_json:
        typer.echo(json.dumps([{"sid": item.sid, "token": item.token} for item in paired]))
        return
    typer.echo(f"{len(paired)} devices added. Tokens (shown once), one SID and token a line:")
    for item in paired:
        typer.echo(f"{item.sid}\t{item.token}")


@device_app.command("update")
def device_update(
    sid: str = typer.Argument(..., help="SID of the device."),
    *,
    label: str | None = typer.Option(None, "--label", help="A new name (empty clears it)."),
    rate_per_minute: int | None = RATE_PER_MINUTE,
    rate_per_hour: int | None = RATE_PER_HOUR,
    daily_cap: int | None = DAILY_CAP,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Rename a device or set its send limits (a connected device gets them on reconnect)."""
    from simgate.services import devices

    change = devices.DeviceChange(
        sid=sid,
        label=label,
        pacing=devices.Pacing(
            rate_per_minute=rate_per_minute, rate_per_hour=rate_per_hour, daily_cap=daily_cap
        ),
    )
    updated = run_with_context(
        server_settings(), lambda ctx: devices.update_any_device(ctx, change)
    )
    pacing = {
        "rate_per_minute": updated.pacing.rate_per_minute,
        "rate_per_hour": updated.pacing.rate_per_hour,
        "daily_cap": updated.pacing.daily_cap,
    }
    emit(
        as_json,
        {"sid": updated.sid, "label": updated.label, "pacing": pacing},
        f"Device {updated.sid} updated: label {updated.label!r}, "
        + ", ".join(
            f"{name} {value if value is not None else 'none'}" for name, value in pacing.items()
        ),
    )


@account_app.command("routing")
def account_routing(
    policy: str = typer.Argument(..., help="round_robin, least_loaded or sticky."),
    account: str = typer.Option(..., "--account", help="E-mail of the account."),
) -> None:
    """Choose how the account's messages are spread over its devices."""
    from simgate.services import accounts

    chosen = run_with_context(
        server_settings(), lambda ctx: accounts.set_routing_policy(ctx, account, policy)
    )
    typer.echo(f"Routing policy of {account}: {chosen}")


@account_app.command("region")
def account_region(
    region: str | None = typer.Argument(
        None,
        metavar="REGION",
        help="ISO 3166 alpha-2 code (FR, US, ...) where the account's numbers without + are read.",
        show_default=False,
    ),
    account: str = ACCOUNT_OPTION,
    clear: bool = typer.Option(
        False, "--clear", help="Forget the account's region: read numbers in the server's default."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Read the account's numbers without + in REGION instead of SIMGATE_DEFAULT_REGION; with
    neither REGION nor --clear, show the current one. A running server applies it at once."""
    from simgate.services import accounts

    settings = server_settings()
    if region is not None and clear:
        typer.echo("error: give a REGION or --clear, not both.", err=True)
        raise typer.Exit(code=2)
    if region is None and not clear:
        shown = run_with_context(settings, lambda ctx: accounts.region_of_email(ctx, account))
    else:
        shown = run_with_context(settings, lambda ctx: accounts.set_region(ctx, account, region))
    human = (
        f"Region of {account}: {shown}"
        if shown is not None
        else f"Region of {account}: {settings.default_region} (the server's default)"
    )
    emit(as_json, {"account": account, "region": shown, "default": settings.default_region}, human)


@optout_app.command("list")
def optout_list(account: str = ACCOUNT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the account's opted-out numbers, oldest first."""
    from simgate.domain import timefmt
    from simgate.services import optouts

    async def job(ctx: Context) -> list[optouts.OptOut]:
        return await optouts.list_opt_outs(ctx, await optouts.account_of(ctx, account))

    found = run_with_context(server_settings(), job)
    rows = [
        {"number": item.number, "source": item.source, "since": timefmt.iso_utc(item.created_ms)}
        for item in found
    ]
    lines = [f"{row['number']}\t{row['source']}\t{row['since']}" for row in rows]
    emit(as_json, {"opt_outs": rows}, "\n".join(lines) or "No number opted out.")


@optout_app.command("add")
def optout_add(
    number: str = typer.Argument(..., help="The number that must not be texted any more."),
    account: str = ACCOUNT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Put a number on the account's opt-out list: /sendsms/ fails its messages (opted_out)."""
    from simgate.services import optouts

    async def job(ctx: Context) -> optouts.OptOutChange:
        return await optouts.add(ctx, await optouts.account_of(ctx, account), number, "cli")

    change = run_with_context(server_settings(), job)
    human = "added" if change.changed else "already on the list"
    emit(as_json, {"number": change.number, "added": change.changed}, f"{change.number} {human}")


@optout_app.command("remove")
def optout_remove(
    number: str = typer.Argument(..., help="The number that may be texted again."),
    account: str = ACCOUNT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Take a number off the account's opt-out list."""
    from simgate.services import optouts

    async def job(ctx: Context) -> optouts.OptOutChange:
        return await optouts.remove(ctx, await optouts.account_of(ctx, account), number)

    change = run_with_context(server_settings(), job)
    human = "removed" if change.changed else "was not on the list"
    emit(as_json, {"number": change.number, "removed": change.changed}, f"{change.number} {human}")


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the server on ./simgate.db with a demo account and a connected simulated phone."""
    from simgate.logs import configure_logging
    from simgate.preflight import check_port_free
    from simgate.services import accounts, devices
    from simgate.store import devices as device_store

    settings = server_settings(host=host, port=port, public_base_url=f"http://{host}:{port}")
    # Before anything else: a second demo beside a running one must not replace the first one's
    # API key and phone token, then die on the busy port.
    with startup_errors():
        check_port_free(settings.host, settings.port)
    configure_logging(settings.log_level, settings.log_format)

    # A fresh dashboard password each run too, printed below (the old one is not stored).
    password = secrets.token_urlsafe(12)

    async def prepare(ctx: Context) -> tuple[str, str]:
        if await accounts.account_id_by_email(ctx, DEMO_EMAIL) is None:
            await accounts.create_account(ctx, DEMO_EMAIL, password)
        else:
            await accounts.set_password(ctx, DEMO_EMAIL, password)
        # A fresh key each run: stored keys are hashed, so an old one cannot be shown again.
        key = await accounts.issue_key(ctx, DEMO_EMAIL, "demo", replace=True)
        account_id = await accounts.account_id_by_email(ctx, DEMO_EMAIL)
        if account_id is None:
            raise RuntimeError("the demo account vanished while being prepared")
        async with ctx.db.connect() as conn:
            row = await device_store.by_label(conn, account_id, DEMO_DEVICE)
        if row is None:
            token = (await devices.add_device(ctx, DEMO_EMAIL, DEMO_DEVICE)).token
        else:
            token = await devices.new_token(ctx, account_id, str(row["sid"]))
        return key, token

    api_key, token = run_with_context(settings, prepare)
    base = settings.public_base_url
    typer.echo(
        f"\nsimgate demo on {base}\n"
        f"  account:  {DEMO_EMAIL}\n"
        f"  API key:  {api_key}\n"
        f"  dashboard: {base}/dashboard/ (sign in as {DEMO_EMAIL}, password {password})\n"
        f"  a simulated phone connects and 'sends' every message.\n\n"
        f"Try:\n"
        f"  curl '{base}/sendsms/?apikey={api_key}&recipients=%2B15551234567&message=Hello'\n"
        f"  curl '{base}/log/sent/sms/?apikey={api_key}'\n"
    )
    asyncio.run(_serve_with_simulator(settings, token))


def demo_state_dir(database_url: str) -> Path:
    """The simulated phone's state folder, beside the demo's SQLite database (else the current
    folder): never a new folder in the home directory on every run."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).absolute().parent / "simgate-demo-agent"
    return Path.cwd() / "simgate-demo-agent"


async def _serve_with_simulator(settings: Settings, token: str) -> None:
    from simgate.app import create_app
    from simgate.serving import Server, server_config

    server = Server(server_config(create_app(settings), settings))
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn exposes a flag only
        await asyncio.sleep(0.05)
    if serving.done():
        await serving
        return
    env = {**os.environ, "SIMGATE_DEVICE_TOKEN": token}
    agent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simgate",
        "agent",
        "--server",
        f"http://{settings.host}:{settings.port}",
        "--driver",
        "simulator",
        "--delay",
        "0.2",
        "--state-dir",
        str(demo_state_dir(settings.database_url)),
        env=env,
    )
    try:
        await serving
    finally:
        if agent.returncode is None:
            agent.terminate()
        await agent.wait()


def _register_agent() -> None:
    from simgate.agent.command import agent_command

    app.command("agent", help="Run a device agent that connects this box to a server.")(
        agent_command
    )


def _register_client_commands() -> None:
    from simgate.client.commands import cancel_command, inbox_command, log_command, send_command

    app.command("send", help="Send an SMS through a simgate server.")(send_command)
    app.command("cancel", help="Cancel a message that no phone has taken yet.")(cancel_command)
    app.command("inbox", help="List the SMS your phones received.")(inbox_command)
    app.command("log", help="List the messages sent through the API.")(log_command)


def _register_listing_commands() -> None:
    from simgate.cli_devices import account_list, device_list, device_remove

    device_app.command("list")(device_list)
    device_app.command("remove")(device_remove)
    account_app.command("list")(account_list)


def _register_webhook_commands() -> None:
    from simgate.cli_webhooks import webhook_app

    app.add_typer(webhook_app, name="webhook")


_register_agent()
_register_client_commands()
_register_webhook_commands()
_register_listing_commands()


def command() -> Any:
    """The command ``simgate`` runs: the typer app, with readable value names in its help."""
    from simgate.cli_help import readable_help

    built = typer.main.get_command(app)
    readable_help(built)
    return built


#: What only the ``server`` extra installs: a command that needs one of these, run where only
#: the light agent install is (a phone), says how to get them instead of a traceback.
SERVER_MODULES = frozenset(
    {
        "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "aiosqlite", "asyncpg",
        "pydantic", "pydantic_settings", "orjson", "multipart", "python_multipart",
        "cryptography", "argon2", "structlog", "segno", "defusedxml", "prometheus_client",
    }
)  # fmt: skip


def main() -> None:
    try:
        command()()
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in SERVER_MODULES:
            raise
        typer.echo(
            f"error: this command runs the server, which needs the server extra ({exc.name} is "
            "missing): pip install 'simgate[server]' (from a wheel: "
            "pip install 'simgate-VERSION-py3-none-any.whl[server]').",
            err=True,
        )
        raise SystemExit(2) from None
