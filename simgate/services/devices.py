"""The devices of an account: pairing, authenticating a connection, what a connection
reports about the device, and listing, renaming and deleting devices.

Presence comes from two places because either alone is wrong: a device connected to *this*
process is online even between heartbeats, and a device connected to another process sharing
the database is online while its last heartbeat is recent. The service learns who is connected
here through the small :class:`Presence` protocol (the dispatcher satisfies it), so it never
imports the dispatch or device adapters. What a device reports about the messages it holds is
:mod:`simgate.services.delivery`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate import bus
from simgate.context import Context
from simgate.domain import timefmt
from simgate.domain.errors import DeviceAuthError, InvalidParameter, NotFound, invalid
from simgate.domain.recipients import normalize_number
from simgate.services import credentials
from simgate.store import accounts as account_store
from simgate.store import devices as device_store
from simgate.store import groupcommit
from simgate.store import messages as message_store
from simgate.store.devices import Beat


@dataclass(frozen=True)
class Device:
    """A device as a live connection knows it, with the send limits its owner set (if any)."""

    id: int
    account_id: int
    sid: str
    label: str
    rate_per_minute: int | None = None
    rate_per_hour: int | None = None
    daily_cap: int | None = None


@dataclass(frozen=True)
class Paired:
    sid: str
    token: str


def _device(row: RowMapping) -> Device:
    return Device(
        id=int(row["id"]),
        account_id=int(row["account_id"]),
        sid=str(row["sid"]),
        label=str(row["label"]),
        rate_per_minute=row["rate_per_minute"],
        rate_per_hour=row["rate_per_hour"],
        daily_cap=row["daily_cap"],
    )


@dataclass(frozen=True)
class Pacing:
    """Send limits an owner sets on a device. In a change, None leaves a limit as it is and 0
    removes it (the agent's own reported limit then applies, if any)."""

    rate_per_minute: int | None = None
    rate_per_hour: int | None = None
    daily_cap: int | None = None

    def columns(self) -> dict[str, int | None]:
        """The device columns this sets: 0 becomes NULL (no limit), None is left out."""
        values = {
            "rate_per_minute": self.rate_per_minute,
            "rate_per_hour": self.rate_per_hour,
            "daily_cap": self.daily_cap,
        }
        for name, value in values.items():
            if value is not None and not 0 <= value <= MAX_LIMIT:
                raise invalid(name, f"must be between 0 (no limit) and {MAX_LIMIT}")
        return {name: value or None for name, value in values.items() if value is not None}


#: Largest pacing limit accepted: more than any phone or modem sends in a day.
MAX_LIMIT = 1_000_000


async def add_device(
    ctx: Context, account_email: str, label: str, pacing: Pacing | None = None
) -> Paired:
    """Pair a new device; its token is returned in clear only here."""
    limits = (pacing or Pacing()).columns()
    token = credentials.new_device_token()
    sid = credentials.new_device_sid()
    async with ctx.db.begin() as conn:
        account = await account_store.by_email(conn, account_email.strip().lower())
        if account is None:
            raise InvalidParameter(f"No account with e-mail {account_email}.", parameter="account")
        await device_store.create(
            conn,
            int(account["id"]),
            sid=sid,
            label=label,
            token_prefix=token.prefix,
            token_digest=token.digest,
            now_ms=ctx.clock(),
            limits=limits,
        )
    return Paired(sid=sid, token=token.value)


async def new_token(ctx: Context, account_id: int, sid: str) -> str:
    """Re-pair an existing device: the old token stops working at once."""
    token = credentials.new_device_token()
    async with ctx.db.begin() as conn:
        row = await device_store.get(conn, account_id, sid)
        if row is None:
            raise NotFound(f"No device with SID {sid!r} in this account.")
        await device_store.replace_token(
            conn, account_id, int(row["id"]), prefix=token.prefix, digest=token.digest
        )
    return token.value


async def authenticate(ctx: Context, token: str) -> Device:
    candidate = credentials.digest(token.strip())
    async with ctx.db.connect() as conn:
        row = await device_store.by_token_digest(conn, candidate)
    if row is None or not credentials.same_digest(str(row["token_digest"]), candidate):
        raise DeviceAuthError("invalid device token")
    return _device(row)


@dataclass(frozen=True)
class Hello:
    version: str | None
    driver: str | None
    sims: list[int]
    capabilities: list[str]
    battery: int | None
    signal: int | None
    charging: bool | None = None
    rate_count: int | None = None
    rate_seconds: int | None = None


async def record_hello(ctx: Context, device: Device, hello: Hello) -> None:
    """What the device said of itself as it connected. Shares a transaction with the other
    devices connecting at that moment: after a restart every phone reconnects at once."""
    await ctx.db.together(_store_hellos, (device.id, hello, ctx.clock()))


async def _store_hello(conn: AsyncConnection, job: tuple[int, Hello, int]) -> None:
    device_id, hello, now = job
    await device_store.record_hello(
        conn,
        device_id,
        version=hello.version,
        driver=hello.driver,
        sims=hello.sims,
        capabilities=hello.capabilities,
        battery=hello.battery,
        signal=hello.signal,
        charging=hello.charging,
        rate_count=hello.rate_count,
        rate_seconds=hello.rate_seconds,
        now_ms=now,
    )


_store_hellos = groupcommit.each(_store_hello)


async def record_offline(ctx: Context, device: Device) -> None:
    """The device's connection ended: the list shows since when it is offline. Shared with the
    other devices leaving at that moment (a network outage drops them all at once)."""
    await ctx.db.together(_store_offlines, (device.id, ctx.clock()))


async def _store_offline(conn: AsyncConnection, job: tuple[int, int]) -> None:
    await device_store.record_offline(conn, job[0], job[1])


_store_offlines = groupcommit.each(_store_offline)


def capabilities_of(row: RowMapping) -> list[str]:
    """The capabilities a device declared in its last ``hello``."""
    return [item for item in _json_list(row["capabilities"]) if isinstance(item, str)]


def sims_of(row: RowMapping) -> list[int]:
    """The SIM slots a device announced in its last ``hello`` (empty: it did not say)."""
    return [item for item in _json_list(row["sims"]) if isinstance(item, int)]


#: Longest label accepted: enough for "Office phone, 2nd floor, SIM Orange", short enough to
#: fit a dashboard column and a log line.
MAX_LABEL = 100

#: What a message waiting for a deleted device says in ``error_api`` of the sent log.
DEVICE_DELETED = "device deleted"


class Connected(Protocol):
    """A live connection as far as this service cares: which device it is."""

    @property
    def device_id(self) -> int: ...


class Presence(Protocol):
    """Who is connected to this process right now (the dispatcher answers this)."""

    def connected(self, account_id: int) -> Sequence[Connected]: ...


@dataclass(frozen=True)
class DeviceQuery:
    """Filters of ``/gateway/mobile/list/``: an exact SID and/or a free-text search."""

    sid: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class DeviceView:
    """One device with its presence and today's traffic."""

    sid: str
    label: str
    phone_number: str | None
    online: bool
    last_seen_ms: int | None
    battery: int | None
    signal: int | None
    version: str | None
    driver: str | None
    sims: list[int]
    capabilities: list[str]
    sent_today: int
    received_today: int
    charging: bool | None = None
    online_since_ms: int | None = None
    offline_since_ms: int | None = None
    pacing: Pacing = Pacing()
    #: The agent's own limit from its hello: (count, seconds), or None.
    reported_rate: tuple[int, int] | None = None


@dataclass(frozen=True)
class DeviceList:
    """The filtered devices, and counts over *all* of the account's devices."""

    items: list[DeviceView]
    paired: int
    online: int
    online_seconds: int


def _json_list(value: object) -> list[object]:
    try:
        decoded = json.loads(str(value or "[]"))
    except ValueError:
        return []
    return decoded if isinstance(decoded, list) else []


def _view(
    row: RowMapping,
    *,
    online: bool,
    sent: dict[int, int],
    received: dict[int, int],
    beat: Beat | None,
) -> DeviceView:
    device_id = int(row["id"])
    view = DeviceView(
        sid=str(row["sid"]),
        label=str(row["label"]),
        phone_number=row["phone_number"] or None,
        online=online,
        last_seen_ms=None if row["last_seen_ms"] is None else int(row["last_seen_ms"]),
        battery=row["battery"],
        signal=row["signal"],
        version=row["version"] or None,
        driver=row["driver"] or None,
        sims=sims_of(row),
        capabilities=capabilities_of(row),
        sent_today=sent.get(device_id, 0),
        received_today=received.get(device_id, 0),
        charging=row["charging"],
        online_since_ms=row["online_since_ms"],
        offline_since_ms=row["offline_since_ms"],
        pacing=Pacing(
            rate_per_minute=row["rate_per_minute"],
            rate_per_hour=row["rate_per_hour"],
            daily_cap=row["daily_cap"],
        ),
        reported_rate=(
            (int(row["reported_rate_count"]), int(row["reported_rate_seconds"]))
            if row["reported_rate_count"] and row["reported_rate_seconds"]
            else None
        ),
    )
    if beat is None:
        return view
    # Heard since its row was written (the write is batched): show what this process knows.
    return replace(
        view,
        last_seen_ms=max(beat.seen_ms, view.last_seen_ms or 0),
        battery=view.battery if beat.battery is None else beat.battery,
        signal=view.signal if beat.signal is None else beat.signal,
        charging=view.charging if beat.charging is None else beat.charging,
    )


def _matches(mobile: DeviceView, needle: str, zone: ZoneInfo) -> bool:
    """Case-insensitive substring search over what the list shows for the device.

    It runs here rather than in SQL because "last seen" is searched as the user reads it,
    formatted in the configured zone, which SQLite cannot compute; an account has a handful of
    devices, so filtering them in memory costs nothing.
    """
    haystack = [mobile.sid, mobile.label, mobile.phone_number, mobile.version, mobile.driver]
    if mobile.last_seen_ms is not None:
        haystack.append(timefmt.datetime_str(mobile.last_seen_ms, zone))
    haystack += [str(value) for value in (mobile.battery, mobile.signal) if value is not None]
    needle = needle.casefold()
    return any(needle in text.casefold() for text in haystack if text)


async def list_devices(
    ctx: Context,
    account_id: int,
    query: DeviceQuery,
    presence: Presence,
    *,
    traffic: bool = True,
) -> DeviceList:
    """The account's devices, oldest first, with presence and today's sent/received counts.

    ``today`` starts at midnight in ``settings.timezone``. Sent counts the messages the device
    reported sent; received counts the SMS it received (by the phone's time of receipt). Three
    queries in all: the devices, and one grouped count each; without ``traffic`` (a picker, a
    count of phones online) only the first, and the counts are 0.
    """
    now = ctx.clock()
    zone = ctx.settings.zone
    since = timefmt.today_start_ms(now, zone)
    online_ms = ctx.settings.device_online_seconds * 1000
    here = {connection.device_id for connection in presence.connected(account_id)}
    async with ctx.db.connect() as conn:
        rows = await device_store.list_for_account(conn, account_id)
        sent: dict[int, int] = {}
        received: dict[int, int] = {}
        if traffic:
            sent = await device_store.sent_counts_since(conn, account_id, since)
            received = await device_store.received_counts_since(conn, account_id, since)
    mobiles = []
    for row in rows:
        beat = ctx.heartbeats.pending(int(row["id"]))
        seen = beat.seen_ms if beat is not None else row["last_seen_ms"]
        online = int(row["id"]) in here or (seen is not None and now - int(seen) <= online_ms)
        mobiles.append(_view(row, online=online, sent=sent, received=received, beat=beat))
    items = [
        mobile
        for mobile in mobiles
        if (query.sid is None or mobile.sid == query.sid)
        and (query.search is None or _matches(mobile, query.search, zone))
    ]
    return DeviceList(
        items=items,
        paired=len(mobiles),
        online=sum(mobile.online for mobile in mobiles),
        online_seconds=ctx.settings.device_online_seconds,
    )


@dataclass(frozen=True)
class DeviceChange:
    """``label`` replaces the label (empty clears it, None leaves it); ``phone_number`` None
    leaves it as is; ``pacing`` sets or removes send limits."""

    sid: str
    label: str | None
    phone_number: str | None = None
    pacing: Pacing = Pacing()


@dataclass(frozen=True)
class DeviceUpdated:
    sid: str
    label: str
    phone_number: str | None
    pacing: Pacing = Pacing()


async def update_device(
    ctx: Context, account_id: int, change: DeviceChange, *, region: str | None = None
) -> DeviceUpdated:
    """Rename a device, set its phone number (normalised to E.164, read in ``region``: the
    account's, looked up when not given) or its send limits.

    A SID of another account is reported exactly like an unknown one. New limits reach a
    device connected to this process at once, and one connected elsewhere when it reconnects.
    """
    values: dict[str, object] = dict(change.pacing.columns())
    if change.label is not None:
        label = change.label.strip()
        if len(label) > MAX_LABEL:
            raise invalid("label", f"at most {MAX_LABEL} characters")
        values["label"] = label
    if change.phone_number is not None:
        try:
            values["phone_number"] = normalize_number(
                change.phone_number, region or await ctx.regions.of(account_id)
            )
        except InvalidParameter as exc:
            raise invalid(
                "phone_number", "not a phone number (expected E.164, e.g. +32470123456)"
            ) from exc
    async with ctx.db.begin() as conn:
        row = await device_store.change(conn, account_id, change.sid, values)
    if row is None:
        raise NotFound(f"No device with SID {change.sid!r} in this account.")
    ctx.bus.publish(bus.DEVICE_CHANGED, str(row["id"]))
    return DeviceUpdated(
        sid=str(row["sid"]),
        label=str(row["label"]),
        phone_number=row["phone_number"] or None,
        pacing=Pacing(
            rate_per_minute=row["rate_per_minute"],
            rate_per_hour=row["rate_per_hour"],
            daily_cap=row["daily_cap"],
        ),
    )


async def update_any_device(ctx: Context, change: DeviceChange) -> DeviceUpdated:
    """``update_device`` for an operator who names the device by SID alone (the CLI)."""
    async with ctx.db.connect() as conn:
        row = await device_store.by_sid(conn, change.sid)
    if row is None:
        raise NotFound(f"No device with SID {change.sid!r}.")
    return await update_device(ctx, int(row["account_id"]), change)


async def device_by_id(ctx: Context, device_id: int) -> Device | None:
    """A device as a connection knows it, read again (after its owner changed it)."""
    async with ctx.db.connect() as conn:
        row = await device_store.by_id(conn, device_id)
    return None if row is None else _device(row)


@dataclass(frozen=True)
class DeviceRemoved:
    """What went with a deleted device."""

    sid: str
    received: int
    mobile_sent: int
    failed_queued: int
    requeued: int


async def delete_device(ctx: Context, account_id: int, sid: str) -> DeviceRemoved:
    """Delete a device, its received SMS and its from-the-phone log, and cut its connection.

    In one transaction: messages addressed to this SID that have not gone out fail with
    ``error_api = "device deleted"``; messages it held without being addressed to it return to
    the queue for the other devices; its inbox and mobile_sent rows are deleted; the device row
    goes (sent-log rows stay and lose their device link, keeping the SID as text). After the
    commit its token no longer authenticates, and a ``device-removed`` notification makes the
    live session, if any, close the socket.
    """
    now = ctx.clock()
    async with ctx.db.begin() as conn:
        row = await device_store.get(conn, account_id, sid)
        if row is None:
            raise NotFound(f"No device with SID {sid!r} in this account.")
        device_id = int(row["id"])
        failed, requeued = await message_store.release_device(
            conn, account_id, device_id, sid, error=DEVICE_DELETED, now_ms=now
        )
        received, from_phone = await device_store.delete_history(conn, account_id, device_id, sid)
        await device_store.delete_one(conn, account_id, sid)
    ctx.bus.publish(bus.DEVICE_REMOVED, str(device_id))
    if requeued:
        ctx.bus.publish(bus.WORK, str(account_id))
    return DeviceRemoved(
        sid=sid,
        received=received,
        mobile_sent=from_phone,
        failed_queued=failed,
        requeued=requeued,
    )
