"""Received SMS (the inbox read by ``/getsms/``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.tables import inbox

_INSERT_ONCE: dict[str, Any] = {}


def _insert_once_statement(dialect: str) -> Any:
    """One statement per dialect, the row passed as parameters: built and compiled once, not
    for every received SMS (building it with the row's values was most of its cost)."""
    statement = _INSERT_ONCE.get(dialect)
    if statement is None:
        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = _INSERT_ONCE[dialect] = (
            dialect_insert(inbox)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(inbox)
        )
    return statement


async def insert_once(conn: AsyncConnection, row: Mapping[str, Any]) -> tuple[RowMapping, bool]:
    """Store a received SMS unless its ``dedup_key`` is already stored.

    Returns the stored row and whether it is new: a device that resends a frame after a
    reconnect gets the same row back, and no event fires twice.
    """
    result = await conn.execute(_insert_once_statement(conn.dialect.name), dict(row))
    created = result.mappings().first()
    if created is not None:
        return created, True
    existing = await conn.execute(select(inbox).where(inbox.c.dedup_key == row["dedup_key"]))
    return existing.mappings().one(), False


async def get(conn: AsyncConnection, account_id: int, guid: str) -> RowMapping | None:
    result = await conn.execute(
        select(inbox).where(inbox.c.account_id == account_id, inbox.c.guid == guid)
    )
    return result.mappings().first()


async def list_received(
    conn: AsyncConnection,
    account_id: int,
    *,
    device_sid: str | None = None,
    after_ms: int | None = None,
    only_unread: bool = False,
    limit: int = 1000,
) -> Sequence[RowMapping]:
    """Received SMS, newest first by the phone's receive time (ties: the later stored first)."""
    query = select(inbox).where(inbox.c.account_id == account_id)
    if device_sid is not None:
        query = query.where(inbox.c.device_sid == device_sid)
    if after_ms is not None:
        query = query.where(inbox.c.received_ms > after_ms)
    if only_unread:
        query = query.where(inbox.c.read.is_(False))
    result = await conn.execute(
        query.order_by(inbox.c.received_ms.desc(), inbox.c.id.desc()).limit(limit)
    )
    return result.mappings().all()


async def set_fields(
    conn: AsyncConnection, account_id: int, guid: str, values: Mapping[str, Any]
) -> RowMapping | None:
    """Update one of the account's received SMS; the new row, or None when it is not there."""
    result = await conn.execute(
        update(inbox)
        .where(inbox.c.account_id == account_id, inbox.c.guid == guid)
        .values(**values)
        .returning(inbox)
    )
    row: RowMapping | None = result.mappings().first()
    return row


async def delete_received(
    conn: AsyncConnection,
    account_id: int,
    *,
    guid: str | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
) -> int:
    """Delete received SMS by GUID and/or logging time in [from_ms, to_ms) (``/deletesms/``)."""
    statement = inbox.delete().where(inbox.c.account_id == account_id)
    if guid is not None:
        statement = statement.where(inbox.c.guid == guid)
    if from_ms is not None:
        statement = statement.where(inbox.c.created_ms >= from_ms)
    if to_ms is not None:
        statement = statement.where(inbox.c.created_ms < to_ms)
    result = await conn.execute(statement)
    return result.rowcount
