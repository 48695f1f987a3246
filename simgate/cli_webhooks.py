"""``simgate webhook add|list|remove|log|redeliver|test``: an account's webhooks from the shell.

``test`` and ``redeliver`` also make the attempt themselves, here and now, so the answer shows
what the receiver said; a failed attempt is retried later by the server's worker as usual.
Like the other server commands, the server stack is imported inside the commands, so that
``simgate agent`` runs where only the base install is present.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from simgate.cli_support import ACCOUNT_OPTION, JSON_OPTION, emit, run_with_context, server_settings

if TYPE_CHECKING:
    from simgate.context import Context
    from simgate.domain.webhooks import Format
    from simgate.services import webhooks

MAX_LOG_ROWS = 200

webhook_app = typer.Typer(
    help="Manage webhook endpoints and their deliveries.", no_args_is_help=True
)


def _account_id(ctx: Context, email: str) -> Any:
    from simgate.services import optouts

    return optouts.account_of(ctx, email)


def _format(value: str) -> Format:
    from simgate.domain.errors import InvalidParameter
    from simgate.domain.webhooks import Format

    try:
        return Format(value)
    except ValueError as exc:
        raise InvalidParameter("--format must be v2 or legacy.", parameter="format") from exc


def _view(endpoint: webhooks.Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "format": endpoint.format.value,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "deliveries": endpoint.counts,
    }


def _delivery(item: webhooks.Delivery) -> dict[str, Any]:
    from simgate.domain import timefmt

    return {
        "id": item.id,
        "event_id": item.event_id,
        "type": item.type,
        "status": item.state,
        "attempts": item.attempts,
        "last_status_code": item.last_status,
        "last_error": item.last_error,
        "latency_ms": item.latency_ms,
        "created_at": timefmt.iso_utc(item.created_ms),
    }


async def _attempt_now(ctx: Context, ids: list[int]) -> None:
    from simgate.logs import configure_logging
    from simgate.webhooks.worker import DeliveryWorker, new_client

    # The worker logs each attempt: on stderr, so that --json output stays parseable.
    configure_logging(ctx.settings.log_level, ctx.settings.log_format)

    async with new_client(ctx.settings.webhook_timeout_seconds) as client:
        await DeliveryWorker(ctx, client).deliver_now(ids)


@webhook_app.command("add")
def webhook_add(
    account: str = ACCOUNT_OPTION,
    url: str = typer.Option(..., "--url", help="Where to POST (http or https)."),
    fmt: str = typer.Option("v2", "--format", help="v2 (signed events) or legacy."),
    events: str = typer.Option("", "--events", help="Comma-separated event types (all: empty)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register an endpoint and print its signing secret."""
    from simgate.services import webhooks

    names = tuple(name for name in events.split(",") if name.strip()) or None

    async def job(ctx: Context) -> webhooks.NewEndpoint:
        account_id = await _account_id(ctx, account)
        return await webhooks.add_endpoint(ctx, account_id, url, _format(fmt), names)

    created = run_with_context(server_settings(), job)
    emit(
        as_json,
        {"id": created.endpoint.id, "secret": created.secret},
        f"Webhook {created.endpoint.id} added ({created.endpoint.format.value}, "
        f"{','.join(created.endpoint.events)}).\nSigning secret: {created.secret}",
    )


@webhook_app.command("list")
def webhook_list(account: str = ACCOUNT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the account's endpoints with their deliveries counted by state."""
    from simgate.services import webhooks

    async def job(ctx: Context) -> list[webhooks.Endpoint]:
        return await webhooks.list_endpoints(ctx, await _account_id(ctx, account))

    found = [_view(item) for item in run_with_context(server_settings(), job)]
    lines = [
        f"{row['id']}\t{row['format']}\t{'on' if row['enabled'] else 'off'}\t{row['url']}\t"
        + ",".join(row["events"])
        for row in found
    ]
    emit(as_json, {"webhooks": found}, "\n".join(lines) or "No webhook.")


@webhook_app.command("remove")
def webhook_remove(
    endpoint_id: int = typer.Argument(..., help="The endpoint's id."),
    account: str = ACCOUNT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete an endpoint and its delivery log."""
    from simgate.services import webhooks

    async def job(ctx: Context) -> None:
        await webhooks.remove_endpoint(ctx, await _account_id(ctx, account), endpoint_id)

    run_with_context(server_settings(), job)
    emit(as_json, {"id": endpoint_id, "deleted": True}, f"Webhook {endpoint_id} removed.")


@webhook_app.command("log")
def webhook_log(
    endpoint_id: int = typer.Argument(..., help="The endpoint's id."),
    account: str = ACCOUNT_OPTION,
    status: str | None = typer.Option(None, "--status", help="pending, delivered, dead..."),
    limit: int = typer.Option(50, "--limit", min=1, max=MAX_LOG_ROWS),
    as_json: bool = JSON_OPTION,
) -> None:
    """The endpoint's deliveries, newest first."""
    from simgate.domain.webhooks import DeliveryState
    from simgate.services import webhooks

    try:
        state = None if status is None else DeliveryState(status)
    except ValueError as exc:
        raise typer.BadParameter(f"unknown status {status!r}") from exc

    async def job(ctx: Context) -> list[webhooks.Delivery]:
        account_id = await _account_id(ctx, account)
        return await webhooks.deliveries(ctx, account_id, endpoint_id, state=state, limit=limit)

    rows = [_delivery(item) for item in run_with_context(server_settings(), job)]
    lines = [
        f"{row['id']}\t{row['status']}\t{row['type']}\t{row['attempts']}\t"
        f"{row['last_status_code'] or row['last_error'] or ''}"
        for row in rows
    ]
    emit(as_json, {"deliveries": rows}, "\n".join(lines) or "No delivery.")


@webhook_app.command("redeliver")
def webhook_redeliver(
    endpoint_id: int = typer.Argument(..., help="The endpoint's id."),
    account: str = ACCOUNT_OPTION,
    delivery: int | None = typer.Option(None, "--delivery", help="One dead delivery (else all)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send dead-lettered deliveries again (now, from here)."""
    from simgate.services import webhooks

    async def job(ctx: Context) -> list[webhooks.Delivery]:
        account_id = await _account_id(ctx, account)
        moved = await webhooks.redeliver(ctx, account_id, endpoint_id, delivery)
        await _attempt_now(ctx, moved)
        found = await webhooks.deliveries(ctx, account_id, endpoint_id, limit=200)
        return [item for item in found if item.id in set(moved)]

    rows = [_delivery(item) for item in run_with_context(server_settings(), job)]
    emit(as_json, {"redelivered": rows}, f"{len(rows)} deliveries sent again.")


@webhook_app.command("test")
def webhook_test(
    endpoint_id: int = typer.Argument(..., help="The endpoint's id."),
    account: str = ACCOUNT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Send a test event (a sample sms.received, data.test true) and show the answer."""
    from simgate.services import webhooks

    async def job(ctx: Context) -> webhooks.Delivery:
        account_id = await _account_id(ctx, account)
        sent = await webhooks.send_test(ctx, account_id, endpoint_id)
        await _attempt_now(ctx, [sent.delivery_id])
        found = await webhooks.deliveries(ctx, account_id, endpoint_id, limit=200)
        return next(item for item in found if item.id == sent.delivery_id)

    row = _delivery(run_with_context(server_settings(), job))
    human = f"Test event {row['event_id']}: {row['status']}, answer {row['last_status_code']}"
    emit(as_json, row, human + (f" ({row['last_error']})" if row["last_error"] else ""))
