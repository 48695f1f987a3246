"""What happens to the messages a device holds: handed over, kept alive, reported, put back.

A device holds a message from the moment the dispatcher claims it for that device until the
device reports it sent or failed. Every report is checked against that: a device can only settle
a message it holds, so a confused, stale or hostile device cannot mark another device's (or a
still queued) message as sent. Each move goes through the store's one transition function.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate import bus
from simgate.context import Context
from simgate.domain.outgoing import Outgoing
from simgate.domain.states import MessageState, retry_delay
from simgate.services import webhook_events
from simgate.services.devices import Device
from simgate.store import groupcommit
from simgate.store import messages as message_store

log = structlog.get_logger(__name__)

#: Longest device error text kept in the sent log.
MAX_ERROR_CHARS = 500


class Report(StrEnum):
    """What a device's sent/failed report did."""

    SENT = "sent"
    """The message is now sent."""
    RETRY = "retry"
    """An operator error: the message is queued again, after a backoff."""
    FAILED = "failed"
    """The message is now failed."""
    REPEATED = "repeated"
    """The same outcome was already stored (a report resent after a reconnect)."""
    NOT_HELD = "not_held"
    """The device does not hold this message: nothing changed."""


def lease_until(ctx: Context) -> int:
    """When a lease taken or renewed now runs out."""
    return ctx.clock() + ctx.settings.lease_seconds * 1000


async def held(ctx: Context, device: Device) -> list[Outgoing]:
    """What a (re)connecting device holds and has not reported, its leases renewed.

    The device de-duplicates by GUID, so handing these over again never texts anybody twice.
    """
    return await ctx.db.together(_renew_each, (device.id, ctx.clock(), lease_until(ctx)))


async def _renew(conn: AsyncConnection, job: tuple[int, int, int]) -> list[Outgoing]:
    device_id, now, until = job
    return await message_store.renew_held(conn, device_id, now_ms=now, lease_until_ms=until)


_renew_each = groupcommit.each(_renew)


async def extend_leases(ctx: Context, device: Device) -> int:
    """Keep a live device's messages leased to it while it works through them."""
    until = lease_until(ctx)
    async with ctx.db.begin() as conn:
        renewed = await message_store.extend_leases(conn, device.id, lease_until_ms=until)
    if renewed:
        ctx.bus.publish(bus.DEADLINE, str(until))
    return renewed


async def put_back(ctx: Context, device: Device, guids: Collection[str]) -> int:
    """Messages claimed for the device that never reached it go back to the queue at once.

    Waiting for their lease to run out would delay them by minutes for nothing: the device
    cannot be sending what it never received.
    """
    if not guids:
        return 0
    async with ctx.db.begin() as conn:
        count = await message_store.requeue_held(
            conn, device.account_id, device.id, guids, ctx.clock()
        )
    if count:
        ctx.bus.publish(bus.WORK, str(device.account_id))
    return count


@dataclass(frozen=True, slots=True)
class _SentReport:
    ctx: Context
    device: Device
    guid: str
    sim: int | None
    at_ms: int


async def report_sent(ctx: Context, device: Device, guid: str, sim: int | None) -> Report:
    """The device's radio sent ``guid``. Idempotent: a repeated report changes nothing.

    Reports from all devices are stored together, many per transaction: on a busy gateway
    one commit per report would be the limit on how fast the queue drains.
    """
    return await ctx.db.together(_store_sent, _SentReport(ctx, device, guid, sim, ctx.clock()))


async def _store_sent(conn: AsyncConnection, reports: Sequence[_SentReport]) -> list[Report]:
    moved = await message_store.mark_sent(
        conn,
        [(report.device.id, report.guid, report.sim) for report in reports],
        now_ms=max(report.at_ms for report in reports),
    )
    others = {report.guid for report in reports} - moved.keys()
    current = await message_store.holders(conn, others)
    outcomes: list[Report] = []
    for report in reports:
        row = moved.pop(report.guid, None)  # the same report twice in one batch: once is SENT
        if row is not None:
            await webhook_events.sent(report.ctx, conn, row)
            outcomes.append(Report.SENT)
            continue
        state, holder = current.get(report.guid, (None, None))
        if state == MessageState.SENT.value and holder == report.device.id:
            outcomes.append(Report.REPEATED)
        else:
            _not_held(report.device, report.guid, "sent", state)
            outcomes.append(Report.NOT_HELD)
    return outcomes


async def report_failed(
    ctx: Context, device: Device, guid: str, error: str, *, operator: bool
) -> Report:
    """The device could not send ``guid``.

    An operator error (network or SMSC refusal) is retried automatically with backoff, at most
    ``settings.retry_max`` times (after ``retry_base_seconds``, then four times that, ...), the
    retry preferring another device; anything else, or the last retry, leaves the message
    failed with the device's error text.
    """
    now = ctx.clock()
    error = error.strip()[:MAX_ERROR_CHARS] or "send failed"
    async with ctx.db.begin() as conn:
        current = await message_store.get(conn, device.account_id, guid)
        if (
            current is None
            or current["state"] != MessageState.DISPATCHED.value
            or current["device_id"] != device.id
        ):
            repeated = (
                current is not None
                and current["state"] == MessageState.FAILED.value
                and current["device_id"] == device.id
            )
            if not repeated:
                _not_held(device, guid, "failed", None if current is None else current["state"])
            return Report.REPEATED if repeated else Report.NOT_HELD
        retries = int(current["retries"])
        settings = ctx.settings
        retry = operator and retries < settings.retry_max
        if retry:
            to = MessageState.QUEUED
            values: dict[str, object] = {
                "retries": retries + 1,
                "not_before_ms": now
                + int(retry_delay(retries + 1, settings.retry_base_seconds) * 1000),
                "device_id": None,
            }
        else:
            to = MessageState.FAILED
            values = {"error_mobile": error, "device_sid": device.sid}
        row = await message_store.transition(
            conn,
            device.account_id,
            guid,
            to,
            only_from=(MessageState.DISPATCHED,),
            holder=device.id,
            values={**values, "lease_until_ms": None, "updated_ms": now},
        )
        if row is not None and not retry:
            await webhook_events.failed(ctx, conn, row)
    if row is None:  # settled meanwhile by another path (lease expiry, deletion)
        _not_held(device, guid, "failed", None)
        return Report.NOT_HELD
    if retry:
        ctx.bus.publish(bus.SCHEDULE, str(device.account_id))
        return Report.RETRY
    return Report.FAILED


async def report_delivered(ctx: Context, device: Device, guid: str, at_ms: int) -> bool:
    """The operator's delivery report for ``guid``: the recipient's phone got it at ``at_ms``.

    Only for a message this device holds or sent; a repeat or a stranger's report changes
    nothing (and is acked all the same, so the device drops it).
    """
    async with ctx.db.begin() as conn:
        stored = await message_store.mark_delivered(conn, device.account_id, device.id, guid, at_ms)
    if not stored:
        log.info("delivery_report_ignored", guid=guid, device_sid=device.sid)
    return stored


def _not_held(device: Device, guid: str, kind: str, state: str | None) -> None:
    log.warning(
        "device_report_ignored",
        reason="message not held by this device",
        report=kind,
        guid=guid,
        state=state,
        device_sid=device.sid,
        account_id=device.account_id,
    )
