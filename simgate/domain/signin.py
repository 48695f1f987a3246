"""How hard sign-in gets after failures: first slower answers, then a pause with Retry-After.

Pure: the caller passes the time (monotonic seconds). Failures are counted per *name* (the
dashboard uses client address + e-mail), so guessing one account's password from one address
is throttled while the real owner, from another address, still signs in at full speed; and a
flood from one address against many e-mails is bounded by the API's per-address limit too.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

#: Failures older than this no longer count.
WINDOW_SECONDS = 15 * 60.0
#: Past this many tracked names, the oldest are forgotten: memory stays bounded.
MAX_TRACKED = 50_000


@dataclass(frozen=True)
class Verdict:
    """What to do with the next attempt of a name: wait ``delay`` seconds before checking the
    password, or refuse it outright for ``retry_after`` seconds (then ``delay`` is 0)."""

    delay: float
    retry_after: int

    @property
    def refused(self) -> bool:
        return self.retry_after > 0


class SignInThrottle:
    """Failed attempts per name within :data:`WINDOW_SECONDS`.

    ``free``: failures answered at full speed; past them each attempt waits ``delay`` seconds;
    at ``limit`` failures the next attempts are refused until the oldest failure ages out.
    """

    def __init__(self, *, free: int, limit: int, delay: float) -> None:
        if limit < 1 or free < 0 or delay < 0:
            raise ValueError("a sign-in throttle needs limit >= 1, free >= 0, delay >= 0")
        self.free = free
        self.limit = limit
        self.delay = delay
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, name: str, now: float) -> deque[float]:
        times = self._failures.get(name)
        if times is None:
            return deque()
        while times and now - times[0] >= WINDOW_SECONDS:
            times.popleft()
        if not times:
            del self._failures[name]
        return times

    def verdict(self, name: str, now: float) -> Verdict:
        times = self._recent(name, now)
        if len(times) >= self.limit:
            oldest_relevant = times[len(times) - self.limit]
            return Verdict(0.0, max(1, math.ceil(oldest_relevant + WINDOW_SECONDS - now)))
        if len(times) >= self.free:
            return Verdict(self.delay, 0)
        return Verdict(0.0, 0)

    def failed(self, name: str, now: float) -> None:
        times = self._recent(name, now)
        if not times:
            if len(self._failures) >= MAX_TRACKED:
                self._failures.clear()
            times = self._failures.setdefault(name, deque())
        times.append(now)
        while len(times) > self.limit:  # more than ``limit`` never changes a verdict
            times.popleft()

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)
