"""OAuth2 clients and the access tokens issued to them (digests only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.tables import accounts, oauth_clients, oauth_tokens


async def add_client(
    conn: AsyncConnection,
    account_id: int,
    *,
    client_id: str,
    secret_prefix: str,
    secret_digest: str,
    name: str,
    now_ms: int,
) -> int:
    result = await conn.execute(
        oauth_clients.insert()
        .values(
            account_id=account_id,
            client_id=client_id,
            secret_prefix=secret_prefix,
            secret_digest=secret_digest,
            name=name,
            created_ms=now_ms,
        )
        .returning(oauth_clients.c.id)
    )
    return int(result.scalar_one())


async def client_by_client_id(conn: AsyncConnection, client_id: str) -> RowMapping | None:
    result = await conn.execute(
        select(
            oauth_clients.c.id,
            oauth_clients.c.account_id,
            oauth_clients.c.secret_digest,
            oauth_clients.c.revoked_ms,
        ).where(oauth_clients.c.client_id == client_id)
    )
    return result.mappings().first()


async def list_clients(conn: AsyncConnection, account_id: int) -> Sequence[RowMapping]:
    """The account's clients, oldest first: everything but the secret's digest."""
    result = await conn.execute(
        select(
            oauth_clients.c.client_id,
            oauth_clients.c.secret_prefix,
            oauth_clients.c.name,
            oauth_clients.c.created_ms,
            oauth_clients.c.revoked_ms,
            oauth_clients.c.last_used_ms,
        )
        .where(oauth_clients.c.account_id == account_id)
        .order_by(oauth_clients.c.id)
    )
    return result.mappings().all()


async def revoke_client(
    conn: AsyncConnection, account_id: int, client_id: str, now_ms: int
) -> bool:
    """Revoke the account's live client and delete its tokens; False if it has no such one."""
    found = await conn.execute(
        select(oauth_clients.c.id).where(
            oauth_clients.c.account_id == account_id,
            oauth_clients.c.client_id == client_id,
            oauth_clients.c.revoked_ms.is_(None),
        )
    )
    ref = found.scalar_one_or_none()
    if ref is None:
        return False
    await conn.execute(
        update(oauth_clients).where(oauth_clients.c.id == ref).values(revoked_ms=now_ms)
    )
    await conn.execute(delete(oauth_tokens).where(oauth_tokens.c.client_ref == ref))
    return True


async def add_token(
    conn: AsyncConnection,
    *,
    client_ref: int,
    account_id: int,
    digest: str,
    now_ms: int,
    expires_ms: int,
) -> None:
    await conn.execute(
        oauth_tokens.insert().values(
            client_ref=client_ref,
            account_id=account_id,
            digest=digest,
            created_ms=now_ms,
            expires_ms=expires_ms,
        )
    )
    await conn.execute(
        update(oauth_clients).where(oauth_clients.c.id == client_ref).values(last_used_ms=now_ms)
    )


async def token_by_digest(conn: AsyncConnection, digest: str) -> RowMapping | None:
    """The token, whether its client is revoked (a revoked client's tokens are dead) and its
    account's region."""
    result = await conn.execute(
        select(
            oauth_tokens.c.client_ref,
            oauth_tokens.c.account_id,
            oauth_tokens.c.digest,
            oauth_tokens.c.expires_ms,
            oauth_clients.c.revoked_ms,
            accounts.c.region,
        )
        .join(oauth_clients, oauth_clients.c.id == oauth_tokens.c.client_ref)
        .join(accounts, accounts.c.id == oauth_tokens.c.account_id)
        .where(oauth_tokens.c.digest == digest)
    )
    return result.mappings().first()


async def purge_expired_tokens(conn: AsyncConnection, now_ms: int) -> int:
    """Delete the tokens past their expiry (by the ``expires_ms`` index); returns how many."""
    result = await conn.execute(delete(oauth_tokens).where(oauth_tokens.c.expires_ms <= now_ms))
    return result.rowcount


async def touch_clients(conn: AsyncConnection, used: Mapping[int, int]) -> None:
    """Record when each client (row id → Unix ms) last had a token used, in one statement."""
    if not used:
        return
    statement = (
        update(oauth_clients)
        .where(oauth_clients.c.id == bindparam("ref"))
        .values(last_used_ms=bindparam("used_ms"))
    )
    await conn.execute(statement, [{"ref": ref, "used_ms": ms} for ref, ms in sorted(used.items())])
