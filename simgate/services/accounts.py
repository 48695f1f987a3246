"""Accounts, and the keys made with them (more keys: ``services.keys``)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from simgate import bus
from simgate.context import Context
from simgate.domain.errors import InvalidParameter, NotFound, UnknownRegion
from simgate.domain.routing import Policy
from simgate.services import credentials
from simgate.store import accounts as account_store
from simgate.store import dashboard_sessions as session_store
from simgate.store import keys as key_store

MAX_EMAIL_LENGTH = 320  # RFC 5321's limit for a forward path
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class NewAccount:
    account_id: int
    api_key: str


def check_password_rules(password: str, parameter: str = "password") -> None:
    """``InvalidParameter`` for a password too short to keep an account safe."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameter("The password needs at least 8 characters.", parameter=parameter)


async def create_account(ctx: Context, email: str, password: str) -> NewAccount:
    """Create an account with its first API key; the key is returned in clear only here."""
    return await _create(ctx, email, password, first=False)


async def create_first_account(ctx: Context, email: str, password: str) -> NewAccount:
    """The dashboard's first-run setup: create the account only if the server has none yet,
    else ``NotFound`` (the setup page no longer exists once someone owns the server)."""
    return await _create(ctx, email, password, first=True)


async def setup_open(ctx: Context) -> bool:
    """Whether the server has no account yet (first-run setup is allowed)."""
    async with ctx.db.connect() as conn:
        return not await account_store.any_exists(conn)


async def _create(ctx: Context, email: str, password: str, *, first: bool) -> NewAccount:
    email = email.strip().lower()
    if "@" not in email or len(email) > MAX_EMAIL_LENGTH:
        raise InvalidParameter(f"Invalid e-mail address: {email!r}", parameter="email")
    check_password_rules(password)
    password_hash = await credentials.hash_password(password, ctx.settings.password_hash_cost)
    key = credentials.new_api_key()
    now = ctx.clock()
    async with ctx.db.begin() as conn:
        if first:
            await account_store.lock_for_first(conn)
            if await account_store.any_exists(conn):
                raise NotFound("This server already has an account: sign in instead.")
        account_id = await account_store.create(conn, email, password_hash, now)
        await key_store.add_key(
            conn, account_id, prefix=key.prefix, digest=key.digest, label="default", now_ms=now
        )
    return NewAccount(account_id=account_id, api_key=key.value)


async def issue_key(ctx: Context, email: str, label: str, *, replace: bool = False) -> str:
    """A new API key for an existing account; with ``replace``, older keys of that label die."""
    key = credentials.new_api_key()
    now = ctx.clock()
    async with ctx.db.begin() as conn:
        account = await account_store.by_email(conn, email.strip().lower())
        if account is None:
            raise InvalidParameter(f"No account with e-mail {email}.", parameter="email")
        revoked = (
            await key_store.revoke_keys(conn, int(account["id"]), label, now) if replace else 0
        )
        await key_store.add_key(
            conn, int(account["id"]), prefix=key.prefix, digest=key.digest, label=label, now_ms=now
        )
    if revoked:
        ctx.bus.publish(bus.CREDENTIALS_REVOKED, str(account["id"]))
    return key.value


async def set_password(ctx: Context, email: str, password: str) -> None:
    """Give an account a new dashboard password (an operator's reset, ``simgate demo``); every
    dashboard session of the account ends."""
    check_password_rules(password)
    password_hash = await credentials.hash_password(password, ctx.settings.password_hash_cost)
    async with ctx.db.begin() as conn:
        account = await account_store.by_email(conn, email.strip().lower())
        if account is None:
            raise InvalidParameter(f"No account with e-mail {email}.", parameter="email")
        await account_store.set_password_hash(conn, int(account["id"]), password_hash)
        await session_store.remove_others(conn, int(account["id"]), keep_digest="")


async def account_id_by_email(ctx: Context, email: str) -> int | None:
    async with ctx.db.connect() as conn:
        account = await account_store.by_email(conn, email.strip().lower())
    return None if account is None else int(account["id"])


async def set_routing_policy(ctx: Context, email: str, policy: str) -> str:
    """Choose how the account's messages are spread over its devices; the policy's name."""
    try:
        chosen = Policy(policy.strip().lower())
    except ValueError:
        names = ", ".join(item.value for item in Policy)
        raise InvalidParameter(
            f"Unknown routing policy {policy!r}: use one of {names}.", parameter="policy"
        ) from None
    async with ctx.db.begin() as conn:
        account = await account_store.by_email(conn, email.strip().lower())
        if account is None:
            raise InvalidParameter(f"No account with e-mail {email}.", parameter="account")
        await account_store.set_routing_policy(conn, int(account["id"]), chosen.value, ctx.clock())
    ctx.bus.publish(bus.ACCOUNT_CHANGED, str(account["id"]))
    return chosen.value


def checked_region(region: str) -> str:
    """``region`` as an upper-case ISO 3166 alpha-2 code phonenumbers knows, or
    ``UnknownRegion``: a typo must not silently make every national number unreadable."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise UnknownRegion(
            f"Unknown region {region.strip()!r}: use an ISO 3166 alpha-2 code phone numbers "
            "are known for, e.g. BE, FR, US, GB."
        )
    return code


async def set_region(ctx: Context, email: str, region: str | None) -> str | None:
    """Set where the account's numbers without + are read (None: back to the server's default).

    Returns the region now stored. Every process sees it at once: this one through the bus,
    the others through ``accounts.changed_ms``, which their credential watcher polls.
    """
    code = None if region is None else checked_region(region)
    async with ctx.db.begin() as conn:
        account = await account_store.by_email(conn, email.strip().lower())
        if account is None:
            raise InvalidParameter(f"No account with e-mail {email}.", parameter="account")
        await account_store.set_region(conn, int(account["id"]), code, ctx.clock())
    ctx.bus.publish(bus.ACCOUNT_CHANGED, str(account["id"]))
    return code


async def region_of_email(ctx: Context, email: str) -> str | None:
    """The account's own region (None: the server's default applies)."""
    async with ctx.db.connect() as conn:
        account = await account_store.by_email(conn, email.strip().lower())
    if account is None:
        raise InvalidParameter(f"No account with e-mail {email}.", parameter="account")
    return None if account["region"] is None else str(account["region"])


@dataclass(frozen=True)
class AccountSummary:
    """One account as the operator's listing shows it."""

    account_id: int
    email: str
    created_ms: int
    routing_policy: str
    devices: int
    #: The account's own region; None: it reads numbers in the server's default region.
    region: str | None = None


async def list_accounts(ctx: Context) -> list[AccountSummary]:
    """Every account of this server, oldest first (``simgate account list``)."""
    async with ctx.db.connect() as conn:
        rows = await account_store.list_all(conn)
    return [
        AccountSummary(
            account_id=int(row["id"]),
            email=str(row["email"]),
            created_ms=int(row["created_ms"]),
            routing_policy=str(row["routing_policy"]),
            devices=int(row["devices"]),
            region=row["region"],
        )
        for row in rows
    ]
