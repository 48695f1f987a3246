"""``simgate send``, ``simgate cancel``, ``simgate inbox`` and ``simgate log``: the client from the
command line.

These commands talk to a running server over HTTP with :class:`simgate.client.Client`, so they
work from any machine with the base install (no server dependencies). Output is a compact
table for people or, with ``--json``, JSON for scripts. Failures print one line on stderr and
exit with 1; usage errors (a bad option value) exit with 2, as every Click program does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import typer
from rich.console import Console
from rich.text import Text

from simgate.client._calls import unix_seconds
from simgate.client._client import Client
from simgate.client._errors import ApiError, SimgateClientError
from simgate.client._models import ReceivedSms, SendResult, SentSms
from simgate.client._render import print_json, print_table

__all__ = ["cancel_command", "inbox_command", "log_command", "parse_at", "send_command"]

T = TypeVar("T")

DEFAULT_SERVER = "http://127.0.0.1:8000"

SERVER_OPTION = typer.Option(
    DEFAULT_SERVER, "--server", envvar="SIMGATE_SERVER", help="Base URL of the simgate server."
)
# No default and never printed: the key comes from the option or, better (command lines are
# visible to other users of the machine), from the environment.
API_KEY_OPTION = typer.Option(
    ...,
    "--api-key",
    envvar="SIMGATE_API_KEY",
    show_default=False,
    help="API key of the account (better: set SIMGATE_API_KEY).",
)
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
DEVICE_HELP = "SID of the phone"
#: ``send --wait``: exit status when a message is neither sent nor failed by the deadline.
EXIT_STILL_PENDING = 3
# Final statuses, and whether each means the message went out.
_FINAL = {"sent": True, "failed": False, "expired": False, "cancelled": False}
_POLL_SECONDS = 0.5


def parse_at(value: str, option: str = "'--at'") -> int:
    """UNIX seconds from ``--at``: ISO 8601 (a naive time is UTC) or UNIX seconds.

    UTC for a naive time, because the API's ``schedule_timestamp`` is UTC and a scheduled SMS
    must not move when the command runs on a machine in another zone.
    """
    text = value.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return unix_seconds(datetime.fromisoformat(text))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither ISO 8601 (2026-03-13T08:45:00+01:00) nor UNIX seconds",
            param_hint=option,
        ) from None


_GUID = re.compile(r"[0-9a-f]{40}")


def _fail(text: str) -> typer.Exit:
    typer.echo(f"error: {' '.join(text.split())}", err=True)
    return typer.Exit(code=1)


def _run(server: str, api_key: str, job: Callable[[Client], T]) -> T:
    """Run ``job`` with a client; client errors become one line on stderr and exit code 1."""
    try:
        client = Client(server, api_key)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--server'") from None
    try:
        with client:
            return job(client)
    except ApiError as exc:
        raise _fail(f"{exc.message} ({exc.code})") from None
    except SimgateClientError as exc:
        raise _fail(exc.message) from None


def _show_send(result: SendResult) -> None:
    failed = {item.guid: item.error for item in result.failed}
    rows: list[list[str | Text]] = []
    recipients = result.recipients or ("",) * len(result.guids)
    for recipient, guid in zip(recipients, result.guids, strict=False):
        note = Text(f"failed: {failed[guid]}", "red") if guid in failed else ""
        rows.append([recipient, guid, note])
    for rejected in result.rejected:
        rows.append([rejected.recipient, "", Text(f"rejected: {rejected.error}", "red")])
    typer.echo(result.note or f"{len(result.guids)} message(s) accepted")
    print_table(("Recipient", "GUID", "Note"), rows)
    if result.encryption_key:
        typer.echo(f"Encryption key (shown once): {result.encryption_key}")


def send_command(
    *,
    to: list[str] = typer.Option(
        ...,
        "--to",
        metavar="NUMBER",
        help="Recipient number; repeat the option or separate numbers with commas.",
    ),
    message: str = typer.Option(
        ..., "--message", metavar="TEXT", help="The text (long texts go as several parts)."
    ),
    sim: int | None = typer.Option(
        None, "--sim", min=1, max=2, help="SIM slot 1 or 2 (default: the phone chooses)."
    ),
    device: str | None = typer.Option(
        None, "--device", help=f"{DEVICE_HELP} that sends it (default: the first available)."
    ),
    at: str | None = typer.Option(
        None,
        "--at",
        metavar="TIME",
        help="Send at this time: ISO 8601 (without a zone: UTC) or UNIX seconds.",
    ),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="Wait until every message is sent or failed (exit status 0: all sent, 1: one "
        f"failed, {EXIT_STILL_PENDING}: still pending after --timeout).",
    ),
    timeout: float = typer.Option(
        120.0, "--timeout", min=1, help="Seconds --wait waits at most.", show_default=True
    ),
    as_json: bool = JSON_OPTION,
    server: str = SERVER_OPTION,
    api_key: str = API_KEY_OPTION,
) -> None:
    """Send an SMS through a simgate server: one message (one GUID) per recipient."""
    when = None if at is None else parse_at(at)
    result = _run(
        server, api_key, lambda client: client.send(to, message, sim=sim, device=device, at=when)
    )
    if as_json and not wait:
        print_json(result)
    elif not as_json:
        _show_send(result)
    if wait:
        outcome = _run(server, api_key, lambda client: _wait(client, result.guids, timeout))
        _finish(outcome, as_json)


def _wait(client: Client, guids: tuple[str, ...] | list[str], timeout: float) -> dict[str, str]:
    """Poll the sent log until every message has a final status or ``timeout`` passes; a
    spinner on stderr meanwhile. The last status seen of each message."""
    deadline = time.monotonic() + timeout
    status = dict.fromkeys(guids, "queued")
    with Console(stderr=True).status("waiting for the phone...") as spinner:
        while True:
            for guid in [g for g, state in status.items() if state not in _FINAL]:
                rows = client.sent_log(guid=guid, limit=1)
                if rows:
                    status[guid] = rows[0].status
            pending = [g for g, state in status.items() if state not in _FINAL]
            if not pending or time.monotonic() >= deadline:
                return status
            spinner.update(f"waiting for the phone: {len(pending)} of {len(status)} pending")
            time.sleep(_POLL_SECONDS)


def _finish(status: dict[str, str], as_json: bool) -> None:
    if as_json:
        print_json({"messages": [{"guid": g, "status": s} for g, s in status.items()]})
    else:
        for guid, state in status.items():
            typer.echo(f"{guid}: {state}")
    if any(state not in _FINAL for state in status.values()):
        raise typer.Exit(code=EXIT_STILL_PENDING)
    if not all(_FINAL[state] for state in status.values()):
        raise typer.Exit(code=1)


def cancel_command(
    guid: str = typer.Argument(..., help="GUID of the message, as `simgate send` printed it."),
    *,
    as_json: bool = JSON_OPTION,
    server: str = SERVER_OPTION,
    api_key: str = API_KEY_OPTION,
) -> None:
    """Cancel a scheduled or queued message, so that no phone ever sends it."""
    guid = guid.strip().lower()
    _run(server, api_key, lambda client: client.cancel(guid))
    if as_json:
        print_json({"guid": guid, "status": "cancelled"})
    else:
        typer.echo(f"Cancelled {guid}: it will not be sent.")


def _show_inbox(rows: list[ReceivedSms]) -> None:
    if not rows:
        typer.echo("No received SMS.")
        return
    print_table(
        ("Received", "From", "Phone", "Read", "GUID", "Message"),
        [
            [
                sms.time_received or sms.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{sms.number} ({sms.alias})" if sms.alias else sms.number,
                sms.device_sid,
                "yes" if sms.read else "no",
                sms.guid,
                sms.message,
            ]
            for sms in rows
        ],
    )


def inbox_command(
    *,
    unread: bool = typer.Option(False, "--unread", help="Only SMS not yet marked as read."),
    device: str | None = typer.Option(
        None, "--device", help=f"Only SMS received by this {DEVICE_HELP}."
    ),
    mark_read: bool = typer.Option(
        False, "--mark-read", help="Mark the SMS listed as read (API status) once shown."
    ),
    as_json: bool = JSON_OPTION,
    server: str = SERVER_OPTION,
    api_key: str = API_KEY_OPTION,
) -> None:
    """List SMS received on the account's phones, newest first."""

    def job(client: Client) -> list[ReceivedSms]:
        found = client.inbox(device=device, only_unread=unread)
        if mark_read:
            for sms in found:
                if not sms.read:
                    client.mark_read(sms.guid)
        return found

    rows = _run(server, api_key, job)
    if as_json:
        print_json(rows)
    else:
        _show_inbox(rows)


def _show_log(rows: list[SentSms]) -> None:
    if not rows:
        typer.echo("No sent SMS.")
        return
    table: list[list[str | Text]] = []
    for sms in rows:
        error = sms.error_mobile or sms.error_api
        status = Text(f"{sms.status}: {error}", "red") if error else sms.status
        table.append([sms.date or "", sms.recipient, status, sms.guid, sms.message])
    print_table(("Date", "To", "Status", "GUID", "Message"), table)


def log_command(
    *,
    guid: str | None = typer.Option(None, "--guid", help="Only the message with this GUID."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="At most this many rows (default: the server's page size)."
    ),
    status: str | None = typer.Option(
        None,
        "--status",
        metavar="STATE",
        help="Only messages in this state: scheduled, queued, dispatched, sent, failed, "
        "expired or cancelled (filters the page the server returned).",
    ),
    before: str | None = typer.Option(
        None,
        "--before",
        metavar="GUID|TIME",
        help="Only messages older than this GUID, ISO 8601 time or UNIX seconds (paging).",
    ),
    as_json: bool = JSON_OPTION,
    server: str = SERVER_OPTION,
    api_key: str = API_KEY_OPTION,
) -> None:
    """List messages sent through the API, newest first."""
    # A GUID is the server's cursor as is; anything else is a time.
    cursor: str | int | None = before
    if before is not None and not _GUID.fullmatch(before.strip().lower()):
        cursor = parse_at(before, "'--before'")
    rows = _run(
        server,
        api_key,
        lambda client: client.sent_log(guid=guid, limit=limit, before=cursor),
    )
    if status is not None:
        rows = [sms for sms in rows if sms.status == status.strip().lower()]
    if as_json:
        print_json(rows)
    else:
        _show_log(rows)
