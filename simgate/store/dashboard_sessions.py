"""Dashboard sessions, found by the SHA-256 digest of the browser's token."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.tables import accounts, dashboard_sessions


async def add(conn: AsyncConnection, digest: str, account_id: int, now_ms: int) -> None:
    await conn.execute(
        dashboard_sessions.insert().values(
            digest=digest, account_id=account_id, created_ms=now_ms, last_seen_ms=now_ms
        )
    )


async def get(conn: AsyncConnection, digest: str) -> RowMapping | None:
    """The session with its account's e-mail, or None."""
    result = await conn.execute(
        select(
            dashboard_sessions.c.digest,
            dashboard_sessions.c.account_id,
            dashboard_sessions.c.created_ms,
            dashboard_sessions.c.last_seen_ms,
            accounts.c.email,
        )
        .join(accounts, accounts.c.id == dashboard_sessions.c.account_id)
        .where(dashboard_sessions.c.digest == digest)
    )
    return result.mappings().first()


async def touch(conn: AsyncConnection, digest: str, now_ms: int) -> None:
    await conn.execute(
        update(dashboard_sessions)
        .where(dashboard_sessions.c.digest == digest)
        .values(last_seen_ms=now_ms)
    )


async def remove(conn: AsyncConnection, digest: str) -> None:
    await conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.digest == digest))


async def remove_others(conn: AsyncConnection, account_id: int, keep_digest: str) -> int:
    """End every session of the account but one; how many ended."""
    result = await conn.execute(
        delete(dashboard_sessions).where(
            dashboard_sessions.c.account_id == account_id,
            dashboard_sessions.c.digest != keep_digest,
        )
    )
    return int(result.rowcount)


async def remove_idle(conn: AsyncConnection, seen_before_ms: int, created_before_ms: int) -> int:
    """Forget sessions that can no longer be used (idle too long, or too old)."""
    result = await conn.execute(
        delete(dashboard_sessions).where(
            (dashboard_sessions.c.last_seen_ms < seen_before_ms)
            | (dashboard_sessions.c.created_ms < created_before_ms)
        )
    )
    return int(result.rowcount)
