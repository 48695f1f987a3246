"""Token buckets: how many requests a key, or failed logins an address, may make.

Pure: the caller passes the time (monotonic seconds), so tests need no clock and the buckets
work the same in any process. Each process keeps its own buckets; with several processes behind
a load balancer a client gets up to that many times the rate, which is the usual trade for not
writing to a shared store on every request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Past this many tracked names the full buckets (no recent activity) are forgotten, and if
#: that is not enough (a flood of distinct names), all of them: memory stays bounded.
MAX_TRACKED = 100_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class Buckets:
    """One token bucket per name: ``capacity`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, capacity: float, *, max_tracked: int = MAX_TRACKED) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a bucket needs a positive rate and room for one token")
        self.rate = rate
        self.capacity = capacity
        self._max_tracked = max_tracked
        self._buckets: dict[str, Bucket] = {}

    def _refilled(self, name: str, now: float) -> Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= self._max_tracked:
                self._shrink(now)
            bucket = Bucket(tokens=self.capacity, updated=now)
            self._buckets[name] = bucket
            return bucket
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
        bucket.updated = now
        return bucket

    def take(self, name: str, now: float) -> float:
        """Take one token; 0.0 when granted, else the seconds until one is available."""
        bucket = self._refilled(name, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def wait(self, name: str, now: float) -> float:
        """Seconds until ``name`` has a token again (0.0: it has one), without taking it."""
        bucket = self._buckets.get(name)
        if bucket is None:
            return 0.0
        tokens = min(self.capacity, bucket.tokens + max(0.0, now - bucket.updated) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _shrink(self, now: float) -> None:
        full = [
            name
            for name, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.capacity
        ]
        for name in full:
            del self._buckets[name]
        if len(self._buckets) >= self._max_tracked:
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(seconds: float) -> int:
    """Whole seconds for a ``Retry-After`` header: rounded up, at least 1."""
    return max(1, math.ceil(seconds))
