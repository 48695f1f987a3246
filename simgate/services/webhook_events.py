"""Recording webhook events in the transaction of their cause: the outbox's write side.

Each cause (a message accepted, sent or failed, an SMS received, an SMS sent from the phone)
calls one function here with its open connection, so the event's deliveries commit with the
cause or not at all: a crash can neither lose an event nor invent one. An account with no
enabled endpoint wanting the event costs a dictionary look-up (the subscriptions are cached per
account, see simgate/webhooks/subscriptions.py): no query, no payload built.
Once the transaction commits, the delivery worker is woken through the bus.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate import bus, metrics
from simgate.context import Context
from simgate.domain.webhooks import DeliveryState, EventType, Format, message_events
from simgate.store import webhooks as webhook_store
from simgate.store.database import after_commit
from simgate.webhooks.payloads import rfc3339
from simgate.webhooks.subscriptions import Subscription

Data = Callable[[], dict[str, Any]]


async def subscribers(
    ctx: Context, conn: AsyncConnection, account_id: int
) -> tuple[Subscription, ...]:
    """The account's enabled endpoints, from the cache or else (once) from the store."""
    cached = ctx.subscriptions.get(account_id)
    if cached is not None:
        return cached
    generation = ctx.subscriptions.generation(account_id)
    rows = await webhook_store.subscriptions(conn, account_id)
    subs = tuple(
        Subscription(
            endpoint_id=int(row["id"]),
            format=Format(row["format"]),
            events=frozenset(EventType(name) for name in str(row["events"]).split(",") if name),
        )
        for row in rows
    )
    ctx.subscriptions.put(account_id, generation, subs)
    return subs


async def record(
    ctx: Context,
    conn: AsyncConnection,
    account_id: int,
    events: Iterable[tuple[EventType, str, int, Data]],
) -> int:
    """Enqueue each ``(type, subject, occurred_ms, data)`` for the endpoints that want it.

    ``data`` is only called when some endpoint wants the event. Returns the deliveries made.
    """
    subs = await subscribers(ctx, conn, account_id)
    if not subs:
        return 0
    now = ctx.clock()
    deadline = now + int(ctx.settings.webhook_retry_window_seconds * 1000)
    rows: list[dict[str, Any]] = []
    for event_type, subject, occurred_ms, data in events:
        wanting = [sub.endpoint_id for sub in subs if event_type in sub.events]
        if not wanting:
            continue
        common = {
            "account_id": account_id,
            "event_id": str(uuid.uuid4()),
            "type": event_type.value,
            "subject": subject[:64],
            "occurred_ms": occurred_ms,
            "created_ms": now,
            "data": orjson.dumps(data()).decode("utf-8"),
            "state": DeliveryState.PENDING.value,
            "attempts": 0,
            "next_attempt_ms": now,
            "deadline_ms": deadline,
        }
        rows.extend({**common, "endpoint_id": endpoint_id} for endpoint_id in wanting)
    if rows:
        await webhook_store.insert_deliveries(conn, rows)
        after_commit(conn, lambda: ctx.bus.publish(bus.WEBHOOK_WORK, str(account_id)))
    return len(rows)


async def record_test(ctx: Context, conn: AsyncConnection, endpoint: RowMapping, now: int) -> int:
    """A sample ``sms.received`` event for this one endpoint (``data.test`` is true)."""
    data = {
        "guid": "0" * 40,
        "from": "+10000000000",
        "message": "simgate test event",
        "received_at": rfc3339(now),
        "alias": None,
        "device_id": "test",
        "test": True,
    }
    delivery_id = await webhook_store.insert_delivery(
        conn,
        {
            "account_id": int(endpoint["account_id"]),
            "endpoint_id": int(endpoint["id"]),
            "event_id": str(uuid.uuid4()),
            "type": EventType.SMS_RECEIVED.value,
            "subject": f"test:{now}",
            "occurred_ms": now,
            "created_ms": now,
            "data": orjson.dumps(data).decode("utf-8"),
            "state": DeliveryState.PENDING.value,
            "attempts": 0,
            "next_attempt_ms": now,
            "deadline_ms": now + int(ctx.settings.webhook_retry_window_seconds * 1000),
        },
    )
    account = str(endpoint["account_id"])
    after_commit(conn, lambda: ctx.bus.publish(bus.WEBHOOK_WORK, account))
    return delivery_id


# --------------------------------------------------------------------------------- the causes


def _iso(ms: int | None) -> str | None:
    return None if ms is None else rfc3339(ms)


def _message_data(row: Mapping[str, Any] | RowMapping, **extra: Any) -> Data:
    def data() -> dict[str, Any]:
        return {
            "guid": row["guid"],
            "to": row["recipient"],
            "message": row["text"],
            "channel": row["channel"],
            "parts": int(row["parts"]),
            "encoding": row["encoding"],
            **extra,
        }

    return data


async def submitted(
    ctx: Context, conn: AsyncConnection, account_id: int, rows: Iterable[Mapping[str, Any]]
) -> int:
    """Messages accepted by the API (``*.submitted``); those refused at once also fail."""
    rows = list(rows)
    refused_now = sum(1 for row in rows if row["state"] == "failed")
    metrics.count_messages("accepted", len(rows) - refused_now)
    metrics.count_messages("failed", refused_now)
    if not await subscribers(ctx, conn, account_id):
        return 0
    events: list[tuple[EventType, str, int, Data]] = []
    for row in rows:
        accepted = _message_data(
            row,
            port=row["port"],
            sid=row["requested_sid"],
            schedule_at=_iso(row["schedule_ms"]),
            source=row["source"],
            submitted_at=_iso(int(row["created_ms"])),
        )
        events.extend(
            (kind, row["guid"], int(row["created_ms"]), accepted)
            for kind in message_events("submitted", row["channel"])
        )
        if row["state"] == "failed":
            refused = _message_data(
                row,
                error=row["error_api"],
                device_id=None,
                failed_at=_iso(int(row["created_ms"])),
                retries=0,
            )
            events.extend(
                (kind, row["guid"], int(row["created_ms"]), refused)
                for kind in message_events("failed", row["channel"])
            )
    return await record(ctx, conn, account_id, events)


async def sent(ctx: Context, conn: AsyncConnection, row: RowMapping) -> int:
    """A device reported the message sent (``sms.sent``, ``whatsapp.sent``)."""
    metrics.count_messages("sent")
    at = int(row["sent_ms"] or ctx.clock())
    data = _message_data(row, device_id=row["device_sid"], sim=row["sent_sim"], sent_at=rfc3339(at))
    kinds = message_events("sent", row["channel"])
    events = [(kind, str(row["guid"]), at, data) for kind in kinds]
    return await record(ctx, conn, int(row["account_id"]), events)


async def failed(ctx: Context, conn: AsyncConnection, row: RowMapping) -> int:
    """The message failed for good (``sms.failed``, ``whatsapp.failed``)."""
    metrics.count_messages("failed")
    at = int(row["updated_ms"])
    data = _message_data(
        row,
        error=row["error_mobile"] or row["error_api"],
        device_id=row["device_sid"],
        failed_at=rfc3339(at),
        retries=int(row["retries"]),
    )
    kinds = message_events("failed", row["channel"])
    events = [(kind, str(row["guid"]), at, data) for kind in kinds]
    return await record(ctx, conn, int(row["account_id"]), events)


async def received(ctx: Context, conn: AsyncConnection, row: RowMapping) -> int:
    """A device received an SMS (``sms.received``; legacy endpoints get it too)."""
    metrics.count_messages("received")

    def data() -> dict[str, Any]:
        return {
            "guid": row["guid"],
            "from": row["number"],
            "message": row["text"],
            "received_at": rfc3339(int(row["received_ms"])),
            "alias": row["alias"],
            "device_id": row["device_sid"],
        }

    event = (EventType.SMS_RECEIVED, str(row["guid"]), int(row["received_ms"]), data)
    return await record(ctx, conn, int(row["account_id"]), [event])


async def mobile_sent(ctx: Context, conn: AsyncConnection, row: RowMapping) -> int:
    """The phone's owner sent an SMS from the phone itself (``sms.mobile.sent``)."""

    def data() -> dict[str, Any]:
        return {
            "id": int(row["id"]),
            "to": row["number"],
            "message": row["text"],
            "sent_at": rfc3339(int(row["mobile_date_ms"])),
            "device_id": row["device_sid"],
        }

    subject = f"mobile:{row['id']}"
    event = (EventType.SMS_MOBILE_SENT, subject, int(row["mobile_date_ms"]), data)
    return await record(ctx, conn, int(row["account_id"]), [event])
