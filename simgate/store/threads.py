"""Read and mark queries behind the dashboard's inbox: threads per number, one thread's timeline.

A thread is one phone number of one account: the SMS received from it (``inbox``) and the SMS
sent to it (``messages``, SMS channels only). The thread list is made of the numbers that texted
the account, by their latest received SMS, newest first. Both lists are paged by a keyset cursor
``(at_ms, side, id)`` (``side`` 0 for received, 1 for sent, so that at the same millisecond what
came in sorts before the answer, as in ``services.conversations``): no page reads the rows of
the pages before it. The indexes of migration 0010 serve every query here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, false, func, literal, or_, select, update
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
    conn: AsyncConnection, account_id: int, *, before: Cursor | None, limit: int
) -> Sequence[RowMapping]:
    """The latest received SMS of each number, newest first, older than ``before``: one row
    per thread (``id``, ``number``, ``at_ms``, ``text``).

    The account's SMS are walked newest first (``ix_inbox_account_received``) and an SMS is
    kept when no later one of its number exists (one probe of ``ix_inbox_account_number``),
    so a page costs the SMS between its first and last thread, not the whole inbox.
    """
    latest = inbox.alias("latest")
    later = inbox.alias("later")
    newer_exists = exists(
        select(literal(1)).where(
            later.c.account_id == account_id,
            later.c.number == latest.c.number,
            # The first term bounds the index range; the second settles the same millisecond.
            later.c.received_ms >= latest.c.received_ms,
            or_(later.c.received_ms > latest.c.received_ms, later.c.id > latest.c.id),
        )
    )
    query = (
        select(
            latest.c.id,
            latest.c.number,
            latest.c.received_ms.label("at_ms"),
            latest.c.text,
        )
        .where(
            latest.c.account_id == account_id,
            *_older(latest.c.received_ms, latest.c.id, RECEIVED, before),
            ~newer_exists,
        )
        .order_by(latest.c.received_ms.desc(), latest.c.id.desc())
        .limit(limit)
    )
    return (await conn.execute(query)).mappings().all()


async def counts(
    conn: AsyncConnection, account_id: int, numbers: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """Per number, how many SMS it sent and how many of them are unread (read from
    ``ix_inbox_account_number`` alone, which holds the read flag)."""
    if not numbers:
        return {}
    unread = func.sum(case((inbox.c.read == false(), 1), else_=0))
    query = (
        select(inbox.c.number, func.count(), unread)
        .where(inbox.c.account_id == account_id, inbox.c.number.in_(list(numbers)))
        .group_by(inbox.c.number)
    )
    return {
        str(number): (int(total), int(unread_count or 0))
        for number, total, unread_count in (await conn.execute(query)).all()
    }


async def unread_of(conn: AsyncConnection, account_id: int, number: str) -> int:
    """How many received SMS of the number are not marked read."""
    query = select(func.count()).where(
        inbox.c.account_id == account_id, inbox.c.number == number, inbox.c.read == false()
    )
    return int((await conn.execute(query)).scalar_one())


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
            inbox.c.read == false(),
        )
        .values(read=True)
    )
    return int(result.rowcount)


async def set_alias(conn: AsyncConnection, account_id: int, number: str, alias: str | None) -> int:
    """Give every received SMS of the number this alias (None clears it); how many changed."""
    result = await conn.execute(
        update(inbox)
        .where(inbox.c.account_id == account_id, inbox.c.number == number)
        .values(alias=alias)
    )
    return int(result.rowcount)
