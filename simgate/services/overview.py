"""What the dashboard's overview shows: phones online, traffic per day, the queue, failures.

Counting a month of traffic reads one index range per day and state; on a busy account that is
most of the page's time. The days before today hardly change (a message created three days
ago that fails now is the exception), so :class:`History` keeps their counts for a minute per
account; today's counts are always read afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta

from simgate.context import Context
from simgate.domain import timefmt
from simgate.services.devices import DeviceQuery, Presence, list_devices
from simgate.services.messages import SentMessage, sent_message
from simgate.store import overview as overview_store

#: Days on the overview's chart, today included.
CHART_DAYS = 30
#: Failed messages listed on the overview.
LAST_FAILURES = 5
#: How long the counts of past days are reused (seconds).
HISTORY_SECONDS = 60.0
#: Accounts whose past days one process remembers; past it, it starts over (bounded memory).
MAX_REMEMBERED = 1000

Counts = tuple[dict[tuple[int, str], int], dict[int, int]]


class History:
    """The counts of the chart's days before today, per account, for ``ttl`` seconds."""

    def __init__(self, ttl: float = HISTORY_SECONDS) -> None:
        self._ttl = ttl
        self._kept: dict[tuple[int, int], tuple[float, Counts]] = {}

    def get(self, account_id: int, first_ms: int) -> Counts | None:
        kept = self._kept.get((account_id, first_ms))
        if kept is None or time.monotonic() - kept[0] > self._ttl:
            return None
        return kept[1]

    def put(self, account_id: int, first_ms: int, counts: Counts) -> None:
        if len(self._kept) >= MAX_REMEMBERED:
            self._kept.clear()
        self._kept[(account_id, first_ms)] = (time.monotonic(), counts)


@dataclass(frozen=True)
class DayCount:
    """Messages created on ``day`` that are now sent or failed, and SMS received that day."""

    day: date
    sent: int
    failed: int
    received: int


@dataclass(frozen=True)
class Overview:
    phones_online: int
    phones_paired: int
    #: The last :data:`CHART_DAYS` days, oldest first; the last one is today.
    days: list[DayCount]
    #: Messages waiting, by state: scheduled, queued, dispatched.
    queue: dict[str, int]
    last_failures: list[SentMessage]

    @property
    def today(self) -> DayCount:
        return self.days[-1]

    @property
    def queue_depth(self) -> int:
        return sum(self.queue.values())


def day_starts(now_ms: int, ctx: Context, count: int = CHART_DAYS) -> tuple[list[date], list[int]]:
    """The last ``count`` days (oldest first) and the epoch ms of each one's midnight in the
    server's zone."""
    zone = ctx.settings.zone
    today = timefmt.local(now_ms, zone).date()
    days = [today - timedelta(days=back) for back in range(count - 1, -1, -1)]
    return days, [timefmt.midnight_ms(day, zone) for day in days]


async def overview(
    ctx: Context, account_id: int, presence: Presence, history: History | None = None
) -> Overview:
    """The account's overview, from a handful of indexed queries; with ``history``, the days
    before today may come from there (at most its ``ttl`` old)."""
    now = ctx.clock()
    days, starts = day_starts(now, ctx)
    end = timefmt.midnight_ms(days[-1] + timedelta(days=1), ctx.settings.zone)
    phones = await list_devices(ctx, account_id, DeviceQuery(), presence, traffic=False)
    bounds = [*starts, end]
    today = len(days) - 1
    async with ctx.db.connect() as conn:
        past = None if history is None else history.get(account_id, bounds[0])
        if past is None:
            past = (
                await overview_store.messages_per_day(conn, account_id, bounds[:-1]),
                await overview_store.received_per_day(conn, account_id, bounds[:-1]),
            )
            if history is not None:
                history.put(account_id, bounds[0], past)
        now_sent = await overview_store.messages_per_day(conn, account_id, bounds[-2:])
        now_received = await overview_store.received_per_day(conn, account_id, bounds[-2:])
        sent_failed = {**past[0], **{(today, state): n for (_, state), n in now_sent.items()}}
        received = {**past[1], today: now_received.get(0, 0)}
        queue = await overview_store.waiting(conn, account_id)
        failures = await overview_store.last_failures(conn, account_id, LAST_FAILURES)
    return Overview(
        phones_online=phones.online,
        phones_paired=phones.paired,
        days=[
            DayCount(
                day=day,
                sent=sent_failed.get((index, "sent"), 0),
                failed=sent_failed.get((index, "failed"), 0),
                received=received.get(index, 0),
            )
            for index, day in enumerate(days)
        ],
        queue=queue,
        last_failures=[sent_message(row) for row in failures],
    )
