"""What the dashboard's overview shows: phones online, traffic per day, the queue, failures."""

from __future__ import annotations

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


async def overview(ctx: Context, account_id: int, presence: Presence) -> Overview:
    """The account's overview, from a handful of indexed queries."""
    now = ctx.clock()
    days, starts = day_starts(now, ctx)
    end = timefmt.midnight_ms(days[-1] + timedelta(days=1), ctx.settings.zone)
    phones = await list_devices(ctx, account_id, DeviceQuery(), presence)
    async with ctx.db.connect() as conn:
        sent_failed = await overview_store.messages_per_day(conn, account_id, starts, end)
        received = await overview_store.received_per_day(conn, account_id, starts, end)
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
