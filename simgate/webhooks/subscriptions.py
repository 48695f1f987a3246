"""Which of an account's enabled endpoints want which events, cached in this process.

Every message accepted, sent, failed or received asks "does anybody want this event?". Asking
the database each time would add a query per message for the many accounts with no webhook,
so the answer is kept per account: dropped at once when this process changes the account's
endpoints (the bus's ``WEBHOOKS_CHANGED``), and after ``ttl`` seconds anyway, so that a change
made by another process (the CLI, another server) is seen within seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from simgate import bus
from simgate.domain.webhooks import EventType, Format

#: Seconds a cached answer is trusted without a notification from this process.
TTL_SECONDS: Final = 2.0


@dataclass(frozen=True)
class Subscription:
    """One enabled endpoint, as the hot path needs it."""

    endpoint_id: int
    format: Format
    events: frozenset[EventType]


class Subscriptions:
    """The per-account cache. A load that raced with a change is not kept (generations)."""

    def __init__(
        self,
        events: bus.Bus,
        *,
        ttl: float = TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._monotonic = monotonic
        self._entries: dict[int, tuple[float, tuple[Subscription, ...]]] = {}
        self._generation: dict[int, int] = {}
        events.subscribe(bus.WEBHOOKS_CHANGED, lambda payload: self.invalidate(int(payload)))

    def get(self, account_id: int) -> tuple[Subscription, ...] | None:
        """The cached endpoints of the account, or None when unknown or too old."""
        entry = self._entries.get(account_id)
        if entry is None or self._monotonic() >= entry[0]:
            return None
        return entry[1]

    def generation(self, account_id: int) -> int:
        """Read before loading, passed to :meth:`put`: a change in between voids the load."""
        return self._generation.get(account_id, 0)

    def put(self, account_id: int, generation: int, subs: tuple[Subscription, ...]) -> None:
        if self._generation.get(account_id, 0) == generation:
            self._entries[account_id] = (self._monotonic() + self._ttl, subs)

    def invalidate(self, account_id: int) -> None:
        self._generation[account_id] = self._generation.get(account_id, 0) + 1
        self._entries.pop(account_id, None)
