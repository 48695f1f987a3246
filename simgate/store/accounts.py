"""Accounts and their API keys."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.errors import StateConflict
from simgate.store.tables import accounts, api_keys


async def create(conn: AsyncConnection, email: str, password_hash: str, now_ms: int) -> int:
    try:
        result = await conn.execute(
            accounts.insert()
            .values(email=email, password_hash=password_hash, created_ms=now_ms)
            .returning(accounts.c.id)
        )
    except IntegrityError as exc:
        raise StateConflict(f"An account with e-mail {email} already exists.") from exc
    return int(result.scalar_one())


async def by_email(conn: AsyncConnection, email: str) -> RowMapping | None:
    result = await conn.execute(select(accounts).where(accounts.c.email == email))
    return result.mappings().first()


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
    result = await conn.execute(
        select(
            api_keys.c.account_id,
            api_keys.c.digest,
            api_keys.c.expires_ms,
            api_keys.c.revoked_ms,
        ).where(api_keys.c.digest == digest)
    )
    return result.mappings().first()


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


async def routing_policy(conn: AsyncConnection, account_id: int) -> str | None:
    """The account's routing policy name; None for an unknown account."""
    result = await conn.execute(
        select(accounts.c.routing_policy).where(accounts.c.id == account_id)
    )
    value = result.scalar_one_or_none()
    return None if value is None else str(value)


async def set_routing_policy(conn: AsyncConnection, account_id: int, policy: str) -> bool:
    result = await conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(routing_policy=policy)
    )
    return bool(result.rowcount)
