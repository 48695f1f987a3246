"""Sending messages and reading the sent log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.engine import RowMapping

from simgate import bus
from simgate.domain import guids
from simgate.domain.errors import NotFound, invalid, missing
from simgate.domain.recipients import Recipient, parse_recipients
from simgate.domain.segments import MAX_MESSAGE_CHARS, MAX_PARTS, count_segments
from simgate.domain.states import MessageState
from simgate.context import Context
from simgate.store import devices as device_store
from simgate.store import messages as message_store

Channel = Literal["sms", "whatsapp", "both"]


@dataclass(frozen=True)
class SendRequest:
    """One call to send: already parsed from whatever protocol carried it."""

    recipients: str
    message: str
    port: int | None = None
    sid: str | None = None
    channel: Channel = "sms"
    schedule_ms: int | None = None
    shorturl: bool = False
    encrypt: bool = False
    source: str = "api"


@dataclass(frozen=True)
class Accepted:
    """One stored message, as the caller needs it to answer."""

    guid: str
    recipient: str
    parts: int
    encoding: str
    port: int | None
    channel: Channel
    schedule_ms: int | None


@dataclass(frozen=True)
class SendOutcome:
    """The accepted messages, one per valid recipient, and the recipients refused."""

    accepted: list[Accepted]
    rejected: list[Recipient] = field(default_factory=list)
    created_ms: int = 0


async def send(ctx: Context, account_id: int, request: SendRequest) -> SendOutcome:
    """Validate, store one queued message per recipient, and wake the dispatcher.

    The call returns once the rows are committed: from then on a crash loses nothing. Invalid
    recipients are reported back beside the accepted ones; if none is valid, nothing is stored.
    """
    text = request.message
    if not text.strip():
        raise missing("message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise invalid("message", f"at most {MAX_MESSAGE_CHARS} characters")
    segments = count_segments(text)
    if segments.parts > MAX_PARTS:
        raise invalid("message", f"at most {MAX_PARTS} SMS parts ({segments.encoding})")
    recipients = parse_recipients(
        request.recipients, ctx.settings.default_region, ctx.settings.max_recipients
    )
    valid = [recipient for recipient in recipients if recipient.ok]
    rejected = [recipient for recipient in recipients if not recipient.ok]
    if not valid:
        first = rejected[0]
        raise invalid("recipients", f"{first.raw!r}: {first.error}")

    now = ctx.clock()
    scheduled = request.schedule_ms is not None and request.schedule_ms > now
    not_before = request.schedule_ms if scheduled and request.schedule_ms is not None else now
    rows: list[dict[str, Any]] = [
        {
            "guid": guids.new_guid(),
            "account_id": account_id,
            "recipient": recipient.e164,
            "text": text,
            "encoding": segments.encoding,
            "parts": segments.parts,
            "channel": request.channel,
            "state": MessageState.QUEUED.value,
            "port": request.port,
            "requested_sid": request.sid,
            "schedule_ms": request.schedule_ms,
            "not_before_ms": not_before,
            "created_ms": now,
            "updated_ms": now,
            "error_api": "",
            "error_mobile": "",
            "retries": 0,
            "shorturl": request.shorturl,
            "encrypted": request.encrypt,
            "source": request.source,
        }
        for recipient in valid
    ]
    async with ctx.db.begin() as conn:
        if request.sid is not None and await device_store.get(conn, account_id, request.sid) is None:
            raise NotFound(f"No device with sIdentifiant {request.sid!r} in this account.")
        await message_store.insert_many(conn, rows)
    ctx.bus.publish(bus.SCHEDULE if scheduled else bus.WORK, str(account_id))
    accepted = [
        Accepted(
            guid=row["guid"],
            recipient=row["recipient"],
            parts=segments.parts,
            encoding=segments.encoding,
            port=request.port,
            channel=request.channel,
            schedule_ms=request.schedule_ms,
        )
        for row in rows
    ]
    return SendOutcome(accepted=accepted, rejected=rejected, created_ms=now)


@dataclass(frozen=True)
class LogQuery:
    guid: str | None = None
    before_guid: str | None = None
    before_ms: int | None = None
    error_api: bool = False
    error_mobile: bool = False
    keyword: str | None = None
    limit: int = 100


async def sent_log(ctx: Context, account_id: int, query: LogQuery) -> list[RowMapping]:
    """The account's sent messages, newest first, filtered and paged as the query says."""
    async with ctx.db.connect() as conn:
        before_id = None
        if query.before_guid is not None:
            before_id = await message_store.id_of(conn, account_id, query.before_guid)
            if before_id is None:
                raise NotFound(f"No message with GUID {query.before_guid} in this account.")
        rows = await message_store.list_log(
            conn,
            account_id,
            guid=query.guid,
            before_id=before_id,
            before_ms=query.before_ms,
            error_api=query.error_api,
            error_mobile=query.error_mobile,
            keyword=query.keyword,
            limit=query.limit,
        )
    return list(rows)

