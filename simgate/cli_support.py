"""What the server commands of the CLI share: settings, running a job on the database, output.

Server modules are imported inside the functions, so that ``simgate agent`` keeps working where
only the light base install is present (see ``simgate.cli``).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from simgate.config import Settings
    from simgate.context import Context

T = TypeVar("T")

ACCOUNT_OPTION = typer.Option(..., "--account", help="E-mail of the account.")
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _debugging() -> bool:
    # Read here, not through Settings: this decides how to report that Settings failed to load.
    return os.environ.get("SIMGATE_LOG_LEVEL", "").strip().lower() == "debug"


def _fail(lines: list[str], exc: BaseException) -> NoReturn:
    from simgate.preflight import EXIT_STARTUP

    if _debugging():
        raise exc
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code=EXIT_STARTUP) from exc


@contextmanager
def startup_errors() -> Iterator[None]:
    """A bad setting, database or port ends the command with one or two lines naming it and
    exit status 2; the traceback only with ``SIMGATE_LOG_LEVEL=debug``."""
    from pydantic import ValidationError

    from simgate.preflight import StartupError, settings_error

    try:
        yield
    except ValidationError as exc:
        _fail(settings_error(exc).lines(), exc)
    except StartupError as exc:
        _fail(exc.lines(), exc)


def server_settings(**overrides: Any) -> Settings:
    from simgate.config import Settings

    with startup_errors():
        return Settings(**{key: value for key, value in overrides.items() if value is not None})


def run_with_context(settings: Settings, job: Callable[[Context], Awaitable[T]]) -> T:
    """Migrate, run ``job`` with a context on the configured database, and clean up."""
    from simgate.context import Context
    from simgate.domain.errors import SimgateError
    from simgate.logs import configure_logging
    from simgate.pgbus import PgBus, new_bus
    from simgate.preflight import migrate
    from simgate.store.database import Database

    with startup_errors():
        migrate(settings.database_url)

    async def main() -> T:
        # On PostgreSQL the servers hear what the job publishes (a device removed: its live
        # connection is closed; limits changed: its session applies them) at once.
        events = new_bus(settings.database_url, settings.bus_url)
        ctx = Context(settings=settings, db=Database(settings.database_url), bus=events)
        if isinstance(events, PgBus):
            # Warnings (the bus cannot connect) on stderr, never in the output a script reads.
            configure_logging("warning", settings.log_format)
        events.start()
        try:
            return await job(ctx)
        finally:
            await events.close()  # sends what the job published
            await ctx.db.dispose()

    try:
        return asyncio.run(main())
    except SimgateError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc


def emit(as_json: bool, data: dict[str, Any], human: str) -> None:
    typer.echo(json.dumps(data) if as_json else human)
