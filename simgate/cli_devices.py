"""``simgate device add|update|list|remove`` and ``simgate account list``.

Lists print a table (rich) for people and ``--json`` for scripts; ``simgate.cli`` adds the
``device`` group to the command and ``account list`` to the ``account`` group.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from simgate.cli_support import ACCOUNT_OPTION, JSON_OPTION, emit, run_with_context, server_settings
from simgate.protocol import pairing_string

if TYPE_CHECKING:
    from simgate.config import Settings
    from simgate.context import Context
    from simgate.services.devices import Connected, DeviceList, DeviceRemoved, Pacing


device_app = typer.Typer(help="Manage devices (phones and modems).", no_args_is_help=True)


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


@device_app.command("list")
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


@device_app.command("remove")
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
