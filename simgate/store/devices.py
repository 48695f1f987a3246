"""Devices (phones and modems) of an account."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store._sql import like_pattern
from simgate.store.tables import devices


async def create(
    conn: AsyncConnection,
    account_id: int,
    *,
    sid: str,
    label: str,
    token_prefix: str,
    token_digest: str,
    now_ms: int,
    phone_number: str = "",
) -> int:
    result = await conn.execute(
        devices.insert()
        .values(
            account_id=account_id,
            sid=sid,
            label=label,
            phone_number=phone_number,
            token_prefix=token_prefix,
            token_digest=token_digest,
            created_ms=now_ms,
            sims="[]",
            capabilities="[]",
        )
        .returning(devices.c.id)
    )
    return int(result.scalar_one())


async def by_token_digest(conn: AsyncConnection, digest: str) -> RowMapping | None:
    result = await conn.execute(select(devices).where(devices.c.token_digest == digest))
    return result.mappings().first()


async def get(conn: AsyncConnection, account_id: int, sid: str) -> RowMapping | None:
    result = await conn.execute(
        select(devices).where(devices.c.account_id == account_id, devices.c.sid == sid)
    )
    return result.mappings().first()


async def by_label(conn: AsyncConnection, account_id: int, label: str) -> RowMapping | None:
    result = await conn.execute(
        select(devices)
        .where(devices.c.account_id == account_id, devices.c.label == label)
        .order_by(devices.c.id)
    )
    return result.mappings().first()


async def list_for_account(
    conn: AsyncConnection, account_id: int, *, sid: str | None = None, search: str | None = None
) -> Sequence[RowMapping]:
    query = select(devices).where(devices.c.account_id == account_id)
    if sid is not None:
        query = query.where(devices.c.sid == sid)
    if search:
        like = like_pattern(search)
        query = query.where(
            or_(
                devices.c.sid.ilike(like, escape="\\"),
                devices.c.label.ilike(like, escape="\\"),
                devices.c.phone_number.ilike(like, escape="\\"),
                devices.c.version.ilike(like, escape="\\"),
                devices.c.driver.ilike(like, escape="\\"),
            )
        )
    result = await conn.execute(query.order_by(devices.c.id))
    return result.mappings().all()


async def record_hello(
    conn: AsyncConnection,
    device_id: int,
    *,
    version: str | None,
    driver: str | None,
    sims: list[int],
    capabilities: list[str],
    battery: int | None,
    signal: int | None,
    now_ms: int,
) -> None:
    await conn.execute(
        update(devices)
        .where(devices.c.id == device_id)
        .values(
            version=version,
            driver=driver,
            sims=json.dumps(sims),
            capabilities=json.dumps(capabilities),
            battery=battery,
            signal=signal,
            last_seen_ms=now_ms,
        )
    )


async def touch(
    conn: AsyncConnection,
    device_id: int,
    now_ms: int,
    *,
    battery: int | None = None,
    signal: int | None = None,
) -> None:
    values: dict[str, int] = {"last_seen_ms": now_ms}
    if battery is not None:
        values["battery"] = battery
    if signal is not None:
        values["signal"] = signal
    await conn.execute(update(devices).where(devices.c.id == device_id).values(**values))


async def update_label(
    conn: AsyncConnection,
    account_id: int,
    sid: str,
    *,
    label: str,
    phone_number: str | None,
) -> bool:
    values: dict[str, str] = {"label": label}
    if phone_number is not None:
        values["phone_number"] = phone_number
    result = await conn.execute(
        update(devices)
        .where(devices.c.account_id == account_id, devices.c.sid == sid)
        .values(**values)
    )
    return result.rowcount > 0


async def replace_token(
    conn: AsyncConnection, account_id: int, device_id: int, *, prefix: str, digest: str
) -> None:
    await conn.execute(
        update(devices)
        .where(devices.c.account_id == account_id, devices.c.id == device_id)
        .values(token_prefix=prefix, token_digest=digest)
    )


async def delete_one(conn: AsyncConnection, account_id: int, sid: str) -> int | None:
    """Delete the device; returns its id, or None when the account has no such device."""
    result = await conn.execute(
        delete(devices)
        .where(devices.c.account_id == account_id, devices.c.sid == sid)
        .returning(devices.c.id)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)
