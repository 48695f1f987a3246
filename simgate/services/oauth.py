"""OAuth2 client credentials (RFC 6749 §4.4): clients of an account and their access tokens.

A client is a (client_id, client_secret) pair a machine trades for a short-lived bearer token;
unlike an API key, the long-lived secret then travels only to the token endpoint. Secrets and
tokens are stored as SHA-256 digests. A token is checked against its client on every store
lookup, so revoking the client kills its tokens at once (see ``services.access`` for caching).
"""

from __future__ import annotations

from dataclasses import dataclass

from simgate import bus
from simgate.context import Context
from simgate.domain.errors import InvalidClient, NotFound
from simgate.services import credentials
from simgate.services.keys import account_by_email, checked_name
from simgate.store import oauth as oauth_store

#: Compared against when the client is unknown, so both failures take the same time.
_NO_DIGEST = "0" * 64


@dataclass(frozen=True)
class NewClient:
    """A client just created: ``client_secret`` is its only clear copy, for its owner."""

    client_id: str
    client_secret: str
    name: str


@dataclass(frozen=True)
class ClientInfo:
    """What may be shown about a client: everything but its secret."""

    client_id: str
    name: str
    secret_prefix: str
    created_ms: int
    revoked_ms: int | None
    last_used_ms: int | None


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


async def create_client(ctx: Context, email: str, name: str = "") -> NewClient:
    """A new OAuth2 client of the account."""
    name = checked_name(name)
    client_id = credentials.new_client_id()
    secret = credentials.new_client_secret()
    async with ctx.db.begin() as conn:
        account_id = await account_by_email(conn, email)
        await oauth_store.add_client(
            conn,
            account_id,
            client_id=client_id,
            secret_prefix=secret.prefix,
            secret_digest=secret.digest,
            name=name,
            now_ms=ctx.clock(),
        )
    return NewClient(client_id=client_id, client_secret=secret.value, name=name)


async def list_clients(ctx: Context, email: str) -> list[ClientInfo]:
    """The account's clients, oldest first, revoked ones included."""
    async with ctx.db.connect() as conn:
        rows = await oauth_store.list_clients(conn, await account_by_email(conn, email))
    return [
        ClientInfo(
            client_id=str(row["client_id"]),
            name=str(row["name"]),
            secret_prefix=str(row["secret_prefix"]),
            created_ms=int(row["created_ms"]),
            revoked_ms=row["revoked_ms"],
            last_used_ms=row["last_used_ms"],
        )
        for row in rows
    ]


async def revoke_client(ctx: Context, email: str, client_id: str) -> None:
    """Revoke the client and delete its tokens: they are refused from now on."""
    async with ctx.db.begin() as conn:
        account_id = await account_by_email(conn, email)
        if not await oauth_store.revoke_client(conn, account_id, client_id.strip(), ctx.clock()):
            raise NotFound(f"The account has no live OAuth client {client_id}.")
    ctx.bus.publish(bus.CREDENTIALS_REVOKED, str(account_id))


async def issue_token(ctx: Context, client_id: str, client_secret: str) -> IssuedToken:
    """A new access token for the client whose secret this is, or ``InvalidClient``."""
    candidate = credentials.digest(client_secret)
    now = ctx.clock()
    async with ctx.db.begin() as conn:
        client = await oauth_store.client_by_client_id(conn, client_id)
        stored = _NO_DIGEST if client is None else str(client["secret_digest"])
        matches = credentials.same_digest(stored, candidate)
        if client is None or not matches or client["revoked_ms"] is not None:
            raise InvalidClient("Client authentication failed.")
        token = credentials.new_access_token()
        lifetime = ctx.settings.oauth_token_seconds
        # Tokens past their expiry are dead anyway; deleting them here (by index) keeps the
        # table at the size of the live tokens without a separate sweeper.
        await oauth_store.purge_expired_tokens(conn, now)
        await oauth_store.add_token(
            conn,
            client_ref=int(client["id"]),
            account_id=int(client["account_id"]),
            digest=token.digest,
            now_ms=now,
            expires_ms=now + lifetime * 1000,
        )
    return IssuedToken(access_token=token.value, expires_in=lifetime)
