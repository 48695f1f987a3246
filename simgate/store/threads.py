"""Read and mark queries behind the dashboard's inbox: threads per number, one thread's timeline.

A thread is one phone number of one account: the SMS received from it (``inbox``) and the SMS
sent to it (``messages``, SMS channels only). The thread list is made of the numbers that texted
the account, newest first; it is paged with LIMIT/OFFSET over the grouped numbers (an account
has far fewer numbers than messages). A timeline is paged by a keyset cursor
``(at_ms, side, id)``, ``side`` 0 for received and 1 for sent, so that at the same millisecond
what came in sorts before the answer, as in ``services.conversations``. Both are served by the
indexes ``ix_inbox_account_number`` and ``ix_messages_account_recipient`` (migration 0010).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.conversations import SMS_CHANNELS
from simgate.store.tables import inbox, messages

RECEIVED = 0
SENT = 1


@dataclass(frozen=True)
class Cursor:
    """A position in a timeline: everything strictly older than this message."""

    at_ms: int
    side: int
    id: int


async def thread_page(
    conn: AsyncConnection, account_id: int, *, limit: int, offset: int
) -> Sequence[RowMapping]:
    """Numbers that texted the account, by their latest received SMS (newest first), with
    ``last_ms``, ``received`` (how many) and ``unread`` (how many not marked read)."""
    last = func.max(inbox.c.received_ms)
    unread = func.sum(case((inbox.c.read.is_(False), 1), else_=0))
    query = (
        select(
            inbox.c.number,
            last.label("last_ms"),
            func.count().label("received"),
            unread.label("unread"),
        )
        .where(inbox.c.account_id == account_id)
        .group_by(inbox.c.number)
        .order_by(last.desc(), inbox.c.number.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await conn.execute(query)).mappings().all()


async def unread_total(conn: AsyncConnection, account_id: int) -> int:
    """How many received SMS of the account are not marked read."""
    query = select(func.count()).where(inbox.c.account_id == account_id, inbox.c.read.is_(False))
    return int((await conn.execute(query)).scalar_one())


async def unread_of(conn: AsyncConnection, account_id: int, number: str) -> int:
    """How many received SMS of the number are not marked read."""
    query = select(func.count()).where(
        inbox.c.account_id == account_id, inbox.c.number == number, inbox.c.read.is_(False)
    )
    return int((await conn.execute(query)).scalar_one())


async def latest_received(
    conn: AsyncConnection, account_id: int, numbers: Sequence[str]
) -> dict[str, RowMapping]:
    """Each number's latest received SMS (for the thread list's preview), one indexed look-up
    per number: the page shows a few dozen numbers at most."""
    found: dict[str, RowMapping] = {}
    for number in numbers:
        query = (
            select(inbox.c.number, inbox.c.text, inbox.c.received_ms)
            .where(inbox.c.account_id == account_id, inbox.c.number == number)
            .order_by(inbox.c.received_ms.desc(), inbox.c.id.desc())
            .limit(1)
        )
        row = (await conn.execute(query)).mappings().first()
        if row is not None:
            found[number] = row
    return found


def _older(
    at: ColumnElement[int], row_id: ColumnElement[int], side: int, cursor: Cursor | None
) -> list[ColumnElement[bool]]:
    """``(at, side, id) < cursor``, spelled so the index on ``at`` can still be used."""
    if cursor is None:
        return []
    same_ms: ColumnElement[bool]
    if side < cursor.side:
        same_ms = literal(True)
    elif side > cursor.side:
        same_ms = literal(False)
    else:
        same_ms = row_id < cursor.id
    return [at <= cursor.at_ms, or_(at < cursor.at_ms, and_(at == cursor.at_ms, same_ms))]


async def received_before(
    conn: AsyncConnection, account_id: int, number: str, cursor: Cursor | None, limit: int
) -> Sequence[RowMapping]:
    """The number's received SMS older than ``cursor``, newest first."""
    query = (
        select(
            inbox.c.id,
            inbox.c.guid,
            inbox.c.received_ms.label("at_ms"),
            inbox.c.text,
            inbox.c.read,
            inbox.c.device_sid,
        )
        .where(
            inbox.c.account_id == account_id,
            inbox.c.number == number,
            *_older(inbox.c.received_ms, inbox.c.id, RECEIVED, cursor),
        )
        .order_by(inbox.c.received_ms.desc(), inbox.c.id.desc())
        .limit(limit)
    )
    return (await conn.execute(query)).mappings().all()


async def sent_before(
    conn: AsyncConnection, account_id: int, number: str, cursor: Cursor | None, limit: int
) -> Sequence[RowMapping]:
    """The SMS sent to the number older than ``cursor``, newest first (``at_ms``: submitted)."""
    query = (
        select(
            messages.c.id,
            messages.c.guid,
            messages.c.created_ms.label("at_ms"),
            messages.c.text,
            messages.c.state,
            messages.c.device_sid,
        )
        .where(
            messages.c.account_id == account_id,
            messages.c.recipient == number,
            messages.c.channel.in_(SMS_CHANNELS),
            *_older(messages.c.created_ms, messages.c.id, SENT, cursor),
        )
        .order_by(messages.c.created_ms.desc(), messages.c.id.desc())
        .limit(limit)
    )
    return (await conn.execute(query)).mappings().all()


async def alias(conn: AsyncConnection, account_id: int, number: str) -> str | None:
    """The number's latest non-empty alias among its received SMS."""
    query = (
        select(inbox.c.alias)
        .where(
            inbox.c.account_id == account_id,
            inbox.c.number == number,
            inbox.c.alias.is_not(None),
            inbox.c.alias != "",
        )
        .order_by(inbox.c.received_ms.desc(), inbox.c.id.desc())
        .limit(1)
    )
    value = (await conn.execute(query)).scalar_one_or_none()
    return None if value is None else str(value)


async def mark_read(conn: AsyncConnection, account_id: int, number: str) -> int:
    """Mark every received SMS of the number read; how many were unread."""
    result = await conn.execute(
        update(inbox)
        .where(
            inbox.c.account_id == account_id,
            inbox.c.number == number,
            inbox.c.read.is_(False),
        )
        .values(read=True)
    )
    return int(result.rowcount)
