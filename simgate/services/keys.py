"""API keys of an account: create (shown once), list (never the key), revoke.

An account may hold several keys, so a leaked or retired key is replaced without a pause:
create the new one, move the clients over, revoke the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from simgate import bus
from simgate.context import Context
from simgate.domain.errors import InvalidParameter, NotFound
from simgate.services import credentials
from simgate.store import accounts as account_store
from simgate.store import keys as key_store

DAY_MS = 86_400_000
#: Longest expiry one can ask for: ten years is "never" for any practical purpose.
MAX_EXPIRY_DAYS = 3650
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``api_key`` is its only clear copy, for its owner."""

    id: int
    api_key: str
    prefix: str
    name: str
    expires_ms: int | None


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: everything but the key."""

    id: int
    name: str
    prefix: str
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None
    last_used_ms: int | None

    def state(self, now_ms: int) -> str:
        if self.revoked_ms is not None:
            return "revoked"
        if self.expires_ms is not None and self.expires_ms <= now_ms:
            return "expired"
        return "active"


async def account_by_email(conn: AsyncConnection, email: str) -> int:
    """The id of the account with ``email``, or a 400 naming ``account``."""
    account = await account_store.by_email(conn, email.strip().lower())
    if account is None:
        raise InvalidParameter(f"No account with e-mail {email}.", parameter="account")
    return int(account["id"])


def checked_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        raise InvalidParameter(f"A name has at most {MAX_NAME_CHARS} characters.", parameter="name")
    return name


async def create_key(
    ctx: Context, email: str, name: str = "", expires_days: int | None = None
) -> NewKey:
    """A new key for the account, valid at once (and for ``expires_days`` days if given)."""
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise InvalidParameter(f"An expiry is 1 to {MAX_EXPIRY_DAYS} days.", parameter="expires")
    name = checked_name(name)
    key = credentials.new_api_key()
    now = ctx.clock()
    expires_ms = None if expires_days is None else now + expires_days * DAY_MS
    async with ctx.db.begin() as conn:
        account_id = await account_by_email(conn, email)
        key_id = await key_store.add_key(
            conn,
            account_id,
            prefix=key.prefix,
            digest=key.digest,
            label=name,
            now_ms=now,
            expires_ms=expires_ms,
        )
    return NewKey(id=key_id, api_key=key.value, prefix=key.prefix, name=name, expires_ms=expires_ms)


async def list_keys(ctx: Context, email: str) -> list[KeyInfo]:
    """The account's keys, oldest first, revoked and expired ones included (marked so)."""
    async with ctx.db.connect() as conn:
        rows = await key_store.list_keys(conn, await account_by_email(conn, email))
    return [
        KeyInfo(
            id=int(row["id"]),
            name=str(row["label"]),
            prefix=str(row["prefix"]),
            created_ms=int(row["created_ms"]),
            expires_ms=row["expires_ms"],
            revoked_ms=row["revoked_ms"],
            last_used_ms=row["last_used_ms"],
        )
        for row in rows
    ]


async def revoke_key(ctx: Context, email: str, key_id: int) -> bool:
    """Revoke the account's key ``key_id``: refused from now on, in this process at once.

    False when it was already revoked; ``NotFound`` when the account has no such key.
    """
    async with ctx.db.begin() as conn:
        account_id = await account_by_email(conn, email)
        revoked = await key_store.revoke_key(conn, account_id, key_id, ctx.clock())
        if not revoked and not await key_store.key_exists(conn, account_id, key_id):
            raise NotFound(f"The account has no API key {key_id}.")
    if revoked:
        ctx.bus.publish(bus.CREDENTIALS_REVOKED, str(account_id))
    return revoked
