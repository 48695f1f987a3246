"""The dashboard overview's counts for one account, each bounded by an index.

Per-day counts are grouped in SQL by a ``CASE`` over the day boundaries the caller computed
(midnights in the server's zone, daylight-saving changes included): exact days on both
engines, one query, no rows shipped to Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from simgate.store.stats import QUEUE_STATES
from simgate.store.tables import inbox, messages

#: The states counted on the overview's chart, beside received SMS.
CHARTED_STATES = ("sent", "failed")


def _day_of(column: ColumnElement[int], starts: Sequence[int]) -> ColumnElement[int]:
    """The index of the day (in ``starts``, ascending) that ``column`` falls in."""
    whens = [(column >= start, index) for index, start in reversed(list(enumerate(starts)))]
    return case(*whens, else_=-1)


async def messages_per_day(
    conn: AsyncConnection, account_id: int, starts: Sequence[int], end_ms: int
) -> dict[tuple[int, str], int]:
    """``{(day index, state): count}`` of the account's messages created in each day, for the
    charted states."""
    day = _day_of(messages.c.created_ms, starts).label("day")
    result = await conn.execute(
        select(day, messages.c.state, func.count())
        .where(
            messages.c.account_id == account_id,
            messages.c.created_ms >= starts[0],
            messages.c.created_ms < end_ms,
            messages.c.state.in_(CHARTED_STATES),
        )
        .group_by(day, messages.c.state)
    )
    return {(int(index), str(state)): int(count) for index, state, count in result.all()}


async def received_per_day(
    conn: AsyncConnection, account_id: int, starts: Sequence[int], end_ms: int
) -> dict[int, int]:
    """``{day index: count}`` of SMS the account's phones received (by the phone's time)."""
    day = _day_of(inbox.c.received_ms, starts).label("day")
    result = await conn.execute(
        select(day, func.count())
        .where(
            inbox.c.account_id == account_id,
            inbox.c.received_ms >= starts[0],
            inbox.c.received_ms < end_ms,
        )
        .group_by(day)
    )
    return {int(index): int(count) for index, count in result.all()}


async def waiting(conn: AsyncConnection, account_id: int) -> dict[str, int]:
    """The account's messages in each waiting state (every state present, 0 when none)."""
    result = await conn.execute(
        select(messages.c.state, func.count())
        .where(messages.c.account_id == account_id, messages.c.state.in_(QUEUE_STATES))
        .group_by(messages.c.state)
    )
    found = {str(state): int(count) for state, count in result.all()}
    return {state: found.get(state, 0) for state in QUEUE_STATES}


async def last_failures(conn: AsyncConnection, account_id: int, limit: int) -> list[RowMapping]:
    """The account's most recent failed messages, newest first."""
    result = await conn.execute(
        select(messages)
        .where(messages.c.account_id == account_id, messages.c.state == "failed")
        .order_by(messages.c.id.desc())
        .limit(limit)
    )
    return list(result.mappings().all())
