"""The dashboard overview's counts for one account, each bounded by an index.

Per-day counts are one statement of per-day range counts over the day bounds the caller
computed (midnights in the server's zone, daylight-saving changes included): exact days on
both engines, each count a range of a covering index, no rows shipped to Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CompoundSelect, func, literal, select, union_all
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.stats import QUEUE_STATES
from simgate.store.tables import inbox, messages

#: The states counted on the overview's chart, beside received SMS.
CHARTED_STATES = ("sent", "failed")


def per_day_query(account_id: int, bounds: Sequence[int]) -> CompoundSelect[Any]:
    """Sent and failed messages of each day ``[bounds[i], bounds[i + 1])``: one count per day
    and state, all in one statement. Each count is a range of
    ``ix_messages_account_state_created`` (no row is read, nothing is sorted), and the days
    are whatever the caller's bounds say (local midnights, 23- and 25-hour days included)."""
    return union_all(
        *(
            select(literal(index).label("day"), literal(state).label("state"), func.count()).where(
                messages.c.account_id == account_id,
                messages.c.state == state,
                messages.c.created_ms >= bounds[index],
                messages.c.created_ms < bounds[index + 1],
            )
            for index in range(len(bounds) - 1)
            for state in CHARTED_STATES
        )
    )


async def messages_per_day(
    conn: AsyncConnection, account_id: int, bounds: Sequence[int]
) -> dict[tuple[int, str], int]:
    """``{(day index, state): count}`` of the account's messages created in each day, for the
    charted states (see :func:`per_day_query`)."""
    result = await conn.execute(per_day_query(account_id, bounds))
    return {(int(index), str(state)): int(count) for index, state, count in result.all()}


async def received_per_day(
    conn: AsyncConnection, account_id: int, bounds: Sequence[int]
) -> dict[int, int]:
    """``{day index: count}`` of SMS the account's phones received (by the phone's time), one
    range of ``ix_inbox_account_received`` per day."""
    result = await conn.execute(
        union_all(
            *(
                select(literal(index).label("day"), func.count()).where(
                    inbox.c.account_id == account_id,
                    inbox.c.received_ms >= bounds[index],
                    inbox.c.received_ms < bounds[index + 1],
                )
                for index in range(len(bounds) - 1)
            )
        )
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
