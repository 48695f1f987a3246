"""API keys: several per account, each found by the SHA-256 digest of its value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.tables import accounts, api_keys, oauth_clients


async def add_key(
    conn: AsyncConnection,
    account_id: int,
    *,
    prefix: str,
    digest: str,
    label: str,
    now_ms: int,
    expires_ms: int | None = None,
) -> int:
    result = await conn.execute(
        api_keys.insert()
        .values(
            account_id=account_id,
            prefix=prefix,
            digest=digest,
            label=label,
            created_ms=now_ms,
            expires_ms=expires_ms,
        )
        .returning(api_keys.c.id)
    )
    return int(result.scalar_one())


async def key_by_digest(conn: AsyncConnection, digest: str) -> RowMapping | None:
    """The key with this digest, with its account's region (read with the key, for free)."""
    result = await conn.execute(
        select(
            api_keys.c.id,
            api_keys.c.account_id,
            api_keys.c.digest,
            api_keys.c.expires_ms,
            api_keys.c.revoked_ms,
            accounts.c.region,
        )
        .join(accounts, accounts.c.id == api_keys.c.account_id)
        .where(api_keys.c.digest == digest)
    )
    return result.mappings().first()


async def list_keys(conn: AsyncConnection, account_id: int) -> Sequence[RowMapping]:
    """The account's keys, oldest first: everything but the digest."""
    result = await conn.execute(
        select(
            api_keys.c.id,
            api_keys.c.prefix,
            api_keys.c.label,
            api_keys.c.created_ms,
            api_keys.c.expires_ms,
            api_keys.c.revoked_ms,
            api_keys.c.last_used_ms,
        )
        .where(api_keys.c.account_id == account_id)
        .order_by(api_keys.c.id)
    )
    return result.mappings().all()


async def revoke_key(conn: AsyncConnection, account_id: int, key_id: int, now_ms: int) -> bool:
    """Revoke one live key of the account; False when it has none by that id (or it is dead)."""
    result = await conn.execute(
        update(api_keys)
        .where(
            api_keys.c.account_id == account_id,
            api_keys.c.id == key_id,
            api_keys.c.revoked_ms.is_(None),
        )
        .values(revoked_ms=now_ms)
    )
    return bool(result.rowcount)


async def key_exists(conn: AsyncConnection, account_id: int, key_id: int) -> bool:
    result = await conn.execute(
        select(api_keys.c.id).where(api_keys.c.account_id == account_id, api_keys.c.id == key_id)
    )
    return result.first() is not None


async def revoke_keys(conn: AsyncConnection, account_id: int, label: str, now_ms: int) -> int:
    """Revoke the account's live keys that carry ``label``; returns how many."""
    result = await conn.execute(
        update(api_keys)
        .where(
            api_keys.c.account_id == account_id,
            api_keys.c.label == label,
            api_keys.c.revoked_ms.is_(None),
        )
        .values(revoked_ms=now_ms)
    )
    return result.rowcount


async def touch_keys(conn: AsyncConnection, used: Mapping[int, int]) -> None:
    """Record when each key (id → Unix ms) was last used: one statement for the whole batch."""
    if not used:
        return
    statement = (
        update(api_keys)
        .where(api_keys.c.id == bindparam("key_id"))
        .values(last_used_ms=bindparam("used_ms"))
    )
    await conn.execute(
        statement, [{"key_id": key_id, "used_ms": ms} for key_id, ms in sorted(used.items())]
    )


async def credentials_mark(conn: AsyncConnection) -> tuple[object, ...]:
    """A value that changes whenever a key or an OAuth client is added, revoked or deleted, or
    an account's settings change, by any process: what a process compares to drop its cache of
    checked credentials (which carry the account's region). The last item is the latest
    ``accounts.changed_ms``."""
    result = await conn.execute(
        select(
            select(func.count()).select_from(api_keys).scalar_subquery(),
            select(func.max(api_keys.c.revoked_ms)).scalar_subquery(),
            select(func.count()).select_from(oauth_clients).scalar_subquery(),
            select(func.max(oauth_clients.c.revoked_ms)).scalar_subquery(),
            select(func.max(accounts.c.changed_ms)).scalar_subquery(),
        )
    )
    return tuple(result.one())
