"""The devices of an account, as the gateway endpoints show and manage them.

Listing answers "which phones do I have, which are up, what did they do today"; updating sets a
phone's label and number; deleting removes a phone, its history and its access. Presence comes
from two places because either alone is wrong: a device connected to *this* process is online
even between heartbeats, and a device connected to another process sharing the database is
online while its last heartbeat is recent. The service learns who is connected here through
the small :class:`Presence` protocol (the dispatcher satisfies it), so it never imports the
dispatch or device adapters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.engine import RowMapping

from simgate import bus
from simgate.context import Context
from simgate.domain import timefmt
from simgate.domain.errors import InvalidParameter, NotFound, invalid
from simgate.domain.recipients import normalize_number
from simgate.store import devices as device_store

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
class MobileQuery:
    """Filters of ``/gateway/mobile/list/``: an exact SID and/or a free-text search."""

    sid: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class Mobile:
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


@dataclass(frozen=True)
class MobileList:
    """The filtered devices, and counts over *all* of the account's devices."""

    items: list[Mobile]
    paired: int
    online: int
    online_seconds: int


def local_midnight_ms(now_ms: int, zone: ZoneInfo) -> int:
    """The UTC milliseconds of the last midnight in ``zone``: where "today" starts there."""
    midnight = datetime.combine(timefmt.local(now_ms, zone).date(), time(0), tzinfo=zone)
    return int(midnight.timestamp() * 1000)


def _json_list(value: object) -> list[object]:
    try:
        decoded = json.loads(str(value or "[]"))
    except ValueError:
        return []
    return decoded if isinstance(decoded, list) else []


def _mobile(
    row: RowMapping, *, online: bool, sent: dict[int, int], received: dict[int, int]
) -> Mobile:
    device_id = int(row["id"])
    return Mobile(
        sid=str(row["sid"]),
        label=str(row["label"]),
        phone_number=row["phone_number"] or None,
        online=online,
        last_seen_ms=None if row["last_seen_ms"] is None else int(row["last_seen_ms"]),
        battery=row["battery"],
        signal=row["signal"],
        version=row["version"] or None,
        driver=row["driver"] or None,
        sims=[s for s in _json_list(row["sims"]) if isinstance(s, int)],
        capabilities=[c for c in _json_list(row["capabilities"]) if isinstance(c, str)],
        sent_today=sent.get(device_id, 0),
        received_today=received.get(device_id, 0),
    )


def _matches(mobile: Mobile, needle: str, zone: ZoneInfo) -> bool:
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


async def list_mobiles(
    ctx: Context, account_id: int, query: MobileQuery, presence: Presence
) -> MobileList:
    """The account's devices, oldest first, with presence and today's sent/received counts.

    ``today`` starts at midnight in ``settings.timezone``. Sent counts the messages the device
    reported sent; received counts the SMS it received (by the phone's time of receipt). Three
    queries in all: the devices, and one grouped count each.
    """
    now = ctx.clock()
    zone = ctx.settings.zone
    since = local_midnight_ms(now, zone)
    online_ms = ctx.settings.device_online_seconds * 1000
    here = {connection.device_id for connection in presence.connected(account_id)}
    async with ctx.db.connect() as conn:
        rows = await device_store.list_for_account(conn, account_id)
        sent = await device_store.sent_counts_since(conn, account_id, since)
        received = await device_store.received_counts_since(conn, account_id, since)
    mobiles = [
        _mobile(
            row,
            online=int(row["id"]) in here
            or (row["last_seen_ms"] is not None and now - int(row["last_seen_ms"]) <= online_ms),
            sent=sent,
            received=received,
        )
        for row in rows
    ]
    items = [
        mobile
        for mobile in mobiles
        if (query.sid is None or mobile.sid == query.sid)
        and (query.search is None or _matches(mobile, query.search, zone))
    ]
    return MobileList(
        items=items,
        paired=len(mobiles),
        online=sum(mobile.online for mobile in mobiles),
        online_seconds=ctx.settings.device_online_seconds,
    )


@dataclass(frozen=True)
class MobileUpdate:
    """``label`` replaces the label (empty clears it); ``phone_number`` None leaves it as is."""

    sid: str
    label: str
    phone_number: str | None = None


@dataclass(frozen=True)
class Updated:
    sid: str
    label: str
    phone_number: str | None


async def update_mobile(ctx: Context, account_id: int, change: MobileUpdate) -> Updated:
    """Rename a device and optionally set its phone number (normalised to E.164).

    A SID of another account is reported exactly like an unknown one.
    """
    label = change.label.strip()
    if len(label) > MAX_LABEL:
        raise invalid("label", f"at most {MAX_LABEL} characters")
    phone: str | None = None
    if change.phone_number is not None:
        try:
            phone = normalize_number(change.phone_number, ctx.settings.default_region)
        except InvalidParameter as exc:
            raise invalid(
                "phone_number", "not a phone number (expected E.164, e.g. +32470123456)"
            ) from exc
    async with ctx.db.begin() as conn:
        row = await device_store.update_label(
            conn, account_id, change.sid, label=label, phone_number=phone
        )
    if row is None:
        raise NotFound(f"No device with SID {change.sid!r} in this account.")
    return Updated(
        sid=str(row["sid"]), label=str(row["label"]), phone_number=row["phone_number"] or None
    )


@dataclass(frozen=True)
class Removed:
    """What went with a deleted device."""

    sid: str
    received: int
    mobile_sent: int
    failed_queued: int
    requeued: int


async def delete_mobile(ctx: Context, account_id: int, sid: str) -> Removed:
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
        failed, requeued = await device_store.release_messages(
            conn, account_id, device_id, sid, error=DEVICE_DELETED, now_ms=now
        )
        received, from_phone = await device_store.delete_history(conn, account_id, device_id, sid)
        await device_store.delete_one(conn, account_id, sid)
    ctx.bus.publish(bus.DEVICE_REMOVED, str(device_id))
    if requeued:
        ctx.bus.publish(bus.WORK, str(account_id))
    return Removed(
        sid=sid,
        received=received,
        mobile_sent=from_phone,
        failed_queued=failed,
        requeued=requeued,
    )
