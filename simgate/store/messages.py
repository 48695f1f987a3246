"""Outgoing messages: the queue the dispatcher claims from and the sent log clients read.

Every state change is one UPDATE guarded by the expected current state(s), so two processes
can never both move the same message (see ``transition``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.states import MessageState
from simgate.store._sql import like_pattern
from simgate.store.tables import messages, short_links

SCHEDULED = MessageState.SCHEDULED.value
QUEUED = MessageState.QUEUED.value
DISPATCHED = MessageState.DISPATCHED.value


async def insert_many(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    await conn.execute(messages.insert(), [dict(row) for row in rows])


async def get(conn: AsyncConnection, account_id: int, guid: str) -> RowMapping | None:
    result = await conn.execute(
        select(messages).where(messages.c.account_id == account_id, messages.c.guid == guid)
    )
    return result.mappings().first()


async def transition(
    conn: AsyncConnection,
    account_id: int,
    guid: str,
    *,
    from_states: Collection[str],
    values: Mapping[str, Any],
) -> RowMapping | None:
    """Apply ``values`` if the message is still in one of ``from_states``; the new row or None."""
    result = await conn.execute(
        update(messages)
        .where(
            messages.c.account_id == account_id,
            messages.c.guid == guid,
            messages.c.state.in_(list(from_states)),
        )
        .values(**values)
        .returning(messages)
    )
    row: RowMapping | None = result.mappings().first()
    return row


async def claim(
    conn: AsyncConnection,
    account_id: int,
    *,
    device_id: int,
    device_sid: str,
    channels: Collection[str],
    now_ms: int,
    lease_until_ms: int,
    limit: int,
) -> list[RowMapping]:
    """Move up to ``limit`` due messages this device may send from queued to dispatched.

    On PostgreSQL the inner SELECT skips rows another process is claiming at the same moment.
    """
    due = (
        select(messages.c.id)
        .where(
            messages.c.account_id == account_id,
            messages.c.state == QUEUED,
            messages.c.not_before_ms <= now_ms,
            or_(messages.c.requested_sid.is_(None), messages.c.requested_sid == device_sid),
            messages.c.channel.in_(list(channels)),
        )
        .order_by(messages.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await conn.execute(
        update(messages)
        .where(messages.c.id.in_(due.scalar_subquery()), messages.c.state == QUEUED)
        .values(
            state=DISPATCHED,
            device_id=device_id,
            device_sid=device_sid,
            dispatched_ms=now_ms,
            lease_until_ms=lease_until_ms,
            updated_ms=now_ms,
        )
        .returning(messages)
    )
    return sorted(result.mappings().all(), key=lambda row: int(row["id"]))


async def renew_dispatched(
    conn: AsyncConnection, device_id: int, *, now_ms: int, lease_until_ms: int
) -> list[RowMapping]:
    """The messages a (re)connecting device holds but has not reported, with a fresh lease."""
    result = await conn.execute(
        update(messages)
        .where(messages.c.device_id == device_id, messages.c.state == DISPATCHED)
        .values(lease_until_ms=lease_until_ms, updated_ms=now_ms)
        .returning(messages)
    )
    return sorted(result.mappings().all(), key=lambda row: int(row["id"]))


async def requeue_expired(conn: AsyncConnection, now_ms: int) -> list[int]:
    """Return messages whose lease ran out to the queue; the accounts concerned."""
    result = await conn.execute(
        update(messages)
        .where(messages.c.state == DISPATCHED, messages.c.lease_until_ms < now_ms)
        .values(state=QUEUED, device_id=None, lease_until_ms=None, updated_ms=now_ms)
        .returning(messages.c.account_id)
    )
    return sorted({int(account_id) for account_id in result.scalars().all()})


async def promote_due(conn: AsyncConnection, now_ms: int) -> list[int]:
    """Queue the scheduled messages whose send time has come; the accounts concerned."""
    result = await conn.execute(
        update(messages)
        .where(messages.c.state == SCHEDULED, messages.c.not_before_ms <= now_ms)
        .values(state=QUEUED, updated_ms=now_ms)
        .returning(messages.c.account_id)
    )
    return sorted({int(account_id) for account_id in result.scalars().all()})


async def due_accounts(conn: AsyncConnection, now_ms: int) -> list[int]:
    result = await conn.execute(
        select(messages.c.account_id)
        .where(messages.c.state == QUEUED, messages.c.not_before_ms <= now_ms)
        .distinct()
    )
    return [int(value) for value in result.scalars().all()]


async def next_wakeup(conn: AsyncConnection, now_ms: int) -> int | None:
    """The earliest future moment at which a message becomes due or a lease runs out."""
    due = await conn.execute(
        select(func.min(messages.c.not_before_ms)).where(
            messages.c.state.in_((QUEUED, SCHEDULED)), messages.c.not_before_ms > now_ms
        )
    )
    lease = await conn.execute(
        select(func.min(messages.c.lease_until_ms)).where(messages.c.state == DISPATCHED)
    )
    candidates = [value for value in (due.scalar(), lease.scalar()) if value is not None]
    return int(min(candidates)) if candidates else None


async def id_of(conn: AsyncConnection, account_id: int, guid: str) -> int | None:
    result = await conn.execute(
        select(messages.c.id).where(messages.c.account_id == account_id, messages.c.guid == guid)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


def _clicks() -> Any:
    """Total clicks on a message's short links, as a correlated scalar subquery (0 without any)."""
    return (
        select(func.coalesce(func.sum(short_links.c.clicks), 0))
        .where(
            short_links.c.account_id == messages.c.account_id,
            short_links.c.message_guid == messages.c.guid,
        )
        .scalar_subquery()
        .label("shorturl_clicks")
    )


async def list_log(
    conn: AsyncConnection,
    account_id: int,
    *,
    guid: str | None = None,
    before_id: int | None = None,
    before_ms: int | None = None,
    error_api: bool = False,
    error_mobile: bool = False,
    keyword: str | None = None,
    limit: int = 100,
) -> Sequence[RowMapping]:
    """The sent log, newest first, each row with its ``shorturl_clicks``.

    Rows are ordered by id, which only grows: paging with ``before_id`` (the id of the last row
    seen) never skips or repeats a row, even while new messages are being inserted.
    """
    query = select(messages, _clicks()).where(messages.c.account_id == account_id)
    if guid is not None:
        query = query.where(messages.c.guid == guid)
    if before_id is not None:
        query = query.where(messages.c.id < before_id)
    if before_ms is not None:
        query = query.where(messages.c.created_ms < before_ms)
    if error_api:
        query = query.where(messages.c.error_api != "")
    if error_mobile:
        query = query.where(messages.c.error_mobile != "")
    if keyword:
        like = like_pattern(keyword)
        query = query.where(
            or_(
                messages.c.recipient.ilike(like, escape="\\"),
                messages.c.text.ilike(like, escape="\\"),
            )
        )
    result = await conn.execute(query.order_by(messages.c.id.desc()).limit(limit))
    return result.mappings().all()


async def delete_log(
    conn: AsyncConnection,
    account_id: int,
    *,
    guid: str | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
) -> list[str]:
    """Delete log rows by GUID and/or creation-time range [from_ms, to_ms); their GUIDs."""
    statement = delete(messages).where(messages.c.account_id == account_id)
    if guid is not None:
        statement = statement.where(messages.c.guid == guid)
    if from_ms is not None:
        statement = statement.where(messages.c.created_ms >= from_ms)
    if to_ms is not None:
        statement = statement.where(messages.c.created_ms < to_ms)
    result = await conn.execute(statement.returning(messages.c.guid))
    return [str(value) for value in result.scalars().all()]


async def delete_where(
    conn: AsyncConnection,
    account_id: int,
    *,
    guid: str | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
) -> int:
    """Like ``delete_log``, returning only how many rows went."""
    return len(await delete_log(conn, account_id, guid=guid, from_ms=from_ms, to_ms=to_ms))
