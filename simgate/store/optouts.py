"""The numbers each account must not text any more (``opt_outs``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.listparams import DIALECTS, list_value, member_of
from simgate.store.tables import opt_outs


async def add(
    conn: AsyncConnection, account_id: int, number: str, *, source: str, created_ms: int
) -> bool:
    """Put ``number`` on the account's list; False when it was already there (kept as it was,
    with its first source and date)."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    result = await conn.execute(
        dialect_insert(opt_outs)
        .values(account_id=account_id, number=number, source=source, created_ms=created_ms)
        .on_conflict_do_nothing(index_elements=["account_id", "number"])
        .returning(opt_outs.c.id)
    )
    return result.first() is not None


async def remove(conn: AsyncConnection, account_id: int, number: str) -> bool:
    """Take ``number`` off the account's list; False when it was not on it."""
    result = await conn.execute(
        delete(opt_outs)
        .where(opt_outs.c.account_id == account_id, opt_outs.c.number == number)
        .returning(opt_outs.c.id)
    )
    return result.first() is not None


async def list_for_account(conn: AsyncConnection, account_id: int) -> Sequence[RowMapping]:
    """The account's opted-out numbers, oldest first."""
    result = await conn.execute(
        select(opt_outs)
        .where(opt_outs.c.account_id == account_id)
        .order_by(opt_outs.c.created_ms, opt_outs.c.id)
    )
    return result.mappings().all()


# Built once per dialect: a statement object keeps its cache key, so every send skips
# rebuilding it.
_OPTED_OUT = {
    dialect: select(opt_outs.c.number).where(
        opt_outs.c.account_id == bindparam("account_id"),
        member_of(opt_outs.c.number, "numbers", dialect),
    )
    for dialect in DIALECTS
}


async def opted_out(conn: AsyncConnection, account_id: int, numbers: Collection[str]) -> set[str]:
    """Which of ``numbers`` are on the account's list, in one query whatever their count.

    The numbers travel as one bound value (an array on PostgreSQL, a JSON array on SQLite) rather
    than one each: ``max_recipients`` has no upper bound, and both engines refuse a statement with
    more than about 32 000 bound values.
    """
    if not numbers:
        return set()
    dialect = conn.dialect.name
    result = await conn.execute(
        _OPTED_OUT[dialect], {"account_id": account_id, "numbers": list_value(numbers, dialect)}
    )
    return set(result.scalars())
