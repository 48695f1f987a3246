"""The sent log as clients read and prune it: paging by id, filters, short-link clicks, deletion.

Split from :mod:`simgate.store.messages`, which owns the queue and every state change; these
queries only read rows, or delete them by the client's selector, and never change a state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store._sql import like_pattern
from simgate.store.tables import messages, short_links


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


async def by_guids(
    conn: AsyncConnection, account_id: int, guids: Sequence[str]
) -> Sequence[RowMapping]:
    """The account's messages among ``guids`` (others' and unknown ones are left out), newest
    first."""
    if not guids:
        return []
    result = await conn.execute(
        select(messages)
        .where(messages.c.account_id == account_id, messages.c.guid.in_(list(guids)))
        .order_by(messages.c.id.desc())
    )
    return result.mappings().all()


def search_query(
    account_id: int,
    *,
    state: str | None = None,
    device_sid: str | None = None,
    number: str | None = None,
    number_part: str | None = None,
    text_part: str | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Select[Any]:
    """The dashboard's sent list: newest first, every filter optional, keyset-paged by id.

    Each equality filter has an index that starts with ``account_id`` and ends with ``id``
    (state: ``ix_messages_queue``; device and number: migration 0008), so a page reads its
    rows in order from the index and stops after ``limit``; substring filters walk the
    account's rows newest first until the page is full. (A function of its own so that the
    benchmark can show the engines' plans for exactly this statement.)
    """
    query = select(messages).where(messages.c.account_id == account_id)
    if state is not None:
        query = query.where(messages.c.state == state)
    if device_sid is not None:
        query = query.where(messages.c.device_sid == device_sid)
    if number is not None:
        query = query.where(messages.c.recipient == number)
    if number_part:
        query = query.where(messages.c.recipient.like(like_pattern(number_part), escape="\\"))
    if text_part:
        query = query.where(messages.c.text.ilike(like_pattern(text_part), escape="\\"))
    if from_ms is not None:
        query = query.where(messages.c.created_ms >= from_ms)
    if to_ms is not None:
        query = query.where(messages.c.created_ms < to_ms)
    if before_id is not None:
        query = query.where(messages.c.id < before_id)
    return query.order_by(messages.c.id.desc()).limit(limit)


async def search(conn: AsyncConnection, account_id: int, **filters: Any) -> Sequence[RowMapping]:
    """The rows of :func:`search_query` with these filters."""
    result = await conn.execute(search_query(account_id, **filters))
    rows: Sequence[RowMapping] = result.mappings().all()
    return rows
