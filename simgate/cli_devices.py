"""``simgate device list|remove`` and ``simgate account list``: what an operator looks at.

Lists print a table (rich) for people and ``--json`` for scripts; ``simgate.cli`` registers
these commands on its ``device`` and ``account`` groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from simgate.cli_support import ACCOUNT_OPTION, JSON_OPTION, emit, run_with_context, server_settings

if TYPE_CHECKING:
    from simgate.context import Context
    from simgate.services.devices import Connected, DeviceList, DeviceRemoved


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print ``rows`` as a table on standard output (plain characters when not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    shown = Table(title=title, title_justify="left")
    for column in columns:
        shown.add_column(column)
    for row in rows:
        shown.add_row(*("" if value is None else str(value) for value in row))
    console = Console()
    if not console.is_terminal:
        # Piped or captured: never wrap a SID or an e-mail in the middle for an 80-column guess.
        console = Console(width=10_000)
    console.print(shown)


class _NobodyConnectedHere:
    """The CLI's process holds no device connection: presence comes from heartbeats alone."""

    def connected(self, account_id: int) -> Sequence[Connected]:
        return ()


def device_list(account: str = ACCOUNT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the account's phones and modems: SID, label, online, last seen, today's traffic."""
    from simgate.domain import timefmt
    from simgate.services import devices, optouts

    async def job(ctx: Context) -> DeviceList:
        account_id = await optouts.account_of(ctx, account)
        return await devices.list_devices(
            ctx, account_id, devices.DeviceQuery(), _NobodyConnectedHere()
        )

    found = run_with_context(server_settings(), job)
    rows: list[dict[str, Any]] = [
        {
            "sid": item.sid,
            "label": item.label,
            "online": item.online,
            "last_seen": None if item.last_seen_ms is None else timefmt.iso_utc(item.last_seen_ms),
            "driver": item.driver,
            "battery": item.battery,
            "signal": item.signal,
            "sent_today": item.sent_today,
            "received_today": item.received_today,
        }
        for item in found.items
    ]
    if as_json:
        emit(True, {"devices": rows, "paired": found.paired, "online": found.online}, "")
        return
    if not rows:
        typer.echo(f"No device paired to {account}: add one with `simgate device add`.")
        return
    columns = list(rows[0])
    table(
        f"{found.paired} device(s) of {account}, {found.online} online",
        columns,
        [[row[column] for column in columns] for row in rows],
    )


def device_remove(
    sid: str = typer.Argument(..., help="SID of the device (see `simgate device list`)."),
    account: str = ACCOUNT_OPTION,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove a device: its token stops working, its received SMS go, and messages addressed
    to it that have not gone out fail."""
    from simgate.services import devices, optouts

    if not yes:
        typer.confirm(f"Remove device {sid} of {account} and its received SMS?", abort=True)

    async def job(ctx: Context) -> DeviceRemoved:
        return await devices.delete_device(ctx, await optouts.account_of(ctx, account), sid)

    removed = run_with_context(server_settings(), job)
    emit(
        as_json,
        {
            "sid": removed.sid,
            "received_deleted": removed.received,
            "failed_queued": removed.failed_queued,
            "requeued": removed.requeued,
        },
        f"Device {removed.sid} removed: {removed.received} received SMS deleted, "
        f"{removed.failed_queued} queued message(s) failed, {removed.requeued} requeued.",
    )


def account_list(as_json: bool = JSON_OPTION) -> None:
    """List the accounts of this server, oldest first."""
    from simgate.domain import timefmt
    from simgate.services import accounts

    found = run_with_context(server_settings(), accounts.list_accounts)
    rows: list[dict[str, Any]] = [
        {
            "account_id": item.account_id,
            "email": item.email,
            "created": timefmt.iso_utc(item.created_ms),
            "routing_policy": item.routing_policy,
            "region": item.region,
            "devices": item.devices,
        }
        for item in found
    ]
    if as_json:
        emit(True, {"accounts": rows}, "")
        return
    if not rows:
        typer.echo("No account yet: create one with `simgate account create`.")
        return
    columns = list(rows[0])
    default = server_settings().default_region
    for row in rows:  # people see where numbers are read; --json keeps null for "the default"
        row["region"] = row["region"] or f"{default} (default)"
    table(f"{len(rows)} account(s)", columns, [[row[column] for column in columns] for row in rows])
