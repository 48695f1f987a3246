"""Short links (``/s/<code>``) and sealed (encrypted) messages (``/e/<code>``).

Writes and account-side reads take ``account_id`` like every repository. The two public reads,
``follow`` and ``sealed_by_code``, take only the code: they serve recipients who have no account,
and the random code itself is the capability (it is never derived from anything guessable).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.tables import sealed_messages, short_links

#: GUIDs per ``IN (...)`` list: far below the bind-parameter limits of SQLite and PostgreSQL.
_CHUNK = 500


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


async def codes_taken(conn: AsyncConnection, codes: Collection[str]) -> set[str]:
    """Which of ``codes`` already name a short link or a sealed message (either table)."""
    wanted = sorted(set(codes))
    taken: set[str] = set()
    for chunk in _chunks(wanted):
        for table in (short_links, sealed_messages):
            result = await conn.execute(select(table.c.code).where(table.c.code.in_(chunk)))
            taken.update(str(code) for code in result.scalars().all())
    return taken


async def insert_links(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        await conn.execute(short_links.insert(), [dict(row) for row in rows])


async def insert_sealed(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        await conn.execute(sealed_messages.insert(), [dict(row) for row in rows])


async def follow(conn: AsyncConnection, code: str) -> str | None:
    """Count one click on ``code`` and return its target URL; None for an unknown code.

    One UPDATE with ``clicks = clicks + 1`` so that simultaneous clicks are all counted.
    """
    result = await conn.execute(
        update(short_links)
        .where(short_links.c.code == code)
        .values(clicks=short_links.c.clicks + 1)
        .returning(short_links.c.url)
    )
    url = result.scalar_one_or_none()
    return None if url is None else str(url)


async def sealed_by_code(conn: AsyncConnection, code: str) -> RowMapping | None:
    result = await conn.execute(select(sealed_messages).where(sealed_messages.c.code == code))
    return result.mappings().first()


async def delete_for_messages(
    conn: AsyncConnection, account_id: int, message_guids: Sequence[str]
) -> int:
    """Delete the short links and sealed texts of messages removed from the log; the count."""
    deleted = 0
    for chunk in _chunks(message_guids):
        for table in (short_links, sealed_messages):
            result = await conn.execute(
                delete(table).where(
                    table.c.account_id == account_id, table.c.message_guid.in_(chunk)
                )
            )
            deleted += result.rowcount
    return deleted
