"""Received SMS: storing what devices report, reading the inbox, and the API-side marks.

The read flag and the alias live on the server only: ``/getsms/set-read/`` and
``/getsms/update/`` never reach the phone, as in the reference service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.context import Context
from simgate.domain import guids
from simgate.domain.errors import NotFound, SimgateError, invalid
from simgate.domain.framekeys import frame_key
from simgate.domain.optout import KeywordIntent, intent_of
from simgate.domain.recipients import normalize_number
from simgate.services import webhook_events
from simgate.services.devices import Device
from simgate.store import devices as device_store
from simgate.store import groupcommit
from simgate.store import inbox as inbox_store
from simgate.store import optouts as optout_store


@dataclass(frozen=True)
class Inbound:
    frame_id: str
    number: str
    text: str
    received_ms: int
    sim: int | None


def sender_number(raw: str, default_region: str) -> str:
    """E.164 when the sender is a phone number; as shown otherwise (short codes, "MyBank")."""
    try:
        return normalize_number(raw, default_region)
    except SimgateError:
        return raw.strip()


@dataclass(frozen=True)
class Recorded:
    """What storing a device's frame did: the stored item's GUID (or id), and whether the frame
    was new (False: a resend of a frame already stored, which changes nothing)."""

    key: str
    new: bool


async def record_received(ctx: Context, device: Device, sms: Inbound) -> Recorded:
    """Store an SMS the device received, once per frame id.

    A new SMS whose whole text is a stop (or start) keyword also puts its sender on (or takes
    it off) the account's opt-out list, in the same transaction: the SMS is never stored
    without its effect, and a resent frame changes nothing.
    """
    now = ctx.clock()
    number = sender_number(sms.number, await ctx.regions.of(device.account_id))
    row = {
        "guid": guids.new_guid(),
        "account_id": device.account_id,
        "device_id": device.id,
        "device_sid": device.sid,
        "number": number,
        "text": sms.text,
        "sim": sms.sim,
        "received_ms": sms.received_ms,
        "created_ms": now,
        "read": False,
        "alias": None,
        "dedup_key": frame_key(device.id, sms.frame_id),
    }
    # SMS arriving together from many phones share one transaction (group commit).
    return await ctx.db.together(_store_each, _Received(ctx, device.account_id, row))


@dataclass(frozen=True, slots=True)
class _Received:
    ctx: Context
    account_id: int
    row: dict[str, object]


async def _store(conn: AsyncConnection, job: _Received) -> Recorded:
    stored, new = await inbox_store.insert_once(conn, job.row)
    if new:
        await _apply_keyword(job.ctx, conn, job.account_id, str(stored["number"]), stored["text"])
        await webhook_events.received(job.ctx, conn, stored)
    return Recorded(key=str(stored["guid"]), new=new)


_store_each = groupcommit.each(_store)


async def _apply_keyword(
    ctx: Context, conn: AsyncConnection, account_id: int, number: str, text: str
) -> None:
    if not number:  # a hidden sender cannot be texted anyway
        return
    settings = ctx.settings
    intent = intent_of(text, settings.optout_keywords, settings.optin_keywords)
    if intent is KeywordIntent.OPT_OUT:
        await optout_store.add(conn, account_id, number, source="keyword", created_ms=ctx.clock())
    elif intent is KeywordIntent.OPT_IN:
        await optout_store.remove(conn, account_id, number)


#: ``/getsms/`` answers at most this many rows (the newest); see docs/api-receiving.md.
MAX_ROWS: Final = 1000
#: Longest alias ``/getsms/update/`` stores: a contact name, not a note.
MAX_ALIAS_CHARS: Final = 200


@dataclass(frozen=True)
class InboxQuery:
    device_sid: str | None = None
    after_ms: int | None = None
    only_unread: bool = False


@dataclass(frozen=True)
class ReceivedSms:
    """One received SMS as adapters read it: ``received_ms`` is the phone's receive time,
    ``created_ms`` when the server stored it; ``read`` and ``alias`` are the API-side marks."""

    id: int
    guid: str
    device_sid: str
    number: str
    text: str
    received_ms: int
    created_ms: int
    read: bool
    alias: str | None


def _received_sms(row: RowMapping) -> ReceivedSms:
    return ReceivedSms(
        id=int(row["id"]),
        guid=row["guid"],
        device_sid=row["device_sid"],
        number=row["number"],
        text=row["text"],
        received_ms=int(row["received_ms"]),
        created_ms=int(row["created_ms"]),
        read=bool(row["read"]),
        alias=row["alias"],
    )


async def list_received(ctx: Context, account_id: int, query: InboxQuery) -> list[ReceivedSms]:
    """The account's received SMS, newest first (by the phone's receive time), capped.

    A ``device_sid`` that is not one of this account's devices is a 404, the same answer
    whether it belongs to nobody or to another account.
    """
    async with ctx.db.connect() as conn:
        sid = query.device_sid
        if sid is not None and await device_store.get(conn, account_id, sid) is None:
            raise NotFound(f"No device with sIdentifiant {sid!r} in this account.")
        rows = await inbox_store.list_received(
            conn,
            account_id,
            device_sid=query.device_sid,
            after_ms=query.after_ms,
            only_unread=query.only_unread,
            limit=MAX_ROWS,
        )
    return [_received_sms(row) for row in rows]


async def mark_read(ctx: Context, account_id: int, guid: str) -> ReceivedSms:
    """Mark one received SMS as read in the API status (the phone's own status is untouched).

    Idempotent: marking an SMS that is already read succeeds and changes nothing.
    """
    async with ctx.db.begin() as conn:
        row = await inbox_store.set_fields(conn, account_id, guid, {"read": True})
    if row is None:
        raise NotFound(f"No received SMS with GUID {guid} in this account.")
    return _received_sms(row)


async def set_alias(ctx: Context, account_id: int, guid: str, alias: str) -> ReceivedSms:
    """Set the alias of one received SMS; a blank ``alias`` clears it (stored as null)."""
    cleaned = alias.strip()
    if len(cleaned) > MAX_ALIAS_CHARS:
        raise invalid("alias", f"at most {MAX_ALIAS_CHARS} characters")
    async with ctx.db.begin() as conn:
        row = await inbox_store.set_fields(conn, account_id, guid, {"alias": cleaned or None})
    if row is None:
        raise NotFound(f"No received SMS with GUID {guid} in this account.")
    return _received_sms(row)
