"""``simgate account create|routing|region`` and ``simgate optout``: an account's settings.

``simgate.cli`` adds these groups to the command (``account list`` is in ``cli_devices``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from simgate.cli_support import ACCOUNT_OPTION, JSON_OPTION, emit, run_with_context, server_settings

if TYPE_CHECKING:
    from simgate.context import Context

account_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
optout_app = typer.Typer(
    help="Manage the numbers that opted out of an account's messages.", no_args_is_help=True
)


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
