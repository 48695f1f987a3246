"""SMS typed on the phone itself: storing what devices report, and the 7-day log of them.

The phone's owner also sends SMS by hand; an agent that sees them reports each one with a
``mobile_sent`` frame so that ``/log/sent/frommobile/`` can list them beside the API's own log.
Like the reference service, the log only ever looks back seven days (by the time a row reached
the server), whatever filters the caller adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from typing import Final

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.context import Context
from simgate.domain import timefmt
from simgate.domain.errors import NotFound, SimgateError, invalid
from simgate.domain.framekeys import frame_key
from simgate.domain.recipients import normalize_number
from simgate.services import webhook_events
from simgate.services.devices import Device
from simgate.services.inbox import Recorded, sender_number
from simgate.store import devices as device_store
from simgate.store import groupcommit
from simgate.store import mobile_sent as mobile_sent_store
from simgate.store.mobile_sent import Filters, SortField

DAY_MS: Final = 24 * 3600 * 1000
WINDOW_MS: Final = 7 * DAY_MS
"""Rows synchronised longer ago than this are never listed."""

MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 200

PERIODS: Final = ("today", "yesterday", "last_24h", "last_3days", "last_7days")

#: The documented ``sort_by`` spellings and the stored field each one sorts on.
SORT_BY: Final[dict[str, SortField]] = {
    "sIdentifiant": "device_sid",
    "number": "number",
    "message": "text",
    "mobile_date_ms": "mobile_date_ms",
    "mobile_date_formatted": "mobile_date_formatted",
    "synchro_time": "synchro_ms",
}
DEFAULT_SORT_BY: Final = "mobile_date_ms"


@dataclass(frozen=True)
class MobileSent:
    """One SMS as the device reported it: ``at_ms`` is when the phone sent it."""

    frame_id: str
    number: str
    text: str
    at_ms: int
    formatted: str


async def record(ctx: Context, device: Device, sms: MobileSent) -> Recorded:
    """Store a reported SMS, once per frame id.

    ``formatted`` is the phone's own rendering of its local time and is kept as sent; a device
    that does not send one gets ``at_ms`` rendered in the server's zone instead, so the field
    is never empty.
    """
    formatted = sms.formatted.strip() or timefmt.datetime_str(sms.at_ms, ctx.settings.zone)
    row = {
        "account_id": device.account_id,
        "device_id": device.id,
        "device_sid": device.sid,
        "number": sender_number(sms.number, await ctx.regions.of(device.account_id)),
        "text": sms.text,
        "mobile_date_ms": sms.at_ms,
        "mobile_date_formatted": formatted,
        "synchro_ms": ctx.clock(),
        "dedup_key": frame_key(device.id, sms.frame_id),
    }
    return await ctx.db.together(_store_each, (ctx, row))


async def _store(conn: AsyncConnection, job: tuple[Context, dict[str, object]]) -> Recorded:
    ctx, row = job
    stored, new = await mobile_sent_store.insert_once(conn, row)
    if new:
        await webhook_events.mobile_sent(ctx, conn, stored)
    return Recorded(key=str(stored["id"]), new=new)


_store_each = groupcommit.each(_store)


@dataclass(frozen=True)
class FromMobileQuery:
    """The parsed filters of ``/log/sent/frommobile/``; days are calendar days in the zone."""

    day: date | None = None
    day_from: date | None = None
    day_to: date | None = None
    period: str | None = None
    sid: str | None = None
    number: str | None = None
    message: str | None = None
    search: str | None = None
    sort_by: str = DEFAULT_SORT_BY
    descending: bool = True
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class MobileSentEntry:
    """One SMS of the from-mobile log as adapters read it: ``mobile_date_ms`` is when the phone
    sent it, ``mobile_date_formatted`` the phone's own rendering of it, ``synchro_ms`` when it
    reached the server."""

    device_sid: str
    number: str
    text: str
    mobile_date_ms: int
    mobile_date_formatted: str
    synchro_ms: int


def _entry(row: RowMapping) -> MobileSentEntry:
    return MobileSentEntry(
        device_sid=row["device_sid"],
        number=row["number"],
        text=row["text"],
        mobile_date_ms=int(row["mobile_date_ms"]),
        mobile_date_formatted=row["mobile_date_formatted"],
        synchro_ms=int(row["synchro_ms"]),
    )


def next_day(day: date, parameter: str) -> date:
    """The day after ``day``; 9999-12-31 has none and is refused as out of range."""
    try:
        return day + timedelta(days=1)
    except OverflowError as exc:
        raise invalid(parameter, f"{day.isoformat()} is out of range") from exc


def _period_range(period: str, now: int, zone: tzinfo) -> tuple[int, int | None]:
    today = timefmt.local(now, zone).date()

    def midnight(day: date) -> int:
        return timefmt.midnight_ms(day, zone)

    if period == "today":
        return timefmt.midnight_ms(today, zone), timefmt.midnight_ms(
            next_day(today, "period"), zone
        )
    if period == "yesterday":
        return timefmt.midnight_ms(today - timedelta(days=1), zone), timefmt.midnight_ms(
            today, zone
        )
    hours = {"last_24h": 24, "last_3days": 72, "last_7days": 168}[period]
    return now - hours * 3600 * 1000, None


def _mobile_range(query: FromMobileQuery, now: int, zone: tzinfo) -> tuple[int | None, int | None]:
    """The intersection of every date filter given, as ``[from, to)`` in UTC ms."""
    if query.day_from is not None and query.day_to is not None and query.day_from > query.day_to:
        raise invalid("date_to", "must not be before date_from")
    starts: list[int] = []
    ends: list[int] = []
    if query.day is not None:
        starts.append(timefmt.midnight_ms(query.day, zone))
        ends.append(timefmt.midnight_ms(next_day(query.day, "date"), zone))
    if query.day_from is not None:
        starts.append(timefmt.midnight_ms(query.day_from, zone))
    if query.day_to is not None:
        ends.append(timefmt.midnight_ms(next_day(query.day_to, "date_to"), zone))
    if query.period is not None:
        start, end = _period_range(query.period, now, zone)
        starts.append(start)
        if end is not None:
            ends.append(end)
    return (max(starts) if starts else None), (min(ends) if ends else None)


def _number_filters(number: str | None, region: str) -> tuple[str | None, str | None]:
    """A possible phone number matches exactly (any spelling); anything else as a substring."""
    if number is None:
        return None, None
    try:
        return normalize_number(number, region), None
    except SimgateError:
        return None, number.strip()


def _matches(entry: MobileSentEntry, needle: str, zone: tzinfo) -> bool:
    synchro_time = timefmt.datetime_str(entry.synchro_ms, zone)
    haystack = (
        entry.device_sid,
        entry.number,
        entry.text,
        entry.mobile_date_formatted,
        synchro_time,
    )
    return any(needle in field.casefold() for field in haystack)


async def list_from_mobile(
    ctx: Context, account_id: int, query: FromMobileQuery, *, region: str | None = None
) -> list[MobileSentEntry]:
    """The account's phone-typed SMS of the last 7 days, filtered, sorted and capped.

    ``search`` also looks at ``synchro_time`` as the client sees it (formatted in the configured
    zone), which SQL cannot compare portably, so with ``search`` the rows of the window are
    filtered here, in the requested order, before the cap. A ``sid`` that is not one of this
    account's devices is a 404, as everywhere else. ``number`` is read in ``region`` (the
    account's; None: the server's default).
    """
    now = ctx.clock()
    zone = ctx.settings.zone
    mobile_from, mobile_to = _mobile_range(query, now, zone)
    exact, part = _number_filters(query.number, region or ctx.settings.default_region)
    filters = Filters(
        synchro_from_ms=now - WINDOW_MS,
        mobile_from_ms=mobile_from,
        mobile_to_ms=mobile_to,
        device_sid=query.sid,
        number_exact=exact,
        number_part=part,
        text_part=query.message,
    )
    async with ctx.db.connect() as conn:
        if query.sid is not None and await device_store.get(conn, account_id, query.sid) is None:
            raise NotFound(f"No device with sIdentifiant {query.sid!r} in this account.")
        rows = await mobile_sent_store.list_rows(
            conn,
            account_id,
            filters,
            sort=SORT_BY[query.sort_by],
            descending=query.descending,
            limit=None if query.search is not None else query.limit,
        )
    entries = [_entry(row) for row in rows]
    if query.search is None:
        return entries
    needle = query.search.casefold()
    return [entry for entry in entries if _matches(entry, needle, zone)][: query.limit]
