"""Managing an account's webhook endpoints and reading their delivery logs.

Every function is scoped by account: an endpoint or a delivery of another account is a 404,
the same answer as one that does not exist. Secrets are generated here, returned in clear to
their owner only, and stored sealed (simgate/secretbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate import bus
from simgate.context import Context
from simgate.domain.errors import NotFound, invalid
from simgate.domain.webhooks import DeliveryState, EventType, Format, wanted_events
from simgate.services import webhook_events
from simgate.store import webhooks as webhook_store
from simgate.webhooks import guard, signer

#: Most endpoints one account may have, and most log rows one read returns.
MAX_ENDPOINTS: Final = 20
MAX_LOG_ROWS: Final = 200


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    format: Format
    events: tuple[str, ...]
    enabled: bool
    created_ms: int
    updated_ms: int
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NewEndpoint:
    """A created endpoint and its signing secret, in clear for its owner."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True)
class EndpointChange:
    """What to change; None leaves a field as it is."""

    url: str | None = None
    format: Format | None = None
    events: tuple[str, ...] | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class Delivery:
    """One line of an endpoint's delivery log."""

    id: int
    endpoint_id: int
    event_id: str
    type: str
    subject: str
    state: str
    attempts: int
    created_ms: int
    next_attempt_ms: int | None
    last_attempt_ms: int | None
    last_status: int | None
    last_response: str | None
    last_error: str | None
    latency_ms: int | None
    delivered_ms: int | None


def _endpoint(row: RowMapping, counts: dict[str, int] | None = None) -> Endpoint:
    return Endpoint(
        id=int(row["id"]),
        url=row["url"],
        format=Format(row["format"]),
        events=tuple(name for name in str(row["events"]).split(",") if name),
        enabled=bool(row["enabled"]),
        created_ms=int(row["created_ms"]),
        updated_ms=int(row["updated_ms"]),
        counts=dict(counts or {}),
    )


def _delivery(row: RowMapping) -> Delivery:
    return Delivery(
        id=int(row["id"]),
        endpoint_id=int(row["endpoint_id"]),
        event_id=row["event_id"],
        type=row["type"],
        subject=row["subject"],
        state=row["state"],
        attempts=int(row["attempts"]),
        created_ms=int(row["created_ms"]),
        next_attempt_ms=row["next_attempt_ms"],
        last_attempt_ms=row["last_attempt_ms"],
        last_status=row["last_status"],
        last_response=row["last_response"],
        last_error=row["last_error"],
        latency_ms=row["last_latency_ms"],
        delivered_ms=row["delivered_ms"],
    )


def _events(fmt: Format, names: tuple[str, ...] | None) -> str:
    try:
        chosen = wanted_events(fmt, names)
    except ValueError as exc:
        raise invalid("events", str(exc)) from exc
    return ",".join(sorted(chosen))


def _changed(ctx: Context, account_id: int) -> None:
    ctx.bus.publish(bus.WEBHOOKS_CHANGED, str(account_id))
    ctx.bus.publish(bus.WEBHOOK_WORK, str(account_id))


async def add_endpoint(
    ctx: Context,
    account_id: int,
    url: str,
    fmt: Format,
    events: tuple[str, ...] | None = None,
    *,
    enabled: bool = True,
) -> NewEndpoint:
    """Register an endpoint; its URL must pass the guard now. The secret is only shown here
    and by :func:`reveal_secret`."""
    url = url.strip()
    await guard.check_url(url, allow_private=ctx.settings.webhook_allow_private)
    wanted = _events(fmt, events)
    secret = signer.new_secret()
    now = ctx.clock()
    async with ctx.db.begin() as conn:
        if len(await webhook_store.list_endpoints(conn, account_id)) >= MAX_ENDPOINTS:
            raise invalid("url", f"an account has at most {MAX_ENDPOINTS} webhook endpoints")
        row = await webhook_store.create_endpoint(
            conn,
            {
                "account_id": account_id,
                "url": url,
                "secret_sealed": ctx.secrets.seal(secret),
                "format": fmt.value,
                "events": wanted,
                "enabled": enabled,
                "created_ms": now,
                "updated_ms": now,
            },
        )
    _changed(ctx, account_id)
    return NewEndpoint(endpoint=_endpoint(row), secret=secret)


async def list_endpoints(
    ctx: Context, account_id: int, *, delivered: bool = True
) -> list[Endpoint]:
    """The account's endpoints, oldest first, with their deliveries counted by state;
    ``delivered=False`` leaves out the count of delivered ones, which reads the whole log (the
    dashboard's list shows what waits and what failed, and answers fast at any log size)."""
    async with ctx.db.connect() as conn:
        rows = await webhook_store.list_endpoints(conn, account_id)
        counts = await webhook_store.state_counts(conn, account_id, delivered=delivered)
    return [_endpoint(row, counts.get(int(row["id"]))) for row in rows]


async def get_endpoint(ctx: Context, account_id: int, endpoint_id: int) -> Endpoint:
    async with ctx.db.connect() as conn:
        row = await _owned(conn, account_id, endpoint_id)
    return _endpoint(row)


async def _owned(conn: AsyncConnection, account_id: int, endpoint_id: int) -> RowMapping:
    row = await webhook_store.get_endpoint(conn, account_id, endpoint_id)
    if row is None:
        raise NotFound(f"No webhook endpoint {endpoint_id} in this account.")
    return row


async def update_endpoint(
    ctx: Context, account_id: int, endpoint_id: int, change: EndpointChange
) -> Endpoint:
    """Change an endpoint's URL (checked by the guard), format, events or enabled flag."""
    values: dict[str, Any] = {}
    if change.url is not None:
        values["url"] = change.url.strip()
        await guard.check_url(values["url"], allow_private=ctx.settings.webhook_allow_private)
    if change.enabled is not None:
        values["enabled"] = change.enabled
    async with ctx.db.begin() as conn:
        current = await _owned(conn, account_id, endpoint_id)
        fmt = change.format or Format(current["format"])
        if change.format is not None or change.events is not None:
            events = change.events if change.events is not None else _kept(current, fmt)
            values["format"] = fmt.value
            values["events"] = _events(fmt, events)
        values["updated_ms"] = ctx.clock()
        row = await webhook_store.update_endpoint(conn, account_id, endpoint_id, values)
    if row is None:
        raise NotFound(f"No webhook endpoint {endpoint_id} in this account.")
    _changed(ctx, account_id)
    return _endpoint(row)


def _kept(current: RowMapping, fmt: Format) -> tuple[str, ...] | None:
    """The current events when the new format can carry them all, else all of the new one's."""
    names = tuple(name for name in str(current["events"]).split(",") if name)
    try:
        wanted_events(fmt, names)
    except ValueError:
        return None
    return names


async def remove_endpoint(ctx: Context, account_id: int, endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log; nothing more is sent to it."""
    async with ctx.db.begin() as conn:
        if not await webhook_store.delete_endpoint(conn, account_id, endpoint_id):
            raise NotFound(f"No webhook endpoint {endpoint_id} in this account.")
    _changed(ctx, account_id)


async def reveal_secret(
    ctx: Context, account_id: int, endpoint_id: int, *, rotate: bool = False
) -> str:
    """The endpoint's signing secret in clear; with ``rotate``, a new one replaces it first."""
    async with ctx.db.begin() as conn:
        row = await _owned(conn, account_id, endpoint_id)
        if not rotate:
            return ctx.secrets.open(row["secret_sealed"])
        secret = signer.new_secret()
        await webhook_store.update_endpoint(
            conn,
            account_id,
            endpoint_id,
            {"secret_sealed": ctx.secrets.seal(secret), "updated_ms": ctx.clock()},
        )
    return secret


async def deliveries(
    ctx: Context,
    account_id: int,
    endpoint_id: int,
    *,
    state: DeliveryState | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """The endpoint's delivery log, newest first (page with ``before_id``)."""
    async with ctx.db.connect() as conn:
        await _owned(conn, account_id, endpoint_id)
        rows = await webhook_store.list_deliveries(
            conn,
            account_id,
            endpoint_id,
            state=None if state is None else state.value,
            before_id=before_id,
            limit=max(1, min(limit, MAX_LOG_ROWS)),
        )
    return [_delivery(row) for row in rows]


async def redeliver(
    ctx: Context, account_id: int, endpoint_id: int, delivery_id: int | None = None
) -> list[int]:
    """Dead deliveries of the endpoint (all, or one) go out again, with a new retry window.

    Naming a delivery that is not dead is a 404 only when it does not exist; a live one is
    simply not moved (the answer lists what was).
    """
    now = ctx.clock()
    deadline = now + int(ctx.settings.webhook_retry_window_seconds * 1000)
    async with ctx.db.begin() as conn:
        await _owned(conn, account_id, endpoint_id)
        if (
            delivery_id is not None
            and await webhook_store.get_delivery(conn, account_id, endpoint_id, delivery_id) is None
        ):
            raise NotFound(f"No delivery {delivery_id} of webhook endpoint {endpoint_id}.")
        moved = await webhook_store.redeliver(
            conn,
            account_id,
            endpoint_id,
            delivery_id=delivery_id,
            now_ms=now,
            deadline_ms=deadline,
        )
    if moved:
        ctx.bus.publish(bus.WEBHOOK_WORK, str(account_id))
    return moved


@dataclass(frozen=True)
class TestEvent:
    event_id: str
    delivery_id: int


async def send_test(ctx: Context, account_id: int, endpoint_id: int) -> TestEvent:
    """Enqueue a sample ``sms.received`` event (its data says ``"test": true``) for this
    endpoint alone, enabled or not for that type; it is logged like any delivery."""
    now = ctx.clock()
    async with ctx.db.begin() as conn:
        endpoint = await _owned(conn, account_id, endpoint_id)
        delivery_id = await webhook_events.record_test(ctx, conn, endpoint, now)
        row = await webhook_store.get_delivery(conn, account_id, endpoint_id, delivery_id)
    if row is None:  # in the same transaction: cannot happen
        raise NotFound(f"No delivery {delivery_id}.")
    return TestEvent(event_id=row["event_id"], delivery_id=delivery_id)


__all__ = [
    "Delivery",
    "Endpoint",
    "EndpointChange",
    "EventType",
    "NewEndpoint",
    "TestEvent",
    "add_endpoint",
    "deliveries",
    "get_endpoint",
    "list_endpoints",
    "redeliver",
    "remove_endpoint",
    "reveal_secret",
    "send_test",
    "update_endpoint",
]
