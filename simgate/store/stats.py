"""Counts for ``/metrics``, read at scrape time: each one bounded by an index on a state column
(only the live states of messages and webhook deliveries, never the ever-growing history)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store.tables import devices, messages, webhook_deliveries

#: The states of a message still waiting for a phone; sent, failed and the rest are history.
QUEUE_STATES = ("scheduled", "queued", "dispatched")
#: The states of a webhook delivery still to be made.
OUTBOX_STATES = ("pending", "delivering")


async def queue_depth(conn: AsyncConnection) -> dict[str, int]:
    """Messages in each waiting state, every state present (0 when none)."""
    result = await conn.execute(
        select(messages.c.state, func.count())
        .where(messages.c.state.in_(QUEUE_STATES))
        .group_by(messages.c.state)
    )
    found = {str(state): int(count) for state, count in result.all()}
    return {state: found.get(state, 0) for state in QUEUE_STATES}


async def devices_seen_since(conn: AsyncConnection, since_ms: int) -> tuple[int, int]:
    """Devices with a heartbeat at or after ``since_ms`` (online), and all devices."""
    result = await conn.execute(
        select(
            func.count().filter(devices.c.last_seen_ms >= since_ms),
            func.count(),
        ).select_from(devices)
    )
    online, total = result.one()
    return int(online or 0), int(total or 0)


async def webhook_backlog(conn: AsyncConnection) -> int:
    """Webhook deliveries not yet delivered nor given up."""
    result = await conn.execute(
        select(func.count())
        .select_from(webhook_deliveries)
        .where(webhook_deliveries.c.state.in_(OUTBOX_STATES))
    )
    return int(result.scalar_one())
