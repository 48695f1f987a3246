"""Checking the credential of a request: an API key or an OAuth2 access token.

Every request of the compatible API and of SOAP comes through :class:`Authenticator`, so it is
built to cost almost nothing per request:

- A credential checked against the store is remembered for ``auth_cache_seconds`` (a few
  seconds), by its SHA-256 digest only. Revoking a key or an OAuth client publishes
  ``CREDENTIALS_REVOKED`` on the bus and this process forgets the account's entries at once.
  A revocation by another process (``simgate key revoke`` from the shell, another server) is
  seen by a watcher that reads one small summary of the credential tables every
  ``REVOCATION_POLL_SECONDS`` and drops the whole cache when it changed: a fraction of a second,
  for one query per interval instead of one per request. Expiry is checked on every request
  against the remembered expiry time, so an expired key is refused the moment it expires,
  cached or not. Refused credentials are never remembered.
- A principal carries its account's region (read with the credential, in the same query), so
  reading a number costs nothing more. Changing an account's settings publishes
  ``ACCOUNT_CHANGED`` and this process forgets the account's entries; a change made by another
  process moves ``accounts.changed_ms``, part of the summary the watcher reads: it drops the
  cache and publishes ``ACCOUNT_CHANGED`` here for each account changed, so every other
  per-process cache of account settings (regions, routing policy) follows too.
- "Last used" times are noted in memory and written in one batch statement at most every
  ``last_used_flush_seconds``, instead of one write per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import structlog

from simgate import bus
from simgate.context import Context
from simgate.domain.errors import ApiExpired, InvalidApiKey
from simgate.services import credentials
from simgate.store import accounts as account_store
from simgate.store import keys as key_store
from simgate.store import oauth as oauth_store

log = structlog.get_logger(__name__)

#: Past this many remembered credentials the cache starts over: memory stays bounded.
MAX_CACHED = 10_000
#: How often the credential tables are checked for changes made by other processes (seconds).
REVOCATION_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Principal:
    """Who a valid credential speaks for."""

    account_id: int
    #: What the per-credential rate limit counts: ``key:<id>`` or ``oauth:<client row id>``
    #: (all tokens of one OAuth client share its limit, so minting tokens does not raise it).
    credential: str
    expires_ms: int | None
    #: Where the account's numbers without + are read: its own region, else the server's.
    region: str


@dataclass(frozen=True)
class _Cached:
    principal: Principal
    checked_at: float


class Authenticator:
    """Checks credentials for one process, with its cache and its batch of "last used" times."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._ttl = ctx.settings.auth_cache_seconds
        self._cache: dict[str, _Cached] = {}
        self._keys_used: dict[int, int] = {}
        self._clients_used: dict[int, int] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._mark: tuple[object, ...] | None = None
        self._unsubscribers = [
            ctx.bus.subscribe(bus.CREDENTIALS_REVOKED, self._forget_account),
            ctx.bus.subscribe(bus.ACCOUNT_CHANGED, self._forget_account),
        ]

    def start(self) -> None:
        """Start writing "last used" times in the background (call on the server's loop)."""
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_forever(), name="last-used-flusher")
        # Also without a cache: the watcher tells this process about other processes' account
        # changes.
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_forever(), name="revocation-watcher")

    async def close(self) -> None:
        """Stop the background writer and write what is still pending."""
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self.flush()

    async def authenticate(self, secret: str) -> Principal:
        """The principal of ``secret``, or ``InvalidApiKey`` / ``ApiExpired``."""
        candidate = credentials.digest(secret.strip())
        cached = self._cache.get(candidate)
        if cached is not None and time.monotonic() - cached.checked_at < self._ttl:
            principal = cached.principal
        else:
            principal = await self._look_up(secret.strip(), candidate)
            if self._ttl > 0:
                if len(self._cache) >= MAX_CACHED:
                    self._cache.clear()
                self._cache[candidate] = _Cached(principal, time.monotonic())
        now = self._ctx.clock()
        if principal.expires_ms is not None and principal.expires_ms <= now:
            self._cache.pop(candidate, None)
            raise ApiExpired(
                "The access token has expired."
                if principal.credential.startswith("oauth:")
                else "The API key has expired."
            )
        kind, _, ident = principal.credential.partition(":")
        (self._keys_used if kind == "key" else self._clients_used)[int(ident)] = now
        return principal

    async def _look_up(self, secret: str, candidate: str) -> Principal:
        if secret.startswith(credentials.ACCESS_TOKEN_PREFIX):
            async with self._ctx.db.connect() as conn:
                token = await oauth_store.token_by_digest(conn, candidate)
            if token is None or not credentials.same_digest(str(token["digest"]), candidate):
                raise InvalidApiKey("The access token is not valid.")
            if token["revoked_ms"] is not None:
                raise InvalidApiKey("The access token's client has been revoked.")
            return Principal(
                account_id=int(token["account_id"]),
                credential=f"oauth:{token['client_ref']}",
                expires_ms=int(token["expires_ms"]),
                region=self._ctx.regions.effective(token["region"]),
            )
        async with self._ctx.db.connect() as conn:
            row = await key_store.key_by_digest(conn, candidate)
        if row is None or not credentials.same_digest(str(row["digest"]), candidate):
            raise InvalidApiKey("The API key is not valid.")
        if row["revoked_ms"] is not None:
            raise InvalidApiKey("The API key has been revoked.")
        expires = row["expires_ms"]
        return Principal(
            account_id=int(row["account_id"]),
            credential=f"key:{row['id']}",
            expires_ms=None if expires is None else int(expires),
            region=self._ctx.regions.effective(row["region"]),
        )

    def _forget_account(self, payload: str) -> None:
        account_id = int(payload)
        for digest in [d for d, c in self._cache.items() if c.principal.account_id == account_id]:
            del self._cache[digest]

    async def flush(self) -> None:
        """Write the pending "last used" times in one transaction."""
        keys_used, self._keys_used = self._keys_used, {}
        clients_used, self._clients_used = self._clients_used, {}
        if not keys_used and not clients_used:
            return
        async with self._ctx.db.begin() as conn:
            await key_store.touch_keys(conn, keys_used)
            await oauth_store.touch_clients(conn, clients_used)

    async def check_revocations(self) -> bool:
        """Drop the cache if keys, clients or account settings changed since the last look
        (whether it did); announce the accounts whose settings changed on this process's bus."""
        async with self._ctx.db.connect() as conn:
            mark = await key_store.credentials_mark(conn)
            previous = self._mark
            accounts_changed = (
                await account_store.changed_since(conn, _changed_ms(previous))
                if previous is not None and mark[-1] != previous[-1]
                else []
            )
        changed = previous is not None and mark != previous
        self._mark = mark
        if changed:
            self._cache.clear()
        for account_id in accounts_changed:
            self._ctx.bus.publish(bus.ACCOUNT_CHANGED, str(account_id))
        return changed

    async def _watch_forever(self) -> None:
        while True:
            try:
                await self.check_revocations()
            except Exception:  # the next look retries; meanwhile entries still age out
                log.exception("revocation_check_failed")
            await asyncio.sleep(REVOCATION_POLL_SECONDS)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ctx.settings.last_used_flush_seconds)
            try:
                await self.flush()
            except Exception:  # a database hiccup must not end the writer; next round retries
                log.exception("last_used_flush_failed")


def _changed_ms(mark: tuple[object, ...]) -> int | None:
    """The latest ``accounts.changed_ms`` in a mark (None: no account was ever changed).

    Accounts changed *at or after* it are announced: one changed in the same millisecond as
    the last one seen is not missed (announcing one twice costs a cache miss)."""
    value = mark[-1]
    return None if value is None else int(str(value))
