"""Accounts (their API keys are in ``keys``)."""

from __future__ import annotations

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.errors import StateConflict
from simgate.store.tables import accounts, devices


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


async def routing_policy(conn: AsyncConnection, account_id: int) -> str | None:
    """The account's routing policy name; None for an unknown account."""
    result = await conn.execute(
        select(accounts.c.routing_policy).where(accounts.c.id == account_id)
    )
    value = result.scalar_one_or_none()
    return None if value is None else str(value)


async def set_routing_policy(
    conn: AsyncConnection, account_id: int, policy: str, now_ms: int
) -> bool:
    result = await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(routing_policy=policy, changed_ms=now_ms)
    )
    return bool(result.rowcount)


async def region(conn: AsyncConnection, account_id: int) -> str | None:
    """The account's own region; None when it has none (or there is no such account)."""
    result = await conn.execute(select(accounts.c.region).where(accounts.c.id == account_id))
    value = result.scalar_one_or_none()
    return None if value is None else str(value)


async def set_region(
    conn: AsyncConnection, account_id: int, region: str | None, now_ms: int
) -> bool:
    """Set (or with None, clear) the account's region, noting the change for other processes."""
    result = await conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(region=region, changed_ms=now_ms)
    )
    return bool(result.rowcount)


async def changed_since(conn: AsyncConnection, since_ms: int | None) -> list[int]:
    """The accounts whose settings changed at or after ``since_ms`` (None: ever)."""
    query = select(accounts.c.id).where(accounts.c.changed_ms.is_not(None))
    if since_ms is not None:
        query = query.where(accounts.c.changed_ms >= since_ms)
    result = await conn.execute(query.order_by(accounts.c.id))
    return [int(value) for value in result.scalars().all()]


async def list_all(conn: AsyncConnection) -> list[RowMapping]:
    """Every account (an operator's listing: id, e-mail, creation, policy, region), oldest first,
    with its number of devices."""
    paired = (
        select(func.count())
        .select_from(devices)
        .where(devices.c.account_id == accounts.c.id)
        .scalar_subquery()
    )
    result = await conn.execute(
        select(
            accounts.c.id,
            accounts.c.email,
            accounts.c.created_ms,
            accounts.c.routing_policy,
            accounts.c.region,
            paired.label("devices"),
        ).order_by(accounts.c.id)
    )
    return list(result.mappings().all())


async def by_id(conn: AsyncConnection, account_id: int) -> RowMapping | None:
    result = await conn.execute(select(accounts).where(accounts.c.id == account_id))
    return result.mappings().first()


async def any_exists(conn: AsyncConnection) -> bool:
    result = await conn.execute(select(accounts.c.id).limit(1))
    return result.first() is not None


async def lock_for_first(conn: AsyncConnection) -> None:
    """Serialize first-run setups: on PostgreSQL two setups could otherwise both see no account
    and both create one. On SQLite, ``Database.begin`` already runs one writing transaction at a
    time."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE"))


async def set_password_hash(conn: AsyncConnection, account_id: int, password_hash: str) -> None:
    await conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(password_hash=password_hash)
    )
