"""How fast one device may send: even spacing under its rate limits, and a daily cap.

Carriers flag bursts, so a limit of 6 per minute means one send every 10 s, never six at once
and then a pause: each limit becomes a minimum interval between two sends, and the device's
interval is the longest of them. The limits are the owner's (``simgate device add/update
--rate-per-minute/--rate-per-hour/--daily-cap``) where set, else what the device's agent reported
in its ``hello`` (Android lets one app send 30 SMS per 60 s). Pure: the dispatcher feeds it the
time and what the device sent, so tests drive it with a fake clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Limits:
    """A device's sending limits; None means no such limit."""

    per_minute: int | None = None
    per_hour: int | None = None
    daily_cap: int | None = None
    #: The agent's own limit from its hello: at most ``reported_count`` per ``reported_seconds``.
    reported_count: int | None = None
    reported_seconds: int | None = None

    @property
    def interval_ms(self) -> int:
        """The shortest time between two sends that keeps every rate limit, evenly spaced."""
        intervals = [0.0]
        if self.per_minute:
            intervals.append(MINUTE_MS / self.per_minute)
        if self.per_hour:
            intervals.append(HOUR_MS / self.per_hour)
        owner_set = self.per_minute is not None or self.per_hour is not None
        if not owner_set and self.reported_count and self.reported_seconds:
            intervals.append(self.reported_seconds * 1000 / self.reported_count)
        return math.ceil(max(intervals))

    @property
    def paced(self) -> bool:
        return self.interval_ms > 0 or self.daily_cap is not None


class Pacer:
    """The pace of one device: when it may send next, and how many it may take now."""

    def __init__(
        self,
        limits: Limits,
        *,
        day_start: Callable[[int], int],
        last_ms: int | None = None,
        sent_today: int = 0,
        today_ms: int | None = None,
    ) -> None:
        self.limits = limits
        self._day_start = day_start
        self._last_ms = last_ms
        self._sent_today = sent_today
        self._today_ms = today_ms

    def _roll(self, now_ms: int) -> None:
        """A new local day starts the daily count again."""
        today = self._day_start(now_ms)
        if self._today_ms is not None and today != self._today_ms:
            self._sent_today = 0
        self._today_ms = today

    def next_slot(self, now_ms: int) -> int:
        """The earliest moment (Unix ms, maybe in the past) the next send may go."""
        self._roll(now_ms)
        cap = self.limits.daily_cap
        if cap is not None and self._sent_today >= cap:
            return _next_day(self._day_start, now_ms)
        if self._last_ms is None:
            return now_ms
        return self._last_ms + self.limits.interval_ms

    def room(self, now_ms: int, window_room: int) -> int:
        """How many messages the device may be handed now, within its window's room."""
        if not self.limits.paced:
            return window_room
        if self.next_slot(now_ms) > now_ms:
            return 0
        if self.limits.interval_ms > 0:
            return min(window_room, 1)
        cap = self.limits.daily_cap
        left = window_room if cap is None else cap - self._sent_today
        return max(0, min(window_room, left))

    def record(self, now_ms: int, count: int) -> None:
        """``count`` messages were handed to the device at ``now_ms``."""
        self._roll(now_ms)
        self._last_ms = now_ms
        self._sent_today += count


def _next_day(day_start: Callable[[int], int], now_ms: int) -> int:
    """The start of the next local day: probe a day ahead, then step back over DST changes."""
    probe = day_start(now_ms) + 26 * HOUR_MS
    return day_start(probe)
