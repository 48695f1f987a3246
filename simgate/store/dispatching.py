"""The dispatcher's statements: the due messages of an account, who last talked to a number,
what a device was handed today, and the claim that hands messages to devices.

The hot ones are built once per dialect, with their lists in one bound value
(:mod:`simgate.store.listparams`), so SQLAlchemy keeps their cache keys; the claim moves rows
with :func:`simgate.store.messages.move`, like every other state change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.outgoing import Outgoing
from simgate.domain.routing import Candidate
from simgate.domain.states import MessageState
from simgate.store.listparams import DIALECTS, list_value, member_of
from simgate.store.messages import DISPATCHED, QUEUED, move, outgoing
from simgate.store.tables import inbox, messages


def _due(dialect: str, by_port: bool) -> Select[Any]:
    # A message for a SIM no connected device has would otherwise fill the rounds' reads and
    # hold up every message behind it (without ``by_port``, some device takes any SIM).
    port_filter = (
        [or_(messages.c.port.is_(None), member_of(messages.c.port, "b_ports", dialect, Integer))]
        if by_port
        else []
    )
    return (
        select(
            messages.c.id,
            messages.c.recipient,
            messages.c.channel,
            messages.c.requested_sid,
            messages.c.port,
            messages.c.retries,
            messages.c.device_sid,
        )
        .where(
            messages.c.account_id == bindparam("b_account"),
            messages.c.state == QUEUED,
            # "+ 0" keeps the planner off the not_before index: it then walks the account's
            # queue in id order (ix_messages_queue) and stops at the limit, instead of reading
            # and sorting the whole queue every round (SQLite has no statistics to know).
            messages.c.not_before_ms + 0 <= bindparam("b_now"),
            or_(
                messages.c.requested_sid.is_(None),
                member_of(messages.c.requested_sid, "b_sids", dialect),
            ),
            member_of(messages.c.channel, "b_channels", dialect),
            *port_filter,
        )
        .order_by(messages.c.id)
        .limit(bindparam("b_limit"))
        .with_for_update(skip_locked=True)
    )


# The dispatcher's statements, built once per dialect (they keep their cache keys).
_DUE = {
    (dialect, by_port): _due(dialect, by_port) for dialect in DIALECTS for by_port in (False, True)
}
_CLAIM_FOR_ONE = move(
    MessageState.DISPATCHED,
    messages.c.account_id == bindparam("b_account"),
    messages.c.id.in_(bindparam("b_ids", expanding=True)),
    values={
        "device_id": bindparam("b_device"),
        "device_sid": bindparam("b_sid"),
        "dispatched_ms": bindparam("b_now"),
        "lease_until_ms": bindparam("b_lease"),
        "updated_ms": bindparam("b_now"),
    },
).returning(messages)


async def due_candidates(
    conn: AsyncConnection,
    account_id: int,
    *,
    now_ms: int,
    sids: Collection[str],
    channels: Collection[str],
    ports: Collection[int] | None,
    limit: int,
) -> list[Candidate]:
    """The oldest due messages some connected device could take, for routing to plan over.

    Messages pinned to a device that is not connected, or for a SIM port outside ``ports``
    (None: some device takes any port), are left out, so they cannot hold the head of the
    queue. On PostgreSQL the rows are locked until the claim commits, and rows another process
    is claiming are skipped.
    """
    dialect = conn.dialect.name
    values: dict[str, Any] = {
        "b_account": account_id,
        "b_now": now_ms,
        "b_sids": list_value(sorted(sids), dialect),
        "b_channels": list_value(sorted(channels), dialect),
        "b_limit": limit,
    }
    if ports is not None:
        values["b_ports"] = list_value(sorted(ports), dialect)
    result = await conn.execute(_DUE[dialect, ports is not None], values)
    return [
        Candidate(
            id=int(row.id),
            recipient=str(row.recipient),
            channel=str(row.channel),
            requested_sid=row.requested_sid,
            port=None if row.port is None else int(row.port),
            retries=int(row.retries),
            last_sid=row.device_sid,
        )
        for row in result.all()
    ]


async def claim(
    conn: AsyncConnection,
    account_id: int,
    plan: Mapping[int, tuple[int, str]],
    *,
    now_ms: int,
    lease_until_ms: int,
) -> dict[int, list[Outgoing]]:
    """Move the planned messages (id → (device id, device SID)) that are still queued to
    dispatched for their device; what each device got, oldest first.

    One statement for the whole plan, however many devices it spans (run as one prepared
    statement over all rows), then one read of what the devices need to send.
    """
    if not plan:
        return {}
    devices = {device for device, _sid in plan.values()}
    if len(devices) == 1:
        # The usual round while traffic is light: one device, one statement with RETURNING.
        [(device_id, sid)] = set(plan.values())
        result = await conn.execute(
            _CLAIM_FOR_ONE,
            {
                "b_account": account_id,
                "b_ids": sorted(plan),
                "b_device": device_id,
                "b_sid": sid,
                "b_now": now_ms,
                "b_lease": lease_until_ms,
            },
        )
        rows = sorted(result.mappings().all(), key=lambda row: int(row["id"]))
        return {device_id: [outgoing(row) for row in rows]} if rows else {}
    await conn.execute(
        move(
            MessageState.DISPATCHED,
            messages.c.account_id == account_id,
            messages.c.id == bindparam("b_id"),
            values={
                "device_id": bindparam("b_device"),
                "device_sid": bindparam("b_sid"),
                "dispatched_ms": now_ms,
                "lease_until_ms": lease_until_ms,
                "updated_ms": now_ms,
            },
        ),
        [
            {"b_id": message_id, "b_device": device_id, "b_sid": sid}
            for message_id, (device_id, sid) in plan.items()
        ],
    )
    result = await conn.execute(
        select(messages)
        .where(messages.c.id.in_(sorted(plan)), messages.c.state == DISPATCHED)
        .order_by(messages.c.id)
    )
    claimed: dict[int, list[Outgoing]] = {}
    for row in result.mappings():
        device_id, _sid = plan[int(row["id"])]
        # A row moved by this very claim: held by the planned device since now.
        if row["device_id"] == device_id and row["dispatched_ms"] == now_ms:
            claimed.setdefault(device_id, []).append(outgoing(row))
    return claimed


async def homes(
    conn: AsyncConnection, account_id: int, recipients: Collection[str]
) -> dict[str, str]:
    """For each recipient, the SID of the device of the account's latest exchange with them.

    An exchange is a message handed to a device for them, or an SMS received from them.
    """
    if not recipients:
        return {}
    wanted = sorted(set(recipients))
    latest: dict[str, tuple[int, str]] = {}
    outgoing_rows = await conn.execute(
        select(messages.c.recipient, messages.c.device_sid, func.max(messages.c.dispatched_ms))
        .where(
            messages.c.account_id == account_id,
            messages.c.recipient.in_(wanted),
            messages.c.device_sid.is_not(None),
            messages.c.dispatched_ms.is_not(None),
        )
        .group_by(messages.c.recipient, messages.c.device_sid)
    )
    incoming_rows = await conn.execute(
        select(inbox.c.number, inbox.c.device_sid, func.max(inbox.c.received_ms))
        .where(inbox.c.account_id == account_id, inbox.c.number.in_(wanted))
        .group_by(inbox.c.number, inbox.c.device_sid)
    )
    for number, sid, at in [*outgoing_rows.all(), *incoming_rows.all()]:
        if at is not None and (number not in latest or int(at) > latest[number][0]):
            latest[str(number)] = (int(at), str(sid))
    return {number: sid for number, (_at, sid) in latest.items()}


async def dispatch_history(
    conn: AsyncConnection, device_id: int, since_ms: int
) -> tuple[int | None, int]:
    """When the device was last handed a message, and how many it was handed since ``since_ms``."""
    result = await conn.execute(
        select(
            func.max(messages.c.dispatched_ms),
            func.count().filter(messages.c.dispatched_ms >= since_ms),
        ).where(messages.c.device_id == device_id)
    )
    last, count = result.one()
    return (None if last is None else int(last)), int(count or 0)
