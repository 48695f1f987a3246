"""Received SMS: storing what devices report and reading the inbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from simgate.domain import guids
from simgate.domain.errors import SimgateError
from simgate.domain.recipients import normalize_number
from simgate.context import Context
from simgate.services.devices import Device
from simgate.store import inbox as inbox_store


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


async def record_received(ctx: Context, device: Device, sms: Inbound) -> tuple[RowMapping, bool]:
    """Store an SMS the device received; a resent frame returns the stored row, ``False``."""
    now = ctx.clock()
    row = {
        "guid": guids.new_guid(),
        "account_id": device.account_id,
        "device_id": device.id,
        "device_sid": device.sid,
        "number": sender_number(sms.number, ctx.settings.default_region),
        "text": sms.text,
        "sim": sms.sim,
        "received_ms": sms.received_ms,
        "created_ms": now,
        "read": False,
        "alias": None,
        "dedup_key": f"{device.id}:{sms.frame_id}"[:120],
    }
    async with ctx.db.begin() as conn:
        return await inbox_store.insert_once(conn, row)


@dataclass(frozen=True)
class InboxQuery:
    device_sid: str | None = None
    after_ms: int | None = None
    only_unread: bool = False


async def list_received(ctx: Context, account_id: int, query: InboxQuery) -> list[RowMapping]:
    """The account's received SMS, newest first."""
    async with ctx.db.connect() as conn:
        rows = await inbox_store.list_received(
            conn,
            account_id,
            device_sid=query.device_sid,
            after_ms=query.after_ms,
            only_unread=query.only_unread,
        )
    return list(rows)
