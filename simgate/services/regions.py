"""Where an account's phone numbers written without ``+`` are read.

An account may have its own region (``simgate account region``); without one the server's
``SIMGATE_DEFAULT_REGION`` applies. API requests get it with their credential (see
:class:`simgate.services.access.Principal`), for free. Paths that start from a device or from
the shell ask :class:`AccountRegions`, which remembers each account's region until the account
changes (``ACCOUNT_CHANGED`` on the bus, which the credential watcher also publishes for
changes made by other processes), so a received SMS costs no extra query.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncConnection

from simgate import bus
from simgate.store import accounts as account_store

#: Past this many remembered accounts the cache starts over: memory stays bounded.
MAX_CACHED = 100_000


class AccountRegions:
    """The effective region of each account, cached per process."""

    def __init__(
        self,
        connect: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
        events: bus.Bus,
        default_region: str,
    ) -> None:
        self._connect = connect
        self.default = default_region.upper()
        self._known: dict[int, str] = {}
        # Bumped by every change: a region read while a change came in is used but not kept.
        self._generation = 0
        events.subscribe(bus.ACCOUNT_CHANGED, self._forget)

    def effective(self, own: str | None) -> str:
        """The account's own region when it has one, else the server's default."""
        return own or self.default

    async def of(self, account_id: int) -> str:
        """The region the account's numbers without ``+`` are read in."""
        known = self._known.get(account_id)
        if known is not None:
            return known
        generation = self._generation
        async with self._connect() as conn:
            own = await account_store.region(conn, account_id)
        region = self.effective(own)
        if generation == self._generation:
            if len(self._known) >= MAX_CACHED:
                self._known.clear()
            self._known[account_id] = region
        return region

    def _forget(self, account: str) -> None:
        self._generation += 1
        self._known.pop(int(account), None)
