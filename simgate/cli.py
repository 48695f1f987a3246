"""The ``simgate`` command line.

Server commands import the server stack inside the command, so ``simgate agent`` works on a
phone where only the light base install (no FastAPI, SQLAlchemy, ...) is present.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from simgate.cli_access import key_app, oauth_app
from simgate.cli_accounts import account_app, optout_app
from simgate.cli_devices import device_app
from simgate.cli_support import (
    JSON_OPTION,
    emit,
    run_with_context,
    server_settings,
    startup_errors,
)

if TYPE_CHECKING:
    from simgate.config import Settings
    from simgate.context import Context

T = TypeVar("T")

app = typer.Typer(
    help="simgate: your own phones and modems as an SMS gateway.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion for bash, zsh, fish, PowerShell
)
app.add_typer(account_app, name="account")
app.add_typer(device_app, name="device")
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
    from simgate.cli_devices import account_list

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
