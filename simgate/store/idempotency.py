"""Idempotency keys of ``/sendsms/``: the first answer to a key, kept to be given again."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.tables import idempotency_keys


async def claim(
    conn: AsyncConnection,
    account_id: int,
    key: str,
    *,
    request_digest: str,
    now_ms: int,
    stale_before_ms: int,
) -> int | None:
    """Take ``key`` for a request about to run in this transaction; its row id, or None when
    the account already holds the key (younger than ``stale_before_ms``).

    A stale row of the same key is taken over in place. The insert is a write: on PostgreSQL a
    second transaction claiming the same key waits here until the first one ends, and on SQLite
    the write lock serialises them; either way the loser then sees the winner's committed row.
    The answer columns get a placeholder that :func:`record_answer` replaces before commit.
    """
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    values = {
        "account_id": account_id,
        "key": key,
        "request_digest": request_digest,
        "status": 0,
        "response": "",
        "created_ms": now_ms,
    }
    insert = dialect_insert(idempotency_keys).values(**values)
    result = await conn.execute(
        insert.on_conflict_do_update(
            index_elements=["account_id", "key"],
            set_={
                name: insert.excluded[name] for name in values if name not in ("account_id", "key")
            },
            where=idempotency_keys.c.created_ms < stale_before_ms,
        ).returning(idempotency_keys.c.id)
    )
    claimed = result.scalar()
    return None if claimed is None else int(claimed)


async def get(conn: AsyncConnection, account_id: int, key: str) -> RowMapping | None:
    result = await conn.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key
        )
    )
    return result.mappings().first()


async def record_answer(
    conn: AsyncConnection, account_id: int, claim_id: int, *, status: int, response: str
) -> None:
    """Store the answer of the request that claimed the key, in its own transaction."""
    await conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.account_id == account_id, idempotency_keys.c.id == claim_id)
        .values(status=status, response=response)
    )


async def purge_expired(conn: AsyncConnection, before_ms: int) -> int:
    """Delete every account's keys created before ``before_ms``; how many went.

    Housekeeping across accounts on purpose: an expired key is never read again, whoever owns
    it, and an account that stopped sending would otherwise keep its keys for ever.
    """
    result = await conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_ms < before_ms)
    )
    return int(result.rowcount)
