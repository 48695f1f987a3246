"""What the server commands of the CLI share: settings, running a job on the database, output.

Server modules are imported inside the functions, so that ``simgate agent`` keeps working where
only the light base install is present (see ``simgate.cli``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from simgate.config import Settings
    from simgate.context import Context

T = TypeVar("T")

ACCOUNT_OPTION = typer.Option(..., "--account", help="E-mail of the account.")
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


def server_settings(**overrides: Any) -> Settings:
    from simgate.config import Settings

    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def run_with_context(settings: Settings, job: Callable[[Context], Awaitable[T]]) -> T:
    """Migrate, run ``job`` with a context on the configured database, and clean up."""
    from simgate.context import Context
    from simgate.domain.errors import SimgateError
    from simgate.store.database import Database
    from simgate.store.migrate import upgrade

    upgrade(settings.database_url)

    async def main() -> T:
        ctx = Context(settings=settings, db=Database(settings.database_url))
        try:
            return await job(ctx)
        finally:
            await ctx.db.dispose()

    try:
        return asyncio.run(main())
    except SimgateError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc


def emit(as_json: bool, data: dict[str, Any], human: str) -> None:
    typer.echo(json.dumps(data) if as_json else human)
