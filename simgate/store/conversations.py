"""Read queries behind ``/conversation/sms/list/``: received and sent SMS grouped by number.

A conversation is one phone number: the SMS received from it (``inbox``) and the SMS sent to it
(``messages``). These queries pick the numbers and read each side's latest rows per number with
a window function (``ROW_NUMBER() OVER (PARTITION BY number ...)``, which SQLite >= 3.25 and
PostgreSQL both run), so a long conversation never loads more rows than the answer can show.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.tables import inbox, messages

Origin = Literal["received", "sent"]

#: WhatsApp-only messages are not SMS and stay out of SMS conversations.
SMS_CHANNELS = ("sms", "both")


def _received_where(
    account_id: int, from_ms: int | None, to_ms: int | None
) -> list[ColumnElement[bool]]:
    conditions = [inbox.c.account_id == account_id]
    if from_ms is not None:
        conditions.append(inbox.c.received_ms >= from_ms)
    if to_ms is not None:
        conditions.append(inbox.c.received_ms < to_ms)
    return conditions


def _sent_where(
    account_id: int, from_ms: int | None, to_ms: int | None
) -> list[ColumnElement[bool]]:
    conditions = [messages.c.account_id == account_id, messages.c.channel.in_(SMS_CHANNELS)]
    if from_ms is not None:
        conditions.append(messages.c.created_ms >= from_ms)
    if to_ms is not None:
        conditions.append(messages.c.created_ms < to_ms)
    return conditions


async def latest_numbers(
    conn: AsyncConnection,
    account_id: int,
    *,
    origin: Origin,
    number: str | None,
    from_ms: int | None,
    to_ms: int | None,
    ascending: bool,
    limit: int | None,
) -> list[str]:
    """The numbers that start a conversation, ordered by their latest SMS of the origin side.

    ``received``: numbers that sent us SMS in the range, by their latest received SMS;
    ``sent``: numbers we sent SMS to in the range, by the latest of those. Times are UTC ms,
    the range half-open ``[from_ms, to_ms)``.
    """
    if origin == "received":
        number_column: Any = inbox.c.number
        last = func.max(inbox.c.received_ms)
        conditions = _received_where(account_id, from_ms, to_ms)
    else:
        number_column = messages.c.recipient
        last = func.max(messages.c.created_ms)
        conditions = _sent_where(account_id, from_ms, to_ms)
    if number is not None:
        conditions.append(number_column == number)
    query = select(number_column, last.label("last_ms")).where(*conditions)
    query = query.group_by(number_column)
    if ascending:
        query = query.order_by(last.asc(), number_column.asc())
    else:
        query = query.order_by(last.desc(), number_column.desc())
    if limit is not None:
        query = query.limit(limit)
    result = await conn.execute(query)
    return [str(row[0]) for row in result.all()]


async def incoming(
    conn: AsyncConnection,
    account_id: int,
    numbers: Collection[str],
    *,
    from_ms: int | None,
    to_ms: int | None,
    per_number: int,
) -> Sequence[RowMapping]:
    """The latest ``per_number`` received SMS of each number (``at_ms``: receive time)."""
    rank = (
        func.row_number()
        .over(partition_by=inbox.c.number, order_by=(inbox.c.received_ms.desc(), inbox.c.id.desc()))
        .label("rank")
    )
    ranked = (
        select(
            inbox.c.id,
            inbox.c.guid,
            inbox.c.number,
            inbox.c.received_ms.label("at_ms"),
            inbox.c.text,
            inbox.c.device_sid,
            rank,
        )
        .where(*_received_where(account_id, from_ms, to_ms), inbox.c.number.in_(list(numbers)))
        .subquery()
    )
    result = await conn.execute(select(ranked).where(ranked.c.rank <= per_number))
    return result.mappings().all()


async def outgoing(
    conn: AsyncConnection,
    account_id: int,
    numbers: Collection[str],
    *,
    from_ms: int | None,
    to_ms: int | None,
    per_number: int,
) -> Sequence[RowMapping]:
    """The latest ``per_number`` SMS sent to each number (``at_ms``: when it was submitted)."""
    rank = (
        func.row_number()
        .over(
            partition_by=messages.c.recipient,
            order_by=(messages.c.created_ms.desc(), messages.c.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            messages.c.id,
            messages.c.guid,
            messages.c.recipient.label("number"),
            messages.c.created_ms.label("at_ms"),
            messages.c.text,
            messages.c.state,
            messages.c.device_sid,
            rank,
        )
        .where(*_sent_where(account_id, from_ms, to_ms), messages.c.recipient.in_(list(numbers)))
        .subquery()
    )
    result = await conn.execute(select(ranked).where(ranked.c.rank <= per_number))
    return result.mappings().all()


async def aliases(
    conn: AsyncConnection, account_id: int, numbers: Collection[str]
) -> dict[str, str]:
    """Each number's latest non-empty alias among its received SMS, whatever their date."""
    rank = (
        func.row_number()
        .over(partition_by=inbox.c.number, order_by=(inbox.c.received_ms.desc(), inbox.c.id.desc()))
        .label("rank")
    )
    ranked = (
        select(inbox.c.number, inbox.c.alias, rank)
        .where(
            inbox.c.account_id == account_id,
            inbox.c.number.in_(list(numbers)),
            inbox.c.alias.is_not(None),
            inbox.c.alias != "",
        )
        .subquery()
    )
    result = await conn.execute(select(ranked.c.number, ranked.c.alias).where(ranked.c.rank == 1))
    return {str(number): str(alias) for number, alias in result.all()}
