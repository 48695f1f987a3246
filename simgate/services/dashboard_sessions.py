"""Signing in to the dashboard: sessions, sign-out, password change.

A session is a random token the browser keeps (in a signed cookie, see ``simgate.web``); the
store keeps only its SHA-256 digest, with its account and its last activity. A session ends
when it was idle longer than ``dashboard_idle_seconds``, when it is older than
``dashboard_session_max_seconds``, when its owner signs out, and, for every session but the
one used, when the password changes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from simgate.context import Context
from simgate.domain.errors import InvalidParameter
from simgate.services import credentials
from simgate.services.accounts import check_password_rules
from simgate.store import accounts as account_store
from simgate.store import dashboard_sessions as session_store

#: A session's last activity is written at most this often (milliseconds): browsing writes
#: once a minute, not once a page.
TOUCH_EVERY_MS = 60_000

# Checked when the e-mail is unknown, so the answer takes as long as for a wrong password and
# its timing does not tell which e-mails have accounts.
_DUMMY_HASH: dict[str, str] = {}


@dataclass(frozen=True)
class WebSession:
    """A valid dashboard session: who is signed in. ``key`` identifies the session (the token's
    digest) for deriving its anti-forgery token; it is not the secret."""

    account_id: int
    email: str
    key: str
    created_ms: int
    last_seen_ms: int


async def _dummy_hash(ctx: Context) -> str:
    cost = ctx.settings.password_hash_cost
    if cost not in _DUMMY_HASH:
        _DUMMY_HASH[cost] = await credentials.hash_password(secrets.token_hex(16), cost)
    return _DUMMY_HASH[cost]


async def sign_in(ctx: Context, email: str, password: str) -> str | None:
    """A new session token for the right e-mail and password; None otherwise (which of the two
    was wrong is not said)."""
    async with ctx.db.connect() as conn:
        account = await account_store.by_email(conn, email.strip().lower())
    if account is None:
        await credentials.check_password(await _dummy_hash(ctx), password)
        return None
    if not await credentials.check_password(str(account["password_hash"]), password):
        return None
    token = secrets.token_urlsafe(32)
    now = ctx.clock()
    settings = ctx.settings
    async with ctx.db.begin() as conn:
        await session_store.add(conn, credentials.digest(token), int(account["id"]), now)
        # Sessions nobody signed out of would otherwise pile up: each sign-in sweeps them.
        await session_store.remove_idle(
            conn,
            seen_before_ms=now - settings.dashboard_idle_seconds * 1000,
            created_before_ms=now - settings.dashboard_session_max_seconds * 1000,
        )
    return token


async def resume(ctx: Context, token: str, *, active: bool = True) -> WebSession | None:
    """The session of ``token`` if it is still valid; ``active`` (a page or an action, not a
    background poll) counts as activity and keeps it alive."""
    digest = credentials.digest(token)
    async with ctx.db.connect() as conn:
        row = await session_store.get(conn, digest)
    if row is None or not credentials.same_digest(str(row["digest"]), digest):
        return None
    now = ctx.clock()
    last_seen = int(row["last_seen_ms"])
    settings = ctx.settings
    if (
        now - last_seen > settings.dashboard_idle_seconds * 1000
        or now - int(row["created_ms"]) > settings.dashboard_session_max_seconds * 1000
    ):
        async with ctx.db.begin() as conn:
            await session_store.remove(conn, digest)
        return None
    if active and now - last_seen >= TOUCH_EVERY_MS:
        async with ctx.db.begin() as conn:
            await session_store.touch(conn, digest, now)
        last_seen = now
    return WebSession(
        account_id=int(row["account_id"]),
        email=str(row["email"]),
        key=digest,
        created_ms=int(row["created_ms"]),
        last_seen_ms=last_seen,
    )


async def sign_out(ctx: Context, token: str) -> None:
    """End the session of ``token`` (nothing happens for an unknown one)."""
    async with ctx.db.begin() as conn:
        await session_store.remove(conn, credentials.digest(token))


async def change_password(ctx: Context, session: WebSession, current: str, new: str) -> int:
    """Set a new password after checking the current one; the account's other sessions end.
    How many other sessions ended."""
    async with ctx.db.connect() as conn:
        account = await account_store.by_id(conn, session.account_id)
    if account is None or not await credentials.check_password(
        str(account["password_hash"]), current
    ):
        raise InvalidParameter("The current password is not right.", parameter="current")
    check_password_rules(new, "new")
    password_hash = await credentials.hash_password(new, ctx.settings.password_hash_cost)
    async with ctx.db.begin() as conn:
        await account_store.set_password_hash(conn, session.account_id, password_hash)
        return await session_store.remove_others(conn, session.account_id, session.key)
